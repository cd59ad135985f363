#!/usr/bin/env python3
"""Dumps a tiny timm VisionTransformer's weights, an input batch, its logits, its loss and
every parameter gradient into Tests/ViTNNTests/Fixtures/timm_vit_parity.safetensors, and
the same for the model with global_pool='avg' into timm_vit_parity_avg.safetensors.

The Swift test ModelParityTests loads the file, runs the same model on each backend and
compares. Run again after changing the fixture's model:

    pip install torch timm safetensors
    python3 Tools/make_parity_fixture.py
"""
import json
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer

CONFIG = {
    "patch_size": 4, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 32, "image_size": 12, "num_classes": 5, "num_channels": 3, "qkv_bias": True,
}
LABEL_SMOOTHING = 0.1


def write_fixture(c: dict, name: str) -> None:
    torch.manual_seed(0)
    model = VisionTransformer(
        img_size=c["image_size"], patch_size=c["patch_size"], in_chans=c["num_channels"], num_classes=c["num_classes"],
        embed_dim=c["hidden_size"], depth=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
        mlp_ratio=c["intermediate_size"] / c["hidden_size"], qkv_bias=c["qkv_bias"], global_pool=c.get("global_pool", "token"),
    )
    # Non-trivial values everywhere (timm starts cls_token near zero and biases at zero).
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.2)
    images = torch.randn(3, c["num_channels"], c["image_size"], c["image_size"])
    labels = torch.tensor([1, 4, 0])
    logits = model(images)
    loss = F.cross_entropy(logits, labels, label_smoothing=LABEL_SMOOTHING)
    loss.backward()
    tensors = {name: parameter.detach().contiguous() for name, parameter in model.named_parameters()}
    tensors.update({"grad." + name: parameter.grad.contiguous() for name, parameter in model.named_parameters()})
    tensors.update({"input": images, "labels": labels.float(), "logits": logits.detach(), "loss": loss.detach().reshape(1)})
    target = pathlib.Path(__file__).resolve().parent.parent / "Tests/ViTNNTests/Fixtures" / name
    metadata = {"config": json.dumps(c), "label_smoothing": str(LABEL_SMOOTHING),
                "made_with": f"torch {torch.__version__}, timm {__import__('timm').__version__}"}
    save_file(tensors, str(target), metadata=metadata)
    print(f"wrote {target} ({target.stat().st_size} bytes), loss {loss.item():.6f}")


def main() -> None:
    write_fixture(CONFIG, "timm_vit_parity.safetensors")
    write_fixture({**CONFIG, "global_pool": "avg"}, "timm_vit_parity_avg.safetensors")


if __name__ == "__main__":
    main()
