"""Label volumes written as zarr arrays of Crackle chunks: :func:`to_zarr`.

Reading needs no code of ours beyond the codec's registration: ``dask.array.from_zarr``,
``xarray.open_zarr`` and any zarr reader with this package installed open them.
"""

import dask.array as da

from .volumes import label_volume


def to_zarr(array, url: str, chunks=(128, 128, 128), shards=None, component: str = "labels",
            allow_pins=False, markov_model_order: int = 0, zarr_format: int = 3, overwrite: bool = False,
            storage_options=None, compute: bool = True):
    """Write a label volume as a zarr array of Crackle chunks, stored as (z, y, x) (OME-Zarr's order:
    Crackle's slices along the first axis, so a z slice reads only its crack codes).

    Parameters
    ----------
    array : dask.array.Array, numpy.ndarray, xarray.DataArray or Dataset
        Integer labels (x, y, z), as :func:`crackle_dask.to_crackle` takes them.
    url : str
        The zarr group (any fsspec URL or path); the array is ``component`` in it, with dimension
        names z, y, x, so ``xarray.open_zarr(url)`` gives a Dataset with that variable.
    chunks : three ints
        The zarr chunk as (x, y, z); one Dask task encodes each (or each shard).
    shards : three ints, optional
        Shards of zarr v3's ``sharding_indexed`` as (x, y, z), whole multiples of ``chunks``.
    allow_pins, markov_model_order
        As for :func:`crackle.compress`.
    zarr_format : 3 or 2
        3: the ``"crackle"`` serializer (:class:`crackle.codecs.CrackleCodec`); 2: the numcodecs
        ``"crackle"`` compressor (:class:`crackle.codecs.Crackle`).
    overwrite : bool
        Replace an existing array (else an existing one is an error).
    storage_options : dict, optional
        Passed to fsspec.
    compute : bool
        Write now, or return the Dask object that writes.
    """
    from crackle.codecs import Crackle, CrackleCodec

    volume = label_volume(array)
    chunks, shards = tuple(reversed(_triple(chunks))), shards and tuple(reversed(_triple(shards)))
    if shards and any(s % c for s, c in zip(shards, chunks)):
        raise ValueError(f"shards {shards[::-1]} must be whole multiples of chunks {chunks[::-1]}")
    data = volume.data.transpose(2, 1, 0).rechunk(shards or chunks)  # one task per chunk (or shard)
    options = dict(allow_pins=allow_pins, markov_model_order=markov_model_order)
    if zarr_format == 3:
        layout = dict(serializer=CrackleCodec(**options), compressors=None, shards=shards, fill_value=0,
                      dimension_names=("z", "y", "x"))
    elif zarr_format == 2:
        if shards:
            raise ValueError("zarr v2 has no shards")
        # (no fill_value: xarray would read a v2 fill value of 0 as missing, and background as NaN;
        # chunks never written read as 0 all the same)
        layout = dict(compressors=Crackle(**options), filters=None, zarr_format=2, fill_value=None,
                      attributes={"_ARRAY_DIMENSIONS": ["z", "y", "x"]})
    else:
        raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format!r}")
    return da.to_zarr(data, url, component=component, storage_options=storage_options, compute=compute,
                      mode="w" if overwrite else "a", chunks=chunks, overwrite=overwrite, **layout)


def _triple(value) -> tuple:
    values = tuple(value)
    if len(values) != 3 or any(int(v) != v or v < 1 for v in values):
        raise ValueError(f"expected three positive integers (x, y, z), got {value!r}")
    return tuple(int(v) for v in values)
