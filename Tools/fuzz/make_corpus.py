#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into Tools/fuzz/corpus/: small valid files
of each format and a few slightly broken ones. Deterministic; run again after a change."""
import gzip
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def safetensors(header, data, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def idx(dimensions, payload):
    return bytes([0, 0, 8, len(dimensions)]) + b"".join(struct.pack(">I", d) for d in dimensions) + payload


# safetensors
two = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [3], "data_offsets": [8, 20]}}
floats = struct.pack("<5f", 1, 2, 3, 4, 5)
put("safetensors", "valid-f32", safetensors(two, floats))
put("safetensors", "valid-unpadded", safetensors(two, floats, pad=False))
put("safetensors", "metadata", safetensors({"__metadata__": {"format": "pt"}, **two}, floats))
sizes = {"F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
header, offset = {}, 0
for dtype, size in sizes.items():
    header[dtype.lower()] = {"dtype": dtype, "shape": [2, 1], "data_offsets": [offset, offset + 2 * size]}
    offset += 2 * size
put("safetensors", "every-dtype", safetensors(header, bytes((i * 37) % 251 for i in range(offset))))
put("safetensors", "scalar-and-empty",
    safetensors({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}, "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]}},
                struct.pack("<f", 7)))
put("safetensors", "empty-header", safetensors({}, b""))
put("safetensors", "truncated", safetensors(two, floats)[:-3])
put("safetensors", "overlap",
    safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [3], "data_offsets": [4, 16]}}, floats[:16]))
put("safetensors", "bad-dtype", safetensors({"a": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}, b"\0"))
put("safetensors", "array-header", struct.pack("<Q", 2) + b"[]")
put("safetensors", "huge-length", struct.pack("<Q", 2**63) + b"{}")

# IDX, plain and compressed
images = idx([2, 3, 4], bytes(range(24)))
labels = idx([4], bytes([0, 9, 3, 1]))
put("idx", "images", images)
put("idx", "labels", labels)
put("idx", "images.gz", gz(images))
put("idx", "labels.gz", gz(labels))
put("idx", "four-dimensions", idx([1, 2, 2, 2], bytes(8)))
put("idx", "truncated-payload", images[:-5])
put("idx", "trailing-byte", labels + b"\0")
put("idx", "bad-type", bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + b"\0\0\0\0")
put("idx", "huge-dimensions", idx([0xFFFFFFFF, 0xFFFFFFFF], b""))
put("idx", "cut.gz", gz(images)[:-10])

# gzip reader
text = b"The quick brown fox jumps over the lazy dog.\n" * 20
put("gzip", "plain", text)
put("gzip", "empty", b"")
put("gzip", "text.gz", gz(text))
put("gzip", "two-members.gz", gz(b"first member\n") + gz(b"second member\n"))
put("gzip", "cut.gz", gz(text)[:-12])
crc = bytearray(gz(text))
crc[-8] ^= 0xFF
put("gzip", "bad-crc.gz", bytes(crc))
put("gzip", "magic-only", b"\x1f\x8b")
put("gzip", "stored.gz", gzip.compress(bytes(range(256)), compresslevel=0, mtime=0))

# CIFAR (one record: label bytes then 3072 pixels)
pixels = bytes((i * 7) % 256 for i in range(3072))
put("cifar", "cifar10-one-record", bytes([3]) + pixels)
put("cifar", "cifar10-two-records", bytes([9]) + pixels + bytes([0]) + pixels[::-1])
put("cifar", "cifar100-one-record", bytes([4, 77]) + pixels)
put("cifar", "label-out-of-range", bytes([200]) + pixels)
put("cifar", "short", pixels[:100])

# configuration JSON
every_key = {
    "patch_size": 8, "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 8, "intermediate_size": 256,
    "hidden_dropout_prob": 0.25, "attention_probs_dropout_prob": 0.125, "initializer_range": 0.5, "image_size": 64,
    "num_classes": 100, "num_channels": 1, "qkv_bias": False, "attention_type": "hybrid", "position_embedding": "sincos2d",
    "global_pool": "avg", "weight_init": "mimetic", "image_fit": "resize", "fib_wmin": 3, "fib_wmax": 9, "fib_modified": True,
    "fib_mask_mode": "neg-inf", "dilated_window": 5, "dilation_rates": [1, 3], "performer_features": 40, "performer_redraw": 100,
    "linformer_k": 16, "nystrom_landmarks": 8, "nystrom_conv": 33, "hybrid_local_heads": 2, "hybrid_local": "fibottention",
    "hybrid_global": "performer", "patch_embedding": "conv-stem"}
put("config", "every-key.json", json.dumps(every_key, indent=1).encode())
put("config", "empty.json", b"{}")
put("config", "small.json", b'{"patch_size": 4, "hidden_size": 48, "attention_type": "linformer", "linformer_k": 8}')
put("config", "sparse.json", b'{"attention_type": "fibottention", "fib_wmin": 2, "image_size": 28, "patch_size": 7}')
put("config", "dilated.json", b'{"attention_type": "dilated", "dilated_window": 3, "dilation_rates": [1, 2, 4]}')
put("config", "nulls.json", b'{"fib_wmax": null, "nystrom_conv": null, "performer_features": null}')
put("config", "unknown-field.json", b'{"patch_sise": 4}')
put("config", "wrong-type.json", b'{"hidden_size": "48"}')
put("config", "unknown-choice.json", b'{"attention_type": "sparse"}')
put("config", "not-an-object.json", b"[1, 2, 3]")
put("config", "invalid.json", b'{"patch_size": 0, "hidden_size": -1, "hidden_dropout_prob": 1.5}')
# found by fuzzing: image_size / patch_size squared overflowed in the checks
put("config", "too-many-patches.json", b'{"image_size": 17179869184}')

# JPEG and PNG images, written by Pillow (Debian's python3-pil) when it is there
try:
    import io
    from PIL import Image
except ImportError:
    Image = None
if Image is not None:
    def picture(mode, width=16, height=12):
        image = Image.new("RGB", (width, height))
        image.putdata([((x * 16) % 256, (y * 21) % 256, (x * y * 5) % 256) for y in range(height) for x in range(width)])
        return image.convert(mode) if mode != "RGB" else image

    def encoded(image, format, **options):
        buffer = io.BytesIO()
        image.save(buffer, format=format, **options)
        return buffer.getvalue()

    rgb = encoded(picture("RGB"), "JPEG", quality=90)
    put("jpeg", "rgb-420", rgb)
    put("jpeg", "rgb-444", encoded(picture("RGB"), "JPEG", quality=95, subsampling=0))
    put("jpeg", "gray", encoded(picture("L"), "JPEG", quality=90))
    put("jpeg", "cmyk", encoded(picture("CMYK"), "JPEG", quality=90))
    put("jpeg", "progressive", encoded(picture("RGB", 24, 20), "JPEG", quality=80, progressive=True))
    put("jpeg", "odd-size", encoded(picture("RGB", 7, 5), "JPEG", quality=75))
    put("jpeg", "truncated", rgb[: len(rgb) // 2])
    put("jpeg", "header-only", rgb[:200])
    png = encoded(picture("RGB"), "PNG")
    put("png", "rgb", png)
    put("png", "rgba", encoded(picture("RGBA"), "PNG"))
    put("png", "gray", encoded(picture("L"), "PNG"))
    put("png", "gray-alpha", encoded(picture("LA"), "PNG"))
    put("png", "palette", encoded(picture("RGB").quantize(colors=7), "PNG", transparency=2))
    put("png", "one-bit", encoded(picture("1"), "PNG"))
    put("png", "gray16", encoded(picture("L").convert("I;16"), "PNG"))
    put("png", "optimized", encoded(picture("RGB", 9, 9), "PNG", optimize=True))
    put("png", "truncated", png[: len(png) // 2])
    put("png", "bad-crc", png[:40] + bytes([png[40] ^ 0xFF]) + png[41:])
