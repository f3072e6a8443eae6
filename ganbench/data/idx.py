"""The IDX file format of MNIST and Fashion-MNIST, read into numpy arrays.

LeCun et al.'s format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): a 4-byte magic
number ``0x00 0x00 <type> <ndim>`` (type 0x08 = unsigned byte, 0x09 signed byte, 0x0B short,
0x0C int, 0x0D float, 0x0E double), then ``ndim`` big-endian int32 dimension sizes, then the
data in C order, big-endian. Files may be gzip-compressed (``*.gz``), as distributed.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np

from ganbench.errors import GanbenchError

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def maybe_gunzip(data: bytes) -> bytes:
    """``data`` decompressed when it starts with the gzip magic, else as it is."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def parse_idx(data: bytes, origin: str = "IDX data") -> np.ndarray:
    """The array held by an IDX file's bytes (gzip-compressed or not)."""
    try:
        raw = maybe_gunzip(data)
    except (OSError, EOFError) as exc:
        raise GanbenchError(f"{origin}: not a readable gzip file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise GanbenchError(f"{origin}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise GanbenchError(f"{origin}: truncated IDX header")
    dims = struct.unpack(f">{ndim}i", raw[4:header])
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise GanbenchError(f"{origin}: IDX header says {dims} ({expected} bytes of data), "
                            f"the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))
