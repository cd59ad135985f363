#!/usr/bin/env python3
"""Writes a synthetic image-folder dataset of photo-like JPEGs, for benchmarking the
image-folder data pipeline (decode, random-resized crop, resize, normalize) against
torchvision on the same files:

    DIR/train/<class>/*.jpg
    DIR/val/<class>/*.jpg

Each image is about 500x375 (one of 500x375, 375x500, 500x333, 640x480), JPEG quality 90,
made of smooth colour gradients, a few filled shapes, multi-scale texture and per-pixel
noise, so that its compressed size and decode cost resemble a real photo's rather than a
flat colour's.
The content carries no class signal: the files are for timing, not for training.

    python3 Tools/make_photo_folder.py --out /tmp/photos --classes 10 \\
        --train-per-class 100 --val-per-class 20 --seed 0
"""
import argparse
import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZES = [(500, 375), (375, 500), (500, 333), (640, 480)]  # (width, height)


def photo(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    # Background: a linear gradient between two random colours in a random direction.
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / (t.max() - t.min())
    a, b = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    pixels = a + t[..., None] * (b - a)

    # A few soft blobs of colour on top, like out-of-focus objects.
    for _ in range(rng.integers(2, 5)):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.1, 0.4) * min(width, height)
        weight = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2))[..., None]
        pixels = pixels * (1 - 0.6 * weight) + 0.6 * weight * rng.uniform(0, 255, size=3)

    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))

    # A few hard-edged shapes, slightly blurred, to give the image edges.
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(3, 7)):
        x0, x1 = sorted(rng.uniform(0, width, size=2))
        y0, y1 = sorted(rng.uniform(0, height, size=2))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=1.0))

    # Texture at several scales (small random grids upscaled bicubically), like foliage or
    # fabric, then sensor-like per-pixel noise, so the JPEG has detail to encode.
    pixels = np.asarray(image, dtype=np.float32)
    for cell, amplitude in [(32, 12.0), (8, 8.0), (2, 5.0)]:
        grid = rng.normal(0, 1, size=(height // cell + 1, width // cell + 1)).astype(np.float32)
        layer = Image.fromarray(grid, mode="F").resize((width, height), Image.BICUBIC)
        pixels += amplitude * np.asarray(layer)[..., None]
    pixels += rng.normal(0, 4, size=(height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--val-per-class", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    total_bytes, count = 0, 0
    for split, per_class in [("train", args.train_per_class), ("val", args.val_per_class)]:
        for c in range(args.classes):
            folder = args.out / split / f"class_{c:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                width, height = SIZES[rng.integers(len(SIZES))]
                path = folder / f"{i:05d}.jpg"
                photo(rng, width, height).save(path, "JPEG", quality=90)
                total_bytes += path.stat().st_size
                count += 1
    print(f"wrote {count} images to {args.out} ({total_bytes / max(count, 1) / 1024:.1f} KiB mean)")


if __name__ == "__main__":
    main()
