"""Volumes handed to the write jobs: Dask or numpy arrays, xarray DataArrays and Datasets.

:func:`label_volume` turns any of them into a 3-D (x, y, z) Dask array of
integer labels (a numpy array's blocks are views of its z slabs: no copy), with
the checks and conversions :mod:`crackle.inputs` makes for ``crackle.compress``
(trailing axes of length 1, bool, floats by value),
and what it says of its own geometry: the memory order to record, and, for
xarray input, the voxel size and offset its coordinates (or attributes) give.
"""

import uuid
from dataclasses import dataclass
from typing import Optional

import dask.array as da
import numpy as np

from crackle.inputs import float_dtype_for, integral, label_array, squeezed_index
from crackle.threads import thread_count

# Largest z slab of a numpy volume that one task encodes.
_SLAB_BYTES = 64 << 20


@dataclass
class Volume:
    """A label volume to write: the Dask array, and what the input said of its geometry."""

    data: da.Array
    fortran: bool  # the memory order to record: a numpy array's own, else Fortran (as crackle-codec writes)
    resolution: Optional[tuple] = None  # voxel size (nm), from xarray coordinates or attributes
    voxel_offset: Optional[tuple] = None  # first voxel's index in the layer's voxel coordinates


def _geometry(array) -> tuple:
    """``(resolution, voxel_offset)`` an xarray DataArray's attributes or evenly spaced x, y, z
    coordinates give (None where they give nothing)."""
    attrs = array.attrs
    if "resolution" in attrs and "voxel_offset" in attrs:
        return tuple(attrs["resolution"]), tuple(int(v) for v in attrs["voxel_offset"])
    resolution, offset = [], []
    for dim in ("x", "y", "z"):
        values = np.asarray(array.coords[dim].values, dtype=np.float64) if dim in array.coords else None
        if values is None or values.size < 2 or not np.allclose(np.diff(values), values[1] - values[0]):
            return None, None
        step = values[1] - values[0]
        start = values[0] / step
        if step <= 0 or not np.isclose(start, round(start)):
            return None, None
        resolution.append(int(step) if float(step).is_integer() else float(step))
        offset.append(int(round(start)))
    return tuple(resolution), tuple(offset)


def _slabs(array: np.ndarray) -> da.Array:
    """A 3-D numpy ``array`` as a Dask array of its z slabs, which are views of it: no copy (where
    ``da.from_array`` copies into C order, which a Fortran-order volume then pays twice), and at
    least a slab per core, each of at most ``_SLAB_BYTES`` (or one slice)."""
    sx, sy, sz = array.shape
    per = max(1, min(sz // thread_count(0), _SLAB_BYTES // max(sx * sy * array.itemsize, 1)))
    starts = range(0, sz, per) if sz else [0]
    name = f"labels-{uuid.uuid4().hex}"  # tokenizing would hash every voxel
    graph = {(name, 0, 0, k): array[:, :, z0 : z0 + per] for k, z0 in enumerate(starts)}
    sizes = tuple(min(per, sz - z0) for z0 in starts)
    return da.Array(graph, name, chunks=((sx,), (sy,), sizes), dtype=array.dtype, meta=array[:0, :0, :0])


def label_volume(array) -> Volume:
    """``array`` (Dask, numpy, xarray DataArray with dims x, y (z) in any order, or a Dataset of one
    variable or one named ``labels``) as a :class:`Volume`; ValueError for anything else."""
    resolution = offset = None
    if hasattr(array, "data_vars"):  # an xarray Dataset
        names = list(array.data_vars)
        if len(names) != 1 and "labels" not in names:
            raise ValueError(f"the Dataset has variables {names}: pass the one to write")
        attrs = array.attrs
        array = array["labels" if "labels" in names else names[0]]
        array = array.assign_attrs({k: attrs[k] for k in ("resolution", "voxel_offset") if k in attrs})
    if hasattr(array, "dims") and hasattr(array, "transpose"):  # an xarray DataArray
        extra = {d: 0 for d in array.dims if d not in ("x", "y", "z") and array.sizes[d] == 1}
        array = array.isel(extra)  # a channel dimension of length 1
        if set(array.dims) not in ({"x", "y"}, {"x", "y", "z"}):
            raise ValueError(f"the DataArray's dimensions must be x, y and z, got {array.dims}")
        if len(array.dims) == 3:
            resolution, offset = _geometry(array)
        array = array.transpose(*[d for d in ("x", "y", "z") if d in array.dims]).data
    fortran = True
    if not isinstance(array, da.Array):
        array = label_array(array)
        fortran = bool(array.flags.f_contiguous)
        if array.ndim == 2:
            array = array[:, :, np.newaxis]
        array = _slabs(array) if array.ndim == 3 else da.from_array(array)
    array = array[squeezed_index(array.shape)]
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3:
        raise ValueError(f"a volume to write has 2 or 3 dimensions, got {array.ndim}")
    if array.dtype.kind == "f":
        # The dtype must be known before any block is encoded: one pass finds the minimum.
        dtype = float_dtype_for(float(np.nan_to_num(array.min().compute(), nan=0.0)))
        array = array.map_blocks(integral, dtype, dtype=dtype)
    if array.dtype.kind not in "uib":
        raise ValueError(f"crackle compresses integer labels, got dtype {array.dtype}")
    return Volume(array, fortran, resolution, offset)
