#!/usr/bin/env python3
"""Writes the image-pipeline fixture of Tests/ViTDataTests/Fixtures/images: a few small image
files of every colour type the decoder handles, what Pillow decodes them to, and the tensors
torchvision's train and eval transforms make of them for given crop parameters.

ImagePipelineParityTests decodes and transforms the same files with the Swift pipeline and
compares. Run it with a Python that has torch, torchvision, Pillow and numpy:

    python3 Tools/make_image_fixture.py Tests/ViTDataTests/Fixtures/images
"""
import json
import math
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

SIZE = 24
CROP_PCT = 0.875
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
GRAY_MEAN, GRAY_STD = (sum(MEAN) / 3,), (sum(STD) / 3,)
MODES = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}


def photo(width, height, seed):
    """Smooth gradients, a disc and noise: JPEG compresses it as it does a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 11.0)
    green = 255 * x / width
    blue = 255 * y / height
    disc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (min(width, height) * 0.25) ** 2
    red[disc], green[disc] = 240, 40
    image = np.stack([red, green, blue], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def write_images(folder):
    """The fixture's files, by name."""
    rgb = photo(97, 73, 1)
    Image.fromarray(rgb).save(os.path.join(folder, "photo.jpg"), quality=90)
    Image.fromarray(photo(64, 80, 2)).convert("L").save(os.path.join(folder, "gray.jpg"), quality=90)
    Image.fromarray(photo(50, 40, 3)).convert("CMYK").save(os.path.join(folder, "cmyk.jpg"), quality=95)
    palette = Image.fromarray(photo(45, 60, 4)).quantize(colors=37)
    palette.info["transparency"] = 3
    palette.save(os.path.join(folder, "palette.png"), transparency=3)
    rgba = np.concatenate([photo(70, 50, 5), np.full((50, 70, 1), 90, np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(os.path.join(folder, "rgba.png"))
    wide = (np.arange(33 * 41, dtype=np.uint16).reshape(41, 33) * 7) % 700
    Image.fromarray(wide.astype(np.uint16)).save(os.path.join(folder, "gray16.png"))
    gray_alpha = np.stack([photo(40, 40, 6)[:, :, 0], np.full((40, 40), 200, np.uint8)], axis=-1)
    Image.fromarray(gray_alpha, "LA").save(os.path.join(folder, "gray_alpha.png"))
    return ["photo.jpg", "gray.jpg", "cmyk.jpg", "palette.png", "rgba.png", "gray16.png", "gray_alpha.png"]


def to_tensor(image, channels):
    mean, std = (MEAN, STD) if channels == 3 else (GRAY_MEAN, GRAY_STD)
    return transforms.Normalize(mean, std)(F.to_tensor(image))


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    cases = []
    names = write_images(folder)
    decoded = {}
    for name in names:
        with Image.open(os.path.join(folder, name)) as opened:
            decoded[name] = opened.convert("RGB")
        with open(os.path.join(folder, name + ".rgb"), "wb") as file:
            file.write(decoded[name].tobytes())

    def add(name, channels, mode, crop, flip):
        image = decoded[name] if channels == 3 else Image.open(os.path.join(folder, name)).convert("L")
        if crop is None:
            pipeline = transforms.Compose([transforms.Resize(math.floor(SIZE / CROP_PCT), MODES[mode]), transforms.CenterCrop(SIZE)])
            result = pipeline(image)
        else:
            top, left, height, width = crop
            result = F.resized_crop(image, top, left, height, width, [SIZE, SIZE], MODES[mode])
            if flip:
                result = F.hflip(result)
        tensor = to_tensor(result, channels)
        output = f"case{len(cases)}.f32"
        tensor.numpy().astype("<f4").tofile(os.path.join(folder, output))
        cases.append({"image": name, "channels": channels, "interpolation": mode, "crop": crop, "flip": flip, "tensor": output})

    add("photo.jpg", 3, "bicubic", [5, 7, 50, 60], True)
    add("photo.jpg", 3, "bilinear", [5, 7, 50, 60], False)
    add("photo.jpg", 3, "bicubic", [30, 40, 10, 12], False)  # a crop smaller than the output: upsampling
    add("photo.jpg", 3, "bicubic", None, False)
    add("photo.jpg", 3, "bilinear", None, False)
    add("photo.jpg", 1, "bicubic", None, False)
    for name in names[1:]:
        add(name, 3, "bicubic", [2, 3, 30, 25], False)
        add(name, 3, "bicubic", None, False)
    manifest = {"size": SIZE, "crop_pct": CROP_PCT, "mean": MEAN, "std": STD, "gray_mean": GRAY_MEAN, "gray_std": GRAY_STD,
                "images": names, "cases": cases, "made_with": f"torch {torch.__version__}, Pillow {Image.__version__}"}
    with open(os.path.join(folder, "manifest.json"), "w") as file:
        json.dump(manifest, file, indent=1)
    print(f"wrote {len(names)} images and {len(cases)} cases to {folder}")


if __name__ == "__main__":
    main()
