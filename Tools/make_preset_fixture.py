#!/usr/bin/env python3
"""Writes Tests/ViTNNTests/Fixtures/timm_presets.json: for every timm model name `vit train
--model` knows, the names and shapes of timm.create_model(NAME, num_classes=5)'s state dict
(what a strict load checks), and the logits of the same architecture cut to one block for
weights and an input that both sides compute from a formula, so the fixture stays small:

    weight k (state-dict names sorted), element i:  0.02 * sin(0.37 * i + 1.3 * k)
    input element i:                                 sin(0.11 * i)

ModelPresetTests builds each preset with the same weights and compares. Run it with a
Python that has torch and timm:

    python3 Tools/make_preset_fixture.py
"""
import json
import math
import pathlib

import timm
import torch

NAMES = ["vit_tiny_patch16_224", "vit_tiny_patch16_384", "vit_small_patch16_224", "vit_small_patch16_384",
         "vit_base_patch16_224", "vit_base_patch16_384", "deit_tiny_patch16_224", "deit_small_patch16_224",
         "deit_base_patch16_224"]
CLASSES = 5


def formula(count, scale, step, offset):
    return torch.tensor([scale * math.sin(step * i + offset) for i in range(count)], dtype=torch.float32)


def main():
    fixture = {}
    for name in NAMES:
        full = timm.create_model(name, pretrained=False, num_classes=CLASSES)
        shapes = {key: list(value.shape) for key, value in full.state_dict().items()}
        model = timm.create_model(name, pretrained=False, num_classes=CLASSES, depth=1).eval()
        state = model.state_dict()
        with torch.no_grad():
            for index, key in enumerate(sorted(state)):
                state[key].copy_(formula(state[key].numel(), 0.02, 0.37, 1.3 * index).reshape(state[key].shape))
            size = model.patch_embed.img_size[0]
            images = formula(2 * 3 * size * size, 1.0, 0.11, 0.0).reshape(2, 3, size, size)
            logits = model(images)
        fixture[name] = {"state_dict": shapes, "logits_depth_1": logits.flatten().tolist()}
    path = pathlib.Path(__file__).resolve().parent.parent / "Tests/ViTNNTests/Fixtures/timm_presets.json"
    path.write_text(json.dumps({"made_with": f"timm {timm.__version__}, torch {torch.__version__}", "classes": CLASSES,
                                "presets": fixture}, indent=0))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
