"""Dask arrays over Crackle files: one task per z-range, full xy planes per chunk."""

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from crackle.format.stream import StreamView

from .precomputed import PREFIX, open_precomputed
from .stack import StreamStack, decode
from .store import FsspecStream

_AUTO_CHUNK_BYTES = 128 << 20  # decoded bytes per chunk when chunks="auto"


def auto_z_chunk(plane_bytes: int) -> int:
    """z slices per chunk for about 128 MiB of decoded data per chunk."""
    return max(1, _AUTO_CHUNK_BYTES // max(1, plane_bytes))


def _z_chunks(sz: int, plane_bytes: int, chunks) -> list:
    if chunks == "auto":
        step = auto_z_chunk(plane_bytes)
    elif isinstance(chunks, (int, np.integer)) and chunks > 0:
        step = int(chunks)
    else:
        raise ValueError(f'chunks must be "auto" or a positive number of z slices, got {chunks!r}')
    return [(z, min(z + step, sz)) for z in range(0, sz, step)]


def stream_array(stream: StreamView, chunks="auto", order=None) -> da.Array:
    """A Dask array over one Crackle stream, chunked along z only, chunks in memory ``order``.

    A file's stream travels inside each task (it pickles to its address, and
    workers parse each file once); an in-memory stream is one node of the
    graph that the tasks depend on, so it is shipped to each worker once.
    """
    if order not in (None, "C", "F"):
        raise ValueError(f'order must be None (the stream\'s), "C" or "F", got {order!r}')
    head = stream.header
    # Name by content: header, index, labels and model (already in memory for every kind of stream).
    known = head.header_bytes + head.grid_index_bytes + head.num_label_bytes + head.num_markov_model_bytes
    token = tokenize(getattr(stream, "path", None), stream.size, stream.read(0, min(known, stream.size)), order)
    name = f"crackle-{token}"
    bounds = _z_chunks(head.sz, head.sx * head.sy * head.data_width, chunks)
    if isinstance(stream, FsspecStream):
        graph, source = {}, stream
    else:
        source = f"crackle-stream-{token}"
        graph = {source: stream}
    for i, (z0, z1) in enumerate(bounds):
        graph[(name, 0, 0, i)] = (decode, source, range(z0, z1), order)
    zchunks = tuple(z1 - z0 for z0, z1 in bounds) or (0,)
    if not bounds:
        graph[(name, 0, 0, 0)] = (np.empty, head.shape, head.dtype)
    layers = HighLevelGraph.from_collections(name, graph, dependencies=())
    return da.Array(layers, name, ((head.sx,), (head.sy,), zchunks), dtype=head.dtype)


def open_array(urlpath, chunks="auto", storage_options=None, order=None) -> da.Array:
    """Open Crackle file(s) as a lazy Dask array of shape (sx, sy, sz).

    Parameters
    ----------
    urlpath : str or list of str
        Any fsspec URL or local path, a glob, or a list; several files are
        stacked along z in (sorted) order and must share sx, sy and dtype.
        A ``precomputed://`` URL opens that layer with
        :func:`crackle_dask.open_precomputed` (its scale 0; ``chunks`` "auto"
        means one storage chunk per task, else it is that function's ``chunks``).
    chunks : "auto" or int
        z slices per chunk ("auto": about 128 MiB decoded per chunk). Chunks
        never cross file boundaries.
    storage_options : dict, optional
        Passed to fsspec (credentials, endpoint, ...).
    order : {None, "C", "F"}
        Memory order of each chunk. None keeps each file's own, which decodes
        fastest (crackle-codec writes Fortran order); "C" costs a transposition
        in each task but makes ``.compute()`` of many chunks, which assembles a
        C-order array, about twice as fast.

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
    if isinstance(urlpath, str) and urlpath.startswith(PREFIX):
        return open_precomputed(urlpath, chunks=None if chunks == "auto" else chunks, storage_options=storage_options)
    stack = StreamStack.open(urlpath, storage_options)
    arrays = [stream_array(stream, chunks, order) for stream in stack.streams]
    return arrays[0] if len(arrays) == 1 else da.concatenate(arrays, axis=2)
