#!/usr/bin/env python3
"""Loads a checkpoint written by `vit train` into timm's VisionTransformer with
strict=True and prints its predictions on fixed inputs, so they can be compared with the
Swift model's (the test ModelParityTests does the comparison through the fixture; this
script is for checkpoints of real runs).

    python3 Tools/check_timm_checkpoint.py outputs/vit/model_final.safetensors
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from timm.models.vision_transformer import VisionTransformer


def main(path: str) -> None:
    with safe_open(path, "pt") as handle:
        config = json.loads(handle.metadata()["config"])
    model = VisionTransformer(
        img_size=config["image_size"], patch_size=config["patch_size"], in_chans=config["num_channels"],
        num_classes=config["num_classes"], embed_dim=config["hidden_size"], depth=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"], mlp_ratio=config["intermediate_size"] / config["hidden_size"],
        qkv_bias=config["qkv_bias"], global_pool=config.get("global_pool", "token"),
    )
    model.load_state_dict(load_file(path), strict=True)
    model.eval()
    torch.manual_seed(0)
    images = torch.randn(4, config["num_channels"], config["image_size"], config["image_size"])
    with torch.no_grad():
        logits = model(images)
    print("loaded with strict=True; logits of 4 fixed random images:")
    print(logits)


if __name__ == "__main__":
    main(sys.argv[1])
