"""Chunk payloads of a precomputed layer: content encodings (gzip, zstd, brotli) and chunk encodings
(crackle, raw, compressed_segmentation), both ways. Pure: no I/O.

cloud-volume stores compressed chunk files on local disks with a ``.gz``,
``.br`` or ``.zstd`` suffix; object stores keep them under the plain name with
a Content-Encoding, which fsspec may or may not undo, so gzip and zstd are also
recognised by their magic numbers. A chunk is decoded to an (x, y, z, channel)
Fortran-order array and checked against the shape and dtype its place in the
grid and the ``info`` require.
"""

import gzip

import numpy as np

import crackle
from crackle.errors import FormatError
from crackle.format.header import MAGIC
from crackle.inputs import as_fortran

SUFFIXES = ("", ".gz", ".br", ".zstd")  # as cloud-volume names chunk files on local disks
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


def _gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)


def _unzstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def _unbrotli(data: bytes) -> bytes:
    import brotli

    return brotli.decompress(data)


_BY_SUFFIX = {".gz": _gunzip, ".br": _unbrotli, ".zstd": _unzstd}


def _undone(undo, data: bytes, where: str) -> bytes:
    try:
        return undo(data)
    except ImportError as err:
        raise ImportError(f"{where}: reading this chunk file needs the {err.name} package") from err
    except Exception as err:  # noqa: BLE001 - gzip, zstd and brotli each raise their own kinds
        raise FormatError(f"{where}: cannot undo its content encoding ({type(err).__name__}: {err})") from err


def chunk_payload(data: bytes, suffix: str, encoding: str, nbytes: int, where: str) -> bytes:
    """A chunk file's bytes with its content encoding undone: the one its file ``suffix`` names,
    else gzip or zstd recognised by magic number. A Crackle stream (its own magic) is taken as it
    is; so is a raw chunk of the right length (``nbytes``) that only starts like gzip or zstd (it is
    taken as compressed only if it decompresses to that length)."""
    if suffix in _BY_SUFFIX:
        return _undone(_BY_SUFFIX[suffix], data, where)
    if encoding == "crackle" and bytes(data[:4]) == MAGIC:
        return data
    undo = _gunzip if data[:2] == _GZIP else _unzstd if data[:4] == _ZSTD else None
    if undo is None:
        return data
    if encoding == "raw" and len(data) == nbytes:
        try:
            inner = undo(data)
        except Exception:  # noqa: BLE001 - then it is the raw chunk itself
            return data
        return inner if len(inner) == nbytes else data
    return _undone(undo, data, where)


def gzipped(data: bytes) -> bytes:
    """``data`` gzipped, reproducibly (no timestamp), as cloud-volume and ``sharding`` gzip it."""
    return gzip.compress(data, mtime=0)


def encode_chunk(block: np.ndarray, encoding: str, block_size=None, allow_pins: int = 0,
                 markov_model_order: int = 0) -> bytes:
    """One chunk's payload: ``block`` is (x, y, z) or (x, y, z, channel). Crackle chunks are
    exactly ``crackle.compress`` of the Fortran-order chunk."""
    block = as_fortran(block)
    if encoding == "crackle":
        return crackle.compress(block[..., 0] if block.ndim == 4 else block, allow_pins=int(allow_pins),
                                markov_model_order=markov_model_order, parallel=1)
    if encoding == "raw":
        return block.astype(block.dtype.newbyteorder("<"), copy=False).tobytes(order="F")
    import compressed_segmentation as cseg

    full = block if block.ndim == 4 else block[..., np.newaxis]
    return cseg.compress(full, block_size=tuple(block_size), order="F")


def decode_chunk(data: bytes, encoding: str, shape: tuple, dtype: np.dtype, channels: int, block_size,
                 where: str) -> np.ndarray:
    """A chunk's payload as an (x, y, z, channel) Fortran-order array of ``shape`` (x, y, z) and
    ``dtype``; FormatError (naming ``where``) if it is malformed or of another shape or dtype."""
    full = tuple(shape) + (channels,)
    if encoding == "raw":
        expected = int(np.prod(full)) * dtype.itemsize
        if len(data) != expected:
            raise FormatError(f"{where}: a raw chunk of shape {full} and {dtype} has {expected} bytes, not {len(data)}")
        return np.frombuffer(data, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(full, order="F")
    if encoding == "crackle":
        try:
            arr = crackle.decompress(data, parallel=1)
        except FormatError as err:
            raise FormatError(f"{where}: {err}") from err
        if arr.shape != tuple(shape) or arr.dtype != dtype:
            raise FormatError(f"{where}: the chunk decodes to {arr.shape} {arr.dtype}, the layer needs "
                              f"{tuple(shape)} {dtype}")
        return arr.reshape(full, order="F")
    import compressed_segmentation as cseg

    try:
        arr = cseg.decompress(bytes(data), full, dtype, tuple(block_size), order="F")
    except Exception as err:  # noqa: BLE001 - the package raises several kinds for bad bytes
        raise FormatError(f"{where}: not a valid compressed_segmentation chunk ({err})") from err
    return np.asarray(arr).reshape(full, order="F")
