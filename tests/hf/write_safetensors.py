#!/usr/bin/env python3
"""An independent safetensors writer and reader for the workbench's tests (core/hf/safetensors).

It shares no code with the workbench and does not use the `safetensors` package: the format is
written and read by hand (struct, json, torch tensors' bytes), following the format's
description: an 8-byte little-endian header length, a JSON header, the data section.

  write_safetensors.py write OUT.safetensors EXPECTED.json [--no-padding]
      writes a file of every dtype the workbench reads (odd sizes, so that some tensors sit at
      offsets not aligned for their dtype), a 0-d and an empty tensor, metadata, and the header's
      entries in an order other than their offsets; EXPECTED.json holds each tensor's dtype,
      shape and values (floats exactly, as Python's repr round-trips doubles)
  write_safetensors.py read IN.safetensors OUT.json
      reads a file and writes what it holds in the same form, with the header's length, whether
      its padding is spaces, the metadata and the tensors' names in the order of their offsets
"""
import json
import struct
import sys

import torch

DTYPES = {
    "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


def tensor_bytes(tensor):
    tensor = tensor.contiguous()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: its bits as int16
        tensor = tensor.view(torch.int16)
    return tensor.numpy().tobytes()


def values(tensor):
    flat = tensor.reshape(-1)
    if tensor.dtype.is_floating_point:
        return [float(x) for x in flat.double().tolist()]
    if tensor.dtype == torch.bool:
        return [bool(x) for x in flat.tolist()]
    return [int(x) for x in flat.tolist()]


def describe(name, tensor):
    return {"dtype": NAMES[tensor.dtype], "shape": list(tensor.shape), "values": values(tensor)}


def sample_tensors():
    g = torch.Generator().manual_seed(23)
    return [  # in the order of the data section
        ("model.layers.0.weight", torch.randn(2, 3, generator=g)),
        ("odd.f16", torch.randn(3, generator=g).half()),  # 6 bytes: the next tensor is misaligned
        ("after_odd.f32", torch.tensor([1.5, -2.25, 3e-8], dtype=torch.float32)),
        ("bf16", torch.randn(4, 2, generator=g).bfloat16()),
        ("f64", torch.tensor([3.141592653589793, -1e300], dtype=torch.float64)),
        ("i64", torch.tensor([-(2**62), 2**40 + 7, -1], dtype=torch.int64)),
        ("i32", torch.tensor([2**31 - 1, -(2**31), 5], dtype=torch.int32)),
        ("i16", torch.tensor([-32768, 32767, 9], dtype=torch.int16)),
        ("i8", torch.tensor([-128, 127, 0], dtype=torch.int8)),
        ("u8", torch.tensor([0, 255, 17], dtype=torch.uint8)),
        ("mask", torch.tensor([True, False, True, True, False])),
        ("scalar", torch.tensor(0.125, dtype=torch.float32)),
        ("empty", torch.zeros(0, 4, dtype=torch.float32)),
        ("lm_head.weight", torch.randn(3, 2, generator=g)),
    ]


def write(path, expected_path, pad):
    tensors = sample_tensors()
    header = {}
    data = b""
    for name, tensor in tensors:
        raw = tensor_bytes(tensor)
        header[name] = {"dtype": NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    # The header's entries in reverse order, metadata last: a reader must go by the offsets.
    ordered = {name: header[name] for name, _ in reversed(tensors)}
    ordered["__metadata__"] = {"format": "pt", "writer": "write_safetensors.py"}
    text = json.dumps(ordered).encode("utf-8")
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)
    with open(expected_path, "w") as f:
        json.dump({"metadata": ordered["__metadata__"],
                   "order": [name for name, _ in tensors],
                   "tensors": {name: describe(name, t) for name, t in tensors}}, f)


def read(path, out_path):
    with open(path, "rb") as f:
        content = f.read()
    (length,) = struct.unpack("<Q", content[:8])
    text = content[8:8 + length]
    header = json.loads(text.decode("utf-8"))
    stripped = text.rstrip(b" ")
    metadata = header.pop("__metadata__", {})
    data = content[8 + length:]
    tensors = {}
    end = 0
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, stop = info["data_offsets"]
        assert begin == end, f"{name}: begins at {begin}, the previous tensor ended at {end}"
        end = stop
        dtype = DTYPES[info["dtype"]]
        raw = bytearray(data[begin:stop])
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.zeros(0, dtype=dtype)
        tensors[name] = describe(name, flat.reshape(info["shape"]))
    assert end == len(data), f"the tensors end at {end}, the data section holds {len(data)} bytes"
    with open(out_path, "w") as f:
        json.dump({"header_length": length,
                   "padding_is_spaces": stripped.endswith(b"}") and len(text) - len(stripped) < 8,
                   "metadata": metadata,
                   "order": [name for name, _ in sorted(header.items(), key=lambda item: item[1]["data_offsets"])],
                   "tensors": tensors}, f)


def main(argv):
    if len(argv) >= 4 and argv[1] == "write":
        write(argv[2], argv[3], pad="--no-padding" not in argv[4:])
    elif len(argv) == 4 and argv[1] == "read":
        read(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
