"""A precomputed layer as a lazy xarray Dataset, for the ``crackle`` xarray backend.

The Dataset holds ``labels`` with dimensions ("x", "y", "z") (and "c" for
several channels) and physical coordinates ``(voxel_offset + index) *
resolution`` in nanometres. Indexing reads only the chunks a selection cuts,
and of an uncompressed Crackle chunk cut in z only the slices it needs.
"""

import numbers

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from .layer import Layer, is_layer  # noqa: F401 (is_layer: the xarray backend's test)


class LayerBackendArray(BackendArray):
    """One scale of a layer, read a box at a time (basic indexing: integers and slices)."""

    def __init__(self, layer: Layer, mip: int, fill_missing: bool):
        self.layer, self.mip, self.fill_missing = layer, mip, fill_missing
        scale = layer.info.scale(mip)
        channels = layer.info.num_channels
        self.shape = tuple(scale.size) + ((channels,) if channels > 1 else ())
        self.dtype = layer.info.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        key = tuple(key) + (slice(None),) * (len(self.shape) - len(key))
        spans = [_span(k, n) for k, n in zip(key[:3], self.shape[:3])]
        region = self.layer.read_region(self.mip, [s[0] for s in spans], [s[1] for s in spans], self.fill_missing)
        region = region[tuple(s[2] for s in spans)]
        return region[..., key[3] if len(self.shape) == 4 else 0]


def _span(key, size: int) -> tuple:
    """``(low, high, local)``: the box ``[low, high)`` an integer or slice ``key`` reads along an axis
    of ``size``, and the index that picks the selection out of it."""
    if isinstance(key, numbers.Integral):
        return int(key) % size, int(key) % size + 1, 0
    span = range(*key.indices(size))
    if not len(span):
        return 0, 0, slice(0, 0)
    low, high = min(span), max(span) + 1
    return low, high, slice(0, None, span.step) if span.step > 0 else slice(high - 1 - low, None, span.step)


def layer_dataset(url, mip: int = 0, fill_missing: bool = False, storage_options=None) -> xr.Dataset:
    """The Dataset of one scale of the layer at ``url`` (see the module docstring)."""
    layer = url if isinstance(url, Layer) else Layer.open(url, storage_options)
    scale = layer.info.scale(mip)
    array = LayerBackendArray(layer, mip, fill_missing)
    dims = ("x", "y", "z", "c")[: len(array.shape)]
    coords = {
        d: xr.Variable(d, (offset + np.arange(n)) * res, attrs={"units": "nm"})
        for d, n, offset, res in zip("xyz", scale.size, scale.voxel_offset, scale.resolution)
    }
    encoding = {"preferred_chunks": dict(zip(dims, tuple(scale.chunk_size) + array.shape[3:]))}
    variable = xr.Variable(dims, indexing.LazilyIndexedArray(array), encoding=encoding)
    attrs = {
        "layer": layer.root, "mip": mip, "key": scale.key, "encoding": scale.encoding,
        "chunk_size": list(scale.chunk_size), "voxel_offset": list(scale.voxel_offset),
        "resolution": list(scale.resolution), "units": "nm", "sharded": int(scale.sharding is not None),
        "num_channels": layer.info.num_channels, "data_type": str(layer.info.dtype), "scales": len(layer.info.scales),
    }
    return xr.Dataset({"labels": variable}, coords=coords, attrs=attrs)
