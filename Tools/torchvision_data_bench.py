#!/usr/bin/env python3
"""Measures torchvision's image-folder data pipeline in images per second, as the
reference for the project's own loader on the same files (see Tools/make_photo_folder.py):

    train: ImageFolder + RandomResizedCrop(224, scale=(0.08, 1), ratio=(3/4, 4/3), bicubic)
           + RandomHorizontalFlip + ToTensor + Normalize(ImageNet mean/std), one shuffled
           epoch over DIR/train
    eval:  ImageFolder + Resize(256, bicubic) + CenterCrop(224) + ToTensor + Normalize,
           one pass over DIR/val

Both go through torch DataLoader with num_workers=--workers, each worker limited to one
thread, and batches of --batch-size. Every file is read once before timing, so both
passes are measured from the page cache. The time runs from creating the DataLoader's
iterator (worker start-up included) to the last batch.

    pip install torch torchvision pillow numpy
    python3 Tools/make_photo_folder.py --out /tmp/photos
    python3 Tools/torchvision_data_bench.py --data-dir /tmp/photos --workers 2
"""
import argparse
import pathlib
import time

import torch
import torchvision
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def one_thread(_worker_id: int) -> None:
    # Each worker process decodes and transforms with a single thread, as the
    # project's loader does per worker.
    torch.set_num_threads(1)


def train_transform(size: int) -> transforms.Compose:
    return transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                                     interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def eval_transform(size: int) -> transforms.Compose:
    # 256 for 224, the usual crop ratio of 0.875.
    resize = round(size / 0.875)
    return transforms.Compose([
        transforms.Resize(resize, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def load_split(root: pathlib.Path, transform, limit: int | None, seed: int):
    dataset = datasets.ImageFolder(str(root), transform=transform)
    # Read every file once so the timed pass does not measure the disk.
    for path, _ in dataset.samples:
        pathlib.Path(path).read_bytes()
    if limit is not None and limit < len(dataset):
        # ImageFolder lists files class by class, so take a random subset, not the first N.
        generator = torch.Generator().manual_seed(seed)
        indices = torch.randperm(len(dataset), generator=generator)[:limit].tolist()
        dataset = Subset(dataset, indices)
    return dataset


def measure(name: str, dataset, shuffle: bool, args) -> None:
    loader = DataLoader(
        dataset, batch_size=args.batch_size, shuffle=shuffle, num_workers=args.workers,
        worker_init_fn=one_thread if args.workers > 0 else None,
        generator=torch.Generator().manual_seed(args.seed),
    )
    images = 0
    start = time.perf_counter()
    for batch, _labels in loader:
        images += batch.shape[0]
    seconds = time.perf_counter() - start
    rate = images / seconds
    per_worker = rate / max(args.workers, 1)
    print(f"{name}: {images} images in {seconds:.2f} s, {rate:.1f} img/s total, "
          f"{per_worker:.1f} img/s per worker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=pathlib.Path)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=1, help="DataLoader num_workers (0: main process)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="at most this many images per split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # The main process only collects batches; keep it to one thread as well.
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"workers {args.workers}, batch {args.batch_size}, image size {args.image_size}")

    train = load_split(args.data_dir / "train", train_transform(args.image_size), args.limit, args.seed)
    measure("train", train, shuffle=True, args=args)
    val = load_split(args.data_dir / "val", eval_transform(args.image_size), args.limit, args.seed)
    measure("eval", val, shuffle=False, args=args)


if __name__ == "__main__":
    main()
