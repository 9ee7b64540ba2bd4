"""Arrow arrays straight from numpy buffers.

`pyarrow.array` imports pandas whenever pandas is installed (to check whether its
argument is a pandas object): 0.2 s of every run's start-up, for nothing. These
builders wrap numpy memory in Arrow buffers instead (zero copy for numbers).
"""

from __future__ import annotations

import numpy as np

__all__ = ["booleans", "numbers", "strings", "values_of"]

_TYPES = {np.dtype(np.int8): "int8", np.dtype(np.int32): "int32", np.dtype(np.int64): "int64",
          np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def _validity(mask: np.ndarray | None):
    """Arrow's validity bitmap (1 = present, least significant bit first) of `~mask`."""
    import pyarrow as pa

    return None if mask is None or not mask.any() else pa.py_buffer(np.packbits(~mask, bitorder="little"))


def numbers(values: np.ndarray, type=None, mask: np.ndarray | None = None):
    """A numeric (or date32: pass `type`) array over `values`' memory; `mask` True = null."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    type = type if type is not None else getattr(pa, _TYPES[values.dtype])()
    validity = _validity(mask)
    nulls = 0 if validity is None else int(mask.sum())
    return pa.Array.from_buffers(type, len(values), [validity, pa.py_buffer(values)], null_count=nulls)


def booleans(values: np.ndarray):
    """A boolean array of `values` (bit-packed, least significant bit first, as Arrow stores it)."""
    import pyarrow as pa

    values = np.asarray(values, dtype=bool)
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])


def strings(items):
    """A UTF-8 string array of `items`."""
    import pyarrow as pa

    encoded = [str(s).encode() for s in items]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = b"".join(encoded)
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def values_of(array, dtype, fill=None) -> np.ndarray:
    """The values of a numeric Arrow array as numpy (`dtype`: its type), nulls as `fill`
    (an array with nulls and no `fill` is a ValueError); zero copy where there are none."""
    n, offset = len(array), array.offset
    values = np.frombuffer(array.buffers()[1], dtype=dtype, count=offset + n)[offset:]
    if not array.null_count:
        return values
    if fill is None:
        raise ValueError("the array has nulls: pass `fill`")
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    present = np.unpackbits(bits, bitorder="little", count=offset + n)[offset:].astype(bool)
    return np.where(present, values, fill)
