"""MKBT: the binary tensor layout the C++ runner reads without Python (documented in tasks/README.md).

Little endian: b"MKBT", u32 version (1), u32 count; per tensor: u32 name_len, name (utf-8), u32 dtype,
u32 ndim, i64 dims[ndim], u64 nbytes, raw C-order data.

A file read back from a device (a runner's record of kept outputs) was written by a process the candidate's code ran
in: every byte of it is untrusted. read_tensors checks each field against the layout and the file's own length before
using it, and raises one exception, MalformedRecord (a ValueError), for any malformed byte: a bad magic, version or
dtype code, a count, ndim, dimension or name length out of bounds, sizes that do not add up, truncated data, trailing
bytes, a name that is not UTF-8, a file larger than the caller's bound. Its message is short and quotes no data (no
name, no value): it names the tensor by its index and the field that is wrong.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

MAX_NDIM = 16  # the runner's own bound
MAX_NAME = 4096
MAX_TENSORS = 1 << 16

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


class MalformedRecord(ValueError):
    """An MKBT file that does not follow the layout (see the module's docstring); the message quotes no data."""


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


def read_tensors(path: str | Path, *, max_bytes: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The tensors of an MKBT file; MalformedRecord for any byte that does not fit the layout, or a file larger than
    max_bytes (checked before it is read). OSError when it cannot be read at all."""
    path = Path(path)
    if max_bytes is not None:
        size = path.stat().st_size
        if size > max_bytes:
            raise MalformedRecord(f"{size} bytes, more than the {max_bytes} expected")
    return parse_tensors(path.read_bytes())


def parse_tensors(blob: bytes) -> list[tuple[str, np.ndarray]]:
    """read_tensors on bytes in memory (pure; raises only MalformedRecord)."""
    view = memoryview(blob)
    end = len(view)

    def need(pos: int, n: int, what: str) -> None:
        if pos + n > end:
            raise MalformedRecord(f"truncated at {what} (byte {pos} of {end})")

    need(0, 12, "the header")
    if bytes(view[:4]) != MAGIC:
        raise MalformedRecord("not an MKBT file")
    version, count = struct.unpack_from("<II", view, 4)
    if version != VERSION:
        raise MalformedRecord(f"MKBT version {version} unsupported")
    # every tensor takes at least 24 bytes (name length, dtype, ndim, nbytes): a count the file cannot hold is a lie
    if count > MAX_TENSORS or count * 24 > end - 12:
        raise MalformedRecord(f"a count of {count} tensors in {end} bytes")
    pos, out = 12, []
    for i in range(count):
        where = f"tensor {i}"
        need(pos, 4, f"{where}'s name length")
        (name_len,) = struct.unpack_from("<I", view, pos)
        pos += 4
        if name_len > MAX_NAME:
            raise MalformedRecord(f"{where}: a name of {name_len} bytes")
        need(pos, name_len, f"{where}'s name")
        raw_name = bytes(view[pos : pos + name_len])
        pos += name_len
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRecord(f"{where}: its name is not UTF-8") from None
        need(pos, 8, f"{where}'s dtype")
        code, ndim = struct.unpack_from("<II", view, pos)
        pos += 8
        dtype = CODE_DTYPES.get(code)
        if dtype is None:
            raise MalformedRecord(f"{where}: unknown dtype code {code}")
        if ndim > MAX_NDIM:
            raise MalformedRecord(f"{where}: {ndim} dimensions (at most {MAX_NDIM})")
        need(pos, 8 * ndim, f"{where}'s dims")
        dims = struct.unpack_from(f"<{ndim}q", view, pos)
        pos += 8 * ndim
        if any(d < 0 for d in dims):
            raise MalformedRecord(f"{where}: a negative dimension")
        need(pos, 8, f"{where}'s size")
        (nbytes,) = struct.unpack_from("<Q", view, pos)
        pos += 8
        elements = 1
        for d in dims:  # Python integers: a product that overflows 64 bits cannot fake a match
            elements *= d
        if elements * dtype.itemsize != nbytes:
            raise MalformedRecord(f"{where}: {nbytes} bytes for {elements} elements of {dtype}")
        need(pos, nbytes, f"{where}'s data")
        data = view[pos : pos + nbytes]
        pos += nbytes
        if dtype == np.bool_:  # any byte but 0 is true (numpy would keep the byte, and 2 would compare as 2)
            array = np.frombuffer(data, dtype=np.uint8).reshape(dims) != 0
        else:
            array = np.frombuffer(data, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims)
        out.append((name, array))
    if pos != end:
        raise MalformedRecord(f"{end - pos} bytes after the last tensor")
    return out
