"""Minimal safetensors reading and writing with numpy/torch only (the format is 8 bytes of
little-endian header length, a JSON header, then the raw little-endian data)."""
import json
import struct

import numpy as np
import torch

_NP = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "F16": np.float16}


def _to_bytes(t):
    """(dtype name, bytes) of a torch tensor or numpy array."""
    if isinstance(t, torch.Tensor):
        if t.dtype == torch.bfloat16:
            return "BF16", t.contiguous().view(torch.int16).numpy().tobytes()
        t = t.detach().contiguous().numpy()
    names = {np.dtype(v): k for k, v in _NP.items()}
    return names[t.dtype], np.ascontiguousarray(t).tobytes()


def save(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        dtype, data = _to_bytes(t)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # keep the data area 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    """dict name -> float32 torch tensor (F16/BF16 widened), ints as int64."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        buf = raw[base + b:base + e]
        if info["dtype"] == "BF16":
            t = torch.frombuffer(bytearray(buf), dtype=torch.int16).view(torch.bfloat16).float()
        else:
            t = torch.from_numpy(np.frombuffer(buf, dtype=_NP[info["dtype"]]).copy())
            t = t.float() if t.is_floating_point() else t.long()
        out[name] = t.reshape(info["shape"])
    return out
