#!/usr/bin/env python3
"""PyTorch + timm reference figures on this machine, for BENCHMARKS.md:

- training throughput of the seed ViT (3x32x32, patch 4, width 48, depth 4, 4 heads,
  MLP 192, batch 256; AdamW, label smoothing, clipping), as `vit-bench training` runs it;
- scaled_dot_product_attention forward and forward+backward (B 8, H 8, D 32) at several N.

    pip install torch timm
    python3 Tools/pytorch_reference.py [--threads 2]
    python3 Tools/pytorch_reference.py --device cuda --attention-only --head-size 64 --tokens 65,257,1025

On a GPU the attention is float32 without TF32 (the precision of the OpenCL kernels), after
a warm-up call, timed between synchronisations.
"""
import argparse
import time

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer


def training(batch: int = 256, steps: int = 10) -> None:
    model = VisionTransformer(img_size=32, patch_size=4, in_chans=3, num_classes=10, embed_dim=48, depth=4, num_heads=4,
                              mlp_ratio=4, qkv_bias=True)
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    images = torch.randn(batch, 3, 32, 32)
    labels = torch.arange(batch) % 10
    durations = []
    for step in range(steps + 2):
        start = time.perf_counter()
        loss = F.cross_entropy(model(images), labels, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step >= 2:
            durations.append(time.perf_counter() - start)
    mean = sum(durations) / len(durations)
    print(f"timm ViT ({parameters} parameters) training, batch {batch}: {mean * 1e3:.1f} ms/step, {batch / mean:.0f} img/s")


def attention(batch: int = 8, heads: int = 8, dim: int = 32, tokens_list=(65, 257, 1025, 2049, 4097), device: str = "cpu") -> None:
    synchronize = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for tokens in tokens_list:
        q, k, v = (torch.randn(batch, heads, tokens, dim, device=device, requires_grad=True) for _ in range(3))
        flops = 4 * batch * heads * tokens * tokens * dim
        for label, backward in [("forward", False), ("forward+backward", True)]:
            def step() -> None:
                out = F.scaled_dot_product_attention(q, k, v)
                if backward:
                    out.sum().backward()
            step()
            synchronize()
            repeats = max(3, int((2e11 if device != "cpu" else 2e9) / flops))
            start = time.perf_counter()
            for _ in range(repeats):
                step()
            synchronize()
            seconds = (time.perf_counter() - start) / repeats
            work = flops * (3.5 if backward else 1)
            print(f"sdpa {device} B={batch} H={heads} D={dim} N={tokens:5d} {label:17s} {seconds * 1e3:9.3f} ms  {work / seconds * 1e-9:8.1f} GFLOP/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--attention-only", action="store_true", help="skip the training figure")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-size", type=int, default=32)
    parser.add_argument("--tokens", default="65,257,1025,2049,4097", help="comma-separated sequence lengths")
    arguments = parser.parse_args()
    tokens_list = [int(value) for value in arguments.tokens.split(",")]
    for name, value in [("--threads", arguments.threads), ("--batch", arguments.batch), ("--heads", arguments.heads),
                        ("--head-size", arguments.head_size)] + [("--tokens", value) for value in tokens_list]:
        if value < 1:
            parser.error(f"{name} must be at least 1, got {value}")
    if arguments.device.startswith("cuda"):
        if not torch.cuda.is_available():
            parser.error(f"--device {arguments.device}: this PyTorch sees no CUDA device")
        # float32 as the OpenCL kernels compute it: no TF32 in the products.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name(arguments.device)}")
    else:
        torch.set_num_threads(arguments.threads)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not arguments.attention_only:
        training()
    attention(arguments.batch, arguments.heads, arguments.head_size, tokens_list, arguments.device)
