"""Lazy, out-of-core access to Crackle files with Dask and xarray, on any fsspec store.

``open_array(urlpath)`` turns a Crackle file (or a list or glob of them,
stacked along z) into a ``dask.array.Array`` whose tasks read and decode only
the z ranges they cover, fetching only the byte ranges those need.
``xarray.open_dataset(path, engine="crackle")`` gives the same files as a lazy
Dataset (see :mod:`crackle_dask.xarray_backend`); :class:`StreamStack` indexes
them directly, without Dask.

Whole-stack analysis runs file by file on the active Dask scheduler (a
``dask.distributed`` cluster when a client exists): :func:`voxel_counts`,
:func:`centroids`, :func:`bounding_boxes`, :func:`statistics`, :func:`labels`
and :func:`contains` combine per-file results in a tree;
:func:`connected_components` labels each file, exchanges only the faces
between neighbours and writes one output file per input; :func:`zstack` joins
files into one without decoding; :func:`write_sidecars` writes every file's
``.ckl.meta.parquet``. :func:`to_crackle` writes Dask, numpy and xarray
volumes as one file or one file per z-block, a task per chunk.

:func:`open_precomputed` opens a Neuroglancer precomputed layer (chunked in
x, y and z; Crackle, raw or compressed_segmentation chunks, sharded or not)
as a Dask array with one task per storage chunk, and :func:`to_precomputed`
writes one, sharded or not, with a mip pyramid (see :mod:`.precomputed`).
:func:`to_zarr` writes a zarr array of Crackle chunks (:mod:`crackle.codecs`).
:class:`WarmupPlugin` compiles the kernels on each worker as it starts.
"""

from .array import open_array
from .components import Components, connected_components
from .files import write_sidecars, zstack
from .precomputed import open_precomputed, to_precomputed
from .reductions import bounding_boxes, centroids, contains, labels, statistics, voxel_counts
from .stack import StreamStack
from .store import FsspecStream
from .writing import to_crackle
from .warmup import WarmupPlugin
from .zarr_arrays import to_zarr

__all__ = [
    "Components", "FsspecStream", "StreamStack", "WarmupPlugin", "bounding_boxes", "centroids", "connected_components", "contains",
    "labels", "open_array", "open_precomputed", "statistics", "to_crackle", "to_precomputed", "voxel_counts",
    "to_zarr", "write_sidecars", "zstack",
]
