"""Dask arrays over Crackle files: one task per z-range, full xy planes per chunk."""

import dask
import dask.array as da
import fsspec
import numpy as np
from dask.base import tokenize

from crackle.codec import decompress_range
from crackle.errors import FormatError
from crackle.format.stream import StreamView

from .store import FsspecStream

_AUTO_CHUNK_BYTES = 128 << 20  # decoded bytes per chunk when chunks="auto"


def _decode(stream: StreamView, z_start: int, z_end: int) -> np.ndarray:
    """Decode one chunk on one thread (Dask runs tasks side by side already); errors name the file."""
    try:
        return decompress_range(stream, z_start, z_end, 1)
    except FormatError as err:
        where = getattr(stream, "path", None)
        if where is None:
            raise
        raise type(err)(f"{where}: {err}") from err


def _z_chunks(sz: int, plane_bytes: int, chunks) -> list:
    if chunks == "auto":
        step = max(1, _AUTO_CHUNK_BYTES // max(1, plane_bytes))
    elif isinstance(chunks, (int, np.integer)) and chunks > 0:
        step = int(chunks)
    else:
        raise ValueError(f'chunks must be "auto" or a positive number of z slices, got {chunks!r}')
    return [(z, min(z + step, sz)) for z in range(0, sz, step)]


def stream_array(stream: StreamView, chunks="auto", name: str = None) -> da.Array:
    """A Dask array over one Crackle stream, chunked along z only."""
    head = stream.header
    name = name or f"crackle-{tokenize(getattr(stream, 'path', id(stream)), stream.size, head.tobytes())}"
    pieces = [
        da.from_delayed(
            dask.delayed(_decode, pure=True)(stream, z0, z1, dask_key_name=(f"{name}-decode", i)),
            shape=(head.sx, head.sy, z1 - z0),
            dtype=head.dtype,
            name=f"{name}-{i}",
        )
        for i, (z0, z1) in enumerate(_z_chunks(head.sz, head.sx * head.sy * head.data_width, chunks))
    ]
    if not pieces:
        return da.zeros(head.shape, dtype=head.dtype)
    return pieces[0] if len(pieces) == 1 else da.concatenate(pieces, axis=2)


def _paths(urlpath, storage_options) -> list:
    """``(fs, path)`` for a URL, a glob (sorted) or a list of URLs."""
    if isinstance(urlpath, (list, tuple)):
        return [pair for url in urlpath for pair in _paths(url, storage_options)]
    fs, path = fsspec.core.url_to_fs(urlpath, **(storage_options or {}))
    if any(c in path for c in "*?["):
        found = sorted(fs.glob(path))
        if not found:
            raise FileNotFoundError(f"no file matches {urlpath!r}")
        return [(fs, p) for p in found]
    return [(fs, path)]


def open_array(urlpath, chunks="auto", storage_options=None) -> da.Array:
    """Open Crackle file(s) as a lazy Dask array of shape (sx, sy, sz).

    Parameters
    ----------
    urlpath : str or list of str
        Any fsspec URL or local path, a glob, or a list; several files are
        stacked along z in (sorted) order and must share sx, sy and dtype.
    chunks : "auto" or int
        z slices per chunk ("auto": about 128 MiB decoded per chunk). Chunks
        never cross file boundaries.
    storage_options : dict, optional
        Passed to fsspec (credentials, endpoint, ...).

    Returns
    -------
    dask.array.Array
        Each task fetches the header, index and labels of its file (once per
        worker process) and only the crack codes of its own z range.

    Examples
    --------
    >>> arr = open_array("s3://bucket/volume/*.ckl", chunks=64)   # doctest: +SKIP
    >>> arr[:, :, 1000].compute()                                 # doctest: +SKIP
    """
    streams = [FsspecStream(fs, path) for fs, path in _paths(urlpath, storage_options)]
    first = streams[0].header
    for stream in streams[1:]:
        head = stream.header
        if (head.sx, head.sy, head.dtype) != (first.sx, first.sy, first.dtype):
            raise ValueError(
                f"cannot stack {stream.path} ({head.sx} x {head.sy}, {head.dtype}) on "
                f"{streams[0].path} ({first.sx} x {first.sy}, {first.dtype}): x, y and dtype must match"
            )
    arrays = [stream_array(stream, chunks) for stream in streams]
    return arrays[0] if len(arrays) == 1 else da.concatenate(arrays, axis=2)
