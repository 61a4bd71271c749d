"""Lazy, out-of-core access to Crackle files with Dask and xarray, on any fsspec store.

``open_array(urlpath)`` turns a Crackle file (or a list or glob of them,
stacked along z) into a ``dask.array.Array`` whose tasks read and decode only
the z ranges they cover, fetching only the byte ranges those need.
``xarray.open_dataset(path, engine="crackle")`` gives the same files as a lazy
Dataset (see :mod:`crackle_dask.xarray_backend`); :class:`StreamStack` indexes
them directly, without Dask.
"""

from .array import open_array
from .stack import StreamStack
from .store import FsspecStream

__all__ = ["FsspecStream", "StreamStack", "open_array"]
