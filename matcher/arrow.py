"""Arrow arrays to numpy and back through their buffers.

pyarrow's own conversions (`pa.array` or `pa.scalar` of Python or numpy values, `Array.to_numpy`,
a compute function given a Python value) import pandas
to look for pandas types in what they convert: two tenths of a second at every start of a batch,
which uses no pandas. The arrays the batch converts are plain (integers, booleans, texts without
nulls): their bytes are laid out here as Arrow lays them out, with the same result.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

_INTEGERS = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
             pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64}
_TYPES = {np.dtype(numpy_type): arrow_type for arrow_type, numpy_type in _INTEGERS.items()}


def numbers(array: pa.Array | pa.ChunkedArray, dtype: type | None = None) -> np.ndarray:
    """The values of an integer or boolean array without nulls, as a numpy array of their own
    (writable: it shares no memory with Arrow's); with `dtype`, converted as they are copied (an
    index column of a million rows copied once, not copied then widened)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        raise ValueError("numbers: an array with nulls")
    data = array.buffers()[1]
    if len(array) == 0 or data is None:
        return np.zeros(0, dtype=dtype or (bool if pa.types.is_boolean(array.type) else _INTEGERS[array.type]))
    if pa.types.is_boolean(array.type):  # one bit per value, the first value in the lowest bit
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        return bits[array.offset:array.offset + len(array)].astype(dtype or bool)
    values = np.frombuffer(data, dtype=_INTEGERS[array.type])[array.offset:array.offset + len(array)]
    return values.astype(dtype) if dtype is not None else values.copy()


def integers(values: np.ndarray | Sequence[int], type: pa.DataType | None = None) -> pa.Array:
    """An Arrow integer array of these values (`pa.array(values, type)`; without a type, the
    numpy array's own)."""
    data = np.ascontiguousarray(values, dtype=_INTEGERS[type] if type is not None else None)
    type = type if type is not None else _TYPES[data.dtype]
    return pa.Array.from_buffers(type, len(data), [None, pa.py_buffer(data)])


def texts(values: Sequence[str]) -> pa.Array:
    """An Arrow string array of these texts (`pa.array(values, pa.string())`): their UTF-8 bytes end
    to end, and where each one ends."""
    encoded = [value.encode("utf-8") for value in values]
    data = b"".join(encoded)
    if len(data) >= 2**31:  # beyond 32-bit offsets: Arrow splits them itself
        return pa.array(values, pa.string())
    ends = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int32, count=len(encoded)), out=ends[1:])
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(ends), pa.py_buffer(data)])


def text(value: str) -> pa.Scalar:
    """An Arrow string scalar (a compute function given a Python string makes it with `pa.scalar`,
    which imports pandas too)."""
    return texts([value])[0]


__all__ = ["numbers", "integers", "texts", "text"]
