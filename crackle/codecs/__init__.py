"""Crackle as a Zarr codec: zarr arrays (and anything that uses numcodecs) whose chunks are Crackle
streams.

- :class:`CrackleCodec` (in :mod:`crackle.codecs.zarr`): a zarr v3 array-to-bytes codec named
  ``"crackle"``, with partial decoding (a selection within a chunk's first axis fetches and
  decodes only those slices), also as the inner codec of ``sharding_indexed``.
- :class:`Crackle` (in :mod:`crackle.codecs.numcodecs`): a numcodecs codec, id ``"crackle"``, for
  zarr v2 arrays.

Both are registered through entry points (``zarr.codecs`` and ``numcodecs.codecs``), so any zarr
reader that has this package installed opens such arrays. zarr and numcodecs are imported only
when these classes are (``pip install 'crackle-numba[zarr]'``); ``import crackle`` never does.

Axis order: a chunk of shape ``(a0, a1, a2)`` is the Crackle volume ``(x, y, z) = (a2, a1, a0)``,
its axes reversed: for a C-order chunk, the Fortran-order view of the same memory, encoded without
a copy. So an array stored as ``(z, y, x)`` (OME-Zarr's order) has Crackle's slices along its first
axis. A chunk's bytes are exactly ``crackle.compress(chunk.T)``; 1-D and 2-D chunks are one slice.
"""

import numpy as np

from .. import codec
from ..encoder import check_options, compress
from ..errors import FormatError

__all__ = ["CrackleCodec", "Crackle"]


def check_dtype(dtype) -> np.dtype:
    """The dtype, if Crackle stores it (integers and bool); ValueError otherwise."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biu":
        raise ValueError(f"Crackle stores integer and bool chunks, not {dtype}")
    return dtype


def volume_of(chunk: np.ndarray) -> np.ndarray:
    """The Crackle volume of a chunk (1 to 3 axes): its axes reversed, unit axes appended (views)."""
    if not 1 <= chunk.ndim <= 3:
        raise ValueError(f"Crackle stores chunks of 1 to 3 axes, not {chunk.ndim}")
    volume = chunk.T
    return volume[(Ellipsis,) + (None,) * (3 - volume.ndim)]


def encode(chunk: np.ndarray, allow_pins: bool, markov_model_order: int, parallel: int) -> bytes:
    """The stream of one chunk: ``crackle.compress`` of its volume."""
    check_dtype(chunk.dtype)
    return compress(volume_of(chunk), allow_pins=allow_pins, markov_model_order=markov_model_order,
                    parallel=parallel)


def check_chunk(header, shape: tuple, dtype) -> None:
    """FormatError unless the stream holds a chunk of ``shape`` and ``dtype``."""
    expected = tuple(reversed(shape)) + (1,) * (3 - len(shape))
    stored = np.dtype(np.uint8 if np.dtype(dtype) == bool else dtype)
    if (header.sx, header.sy, header.sz) != expected or header.dtype != stored:
        raise FormatError(f"the Crackle stream holds {header.sx} x {header.sy} x {header.sz} {header.dtype} "
                          f"voxels, the chunk is {' x '.join(map(str, expected))} {stored} (as x, y, z)")


def chunk_of(volume: np.ndarray, ndim: int, dtype) -> np.ndarray:
    """The chunk (``ndim`` axes) of a decoded volume: the inverse of :func:`volume_of`."""
    chunk = volume.reshape(volume.shape[:ndim], order="A").T
    return chunk.view(bool) if np.dtype(dtype) == bool else chunk


def decode(stream, ndim: int, dtype, parallel: int, z_start: int = 0, z_end=None) -> np.ndarray:
    """The chunk a stream holds (slices ``z_start .. z_end - 1`` of its first axis for 3-D chunks)."""
    return chunk_of(codec.decompress_range(stream, z_start, z_end, parallel), ndim, dtype)


def options(allow_pins, markov_model_order, parallel) -> tuple:
    """The codecs' settings, checked as ``crackle.compress`` checks them."""
    check_options(allow_pins, markov_model_order)
    if not isinstance(parallel, (int, np.integer)) or isinstance(parallel, bool) or parallel < 0:
        raise ValueError(f"parallel must be a non-negative integer, got {parallel!r}")
    return (allow_pins if isinstance(allow_pins, bool) else int(allow_pins)), int(markov_model_order), int(parallel)


def __getattr__(name: str):
    if name == "CrackleCodec":
        from .zarr import CrackleCodec

        return CrackleCodec
    if name == "Crackle":
        from .numcodecs import Crackle

        return Crackle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
