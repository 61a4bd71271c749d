"""Neuroglancer precomputed layers (``info`` + chunks, sharded or not) as lazy Dask arrays.

Modules: :mod:`.info` (the ``info`` and the chunk grid), :mod:`.sharding`
(chunk ids, hashes, shard and minishard indices), :mod:`.encodings` (chunk
payloads), :mod:`.layer` (reading chunks from any fsspec store) and
:mod:`.read` (:func:`open_precomputed`), :mod:`.write` (:func:`to_precomputed`) and
:mod:`.dataset` (xarray). :mod:`.info`, :mod:`.sharding` and :mod:`.encodings` are pure.
"""

from .layer import PREFIX, Layer
from .read import layer_array, open_precomputed
from .write import to_precomputed

__all__ = ["PREFIX", "Layer", "layer_array", "open_precomputed", "to_precomputed"]
