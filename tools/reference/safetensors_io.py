"""A minimal safetensors writer (the `safetensors` package is not in Debian).

Format: 8-byte little-endian header length, a JSON header mapping each tensor name to
{"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data section), padded with
spaces to a multiple of 8, then the tensors' bytes back to back.
"""
import json
import struct

import torch

_DTYPE_NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


def tensor_bytes(tensor):
    """Raw little-endian bytes of a contiguous tensor (bf16 through its 16-bit pattern)."""
    tensor = tensor.detach().contiguous().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    return tensor.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} to `path`, tensors in name order."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name]
        data = tensor_bytes(tensor)
        header[name] = {"dtype": _DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = dict(metadata)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for chunk in chunks:
            out.write(chunk)
