"""A precomputed layer as a lazy Dask array: :func:`open_precomputed`."""

import numbers
from collections import OrderedDict

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from .layer import Layer


def dask_chunks(scale, chunks) -> tuple:
    """Dask chunk sizes per axis: storage chunks (``chunks=None``), or whole multiples of them."""
    if chunks is None:
        step = scale.chunk_size
    else:
        step = (chunks,) * 3 if isinstance(chunks, numbers.Integral) else tuple(chunks)
        if len(step) != 3 or any(not isinstance(s, numbers.Integral) or s <= 0 or s % c
                                 for s, c in zip(step, scale.chunk_size)):
            raise ValueError(f"chunks must be None or three positive multiples of the storage chunk size "
                             f"{scale.chunk_size}, got {chunks!r}")
    return tuple(tuple(min(s, n - a) for a in range(0, n, s)) or (0,) for s, n in zip(step, scale.size))


def _region(layer: Layer, mip: int, start, stop, fill_missing: bool, squeeze: bool) -> np.ndarray:
    out = layer.read_region(mip, start, stop, fill_missing)
    return out[..., 0] if squeeze else out


_OPENED = OrderedDict()  # array name -> (resolution, voxel_offset) of the scale it reads, latest last
_KEEP_OPENED = 1024


def scale_of(array):
    """``(resolution, voxel_offset)`` of the scale ``array`` reads if it is (unchanged) an array that
    :func:`open_precomputed` returned in this process, else None: ``to_precomputed`` keeps them."""
    return _OPENED.get(getattr(array, "name", None))


def layer_array(layer: Layer, mip: int = 0, chunks=None, fill_missing: bool = False) -> da.Array:
    """The Dask array of one scale of an opened :class:`Layer` (see :func:`open_precomputed`)."""
    scale = layer.info.scale(mip)
    squeeze = layer.info.num_channels == 1
    sizes = dask_chunks(scale, chunks)
    token = tokenize(layer.fs, layer.root, layer.info.raw, mip, sizes, fill_missing)
    name, source = f"precomputed-{token}", f"precomputed-layer-{token}"
    graph = {source: layer}
    starts = [np.cumsum((0,) + s[:-1]).tolist() for s in sizes]
    for i, (x0, dx) in enumerate(zip(starts[0], sizes[0])):
        for j, (y0, dy) in enumerate(zip(starts[1], sizes[1])):
            for k, (z0, dz) in enumerate(zip(starts[2], sizes[2])):
                key = (name, i, j, k) if squeeze else (name, i, j, k, 0)
                graph[key] = (_region, source, mip, (x0, y0, z0), (x0 + dx, y0 + dy, z0 + dz), fill_missing, squeeze)
    channels = () if squeeze else ((layer.info.num_channels,),)
    layers = HighLevelGraph.from_collections(name, graph, dependencies=())
    _OPENED[name] = (scale.resolution, scale.voxel_offset)
    while len(_OPENED) > _KEEP_OPENED:
        _OPENED.popitem(last=False)
    return da.Array(layers, name, sizes + channels, dtype=layer.info.dtype)


def open_precomputed(url, mip: int = 0, chunks=None, fill_missing: bool = False, storage_options=None) -> da.Array:
    """Open one scale of a Neuroglancer precomputed layer as a lazy Dask array of shape (x, y, z).

    Parameters
    ----------
    url : str
        ``precomputed://`` + any fsspec URL (``gs://``, ``s3://``, ``file://``,
        ``https://``), or a path or URL of the folder that holds the layer's ``info``.
    mip : int
        The scale: an index into the info's ``scales``.
    chunks : None, int or (int, int, int)
        Voxels per Dask chunk along x, y and z: None for one storage chunk per
        task, else whole multiples of the storage chunk size; such a task
        fetches its storage chunks together (one request batch).
    fill_missing : bool
        Read missing chunks as 0, as Neuroglancer shows them; otherwise a
        missing chunk raises ``crackle.FormatError`` naming its file.
    storage_options : dict, optional
        Passed to fsspec (credentials, endpoint, ...).

    Returns
    -------
    dask.array.Array
        Shape (x, y, z) in the scale's local voxels (index 0 is ``voxel_offset``),
        with a last channel axis when the layer has more than one channel.
        Chunks may be stored as crackle, raw or compressed_segmentation, plain
        or compressed, sharded or not.

    Examples
    --------
    >>> arr = open_precomputed("precomputed://gs://bucket/seg", mip=1)   # doctest: +SKIP
    >>> arr[:, :, 100].compute()                                          # doctest: +SKIP
    """
    return layer_array(Layer.open(url, storage_options), mip, chunks, fill_missing)
