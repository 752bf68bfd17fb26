"""MKBT: the binary tensor layout the C++ runner reads without Python (documented in tasks/README.md).

Little endian: b"MKBT", u32 version (1), u32 count; per tensor: u32 name_len, name (utf-8), u32 dtype,
u32 ndim, i64 dims[ndim], u64 nbytes, raw C-order data.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

MAGIC = b"MKBT"
VERSION = 1
DTYPE_CODES = {
    np.dtype(np.float32): 0,
    np.dtype(np.int32): 1,
    np.dtype(np.int64): 2,
    np.dtype(np.uint8): 3,
    np.dtype(np.bool_): 4,
    np.dtype(np.float16): 5,
    np.dtype(np.int8): 6,
    np.dtype(np.float64): 7,
}
CODE_DTYPES = {code: dtype for dtype, code in DTYPE_CODES.items()}


def write_tensors(path: str | Path, tensors: list[tuple[str, np.ndarray]]) -> None:
    parts = [MAGIC, struct.pack("<II", VERSION, len(tensors))]
    for name, array in tensors:
        array = np.asarray(array, order="C")
        if array.dtype not in DTYPE_CODES:
            raise ValueError(f"tensor {name!r}: unsupported dtype {array.dtype}")
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        raw_name = name.encode()
        parts += [struct.pack("<I", len(raw_name)), raw_name, struct.pack("<II", DTYPE_CODES[array.dtype], array.ndim)]
        parts += [struct.pack(f"<{array.ndim}q", *array.shape), struct.pack("<Q", len(data)), data]
    Path(path).write_bytes(b"".join(parts))


def read_tensors(path: str | Path) -> list[tuple[str, np.ndarray]]:
    blob = Path(path).read_bytes()
    if blob[:4] != MAGIC:
        raise ValueError(f"{path}: not an MKBT file")
    version, count = struct.unpack_from("<II", blob, 4)
    if version != VERSION:
        raise ValueError(f"{path}: MKBT version {version} unsupported")
    pos, out = 12, []
    for _ in range(count):
        (name_len,) = struct.unpack_from("<I", blob, pos)
        pos += 4
        name = blob[pos : pos + name_len].decode()
        pos += name_len
        code, ndim = struct.unpack_from("<II", blob, pos)
        pos += 8
        dims = struct.unpack_from(f"<{ndim}q", blob, pos)
        pos += 8 * ndim
        (nbytes,) = struct.unpack_from("<Q", blob, pos)
        pos += 8
        dtype = CODE_DTYPES[code]
        array = np.frombuffer(blob[pos : pos + nbytes], dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims)
        pos += nbytes
        out.append((name, array))
    return out
