"""Lazy, out-of-core access to Crackle files with Dask, on any fsspec store.

``open_array(urlpath)`` turns a Crackle file (or a list or glob of them,
stacked along z) into a ``dask.array.Array`` whose tasks read and decode only
the z ranges they cover, fetching only the byte ranges those need.
"""

from .array import open_array
from .store import FsspecStream

__all__ = ["FsspecStream", "open_array"]
