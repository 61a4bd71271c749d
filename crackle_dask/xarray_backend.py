"""The xarray backend: ``xr.open_dataset(path, engine="crackle")``.

Registered through the ``xarray.backends`` entry point. The Dataset holds one
variable, ``labels``, with dimensions ``("x", "y", "z")`` (``("x", "y")`` for
a single one-slice file, as 2-D arrays are stored); it is lazy, and indexing
it (or each Dask chunk of it, with ``chunks=``) decodes only the z slices it
selects, fetched with byte-range requests from any fsspec store. Precomputed
layers open through :mod:`crackle_dask.precomputed.dataset`.
"""

import os

import fsspec
import numpy as np
import xarray as xr
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing

from crackle.codec import stream_view
from crackle.format.header import MAGIC, CrackFormat, LabelFormat
from crackle.format.stream import StreamView

from .array import auto_z_chunk
from .precomputed.dataset import is_layer, layer_dataset
from .stack import StreamStack

VARIABLE = "labels"


class CrackleBackendArray(BackendArray):
    """A lazily decoded (stack of) Crackle stream(s) for xarray; ``ndim`` 2 drops the z axis."""

    def __init__(self, stack: StreamStack, ndim: int = 3):
        self.stack = stack
        self.shape = stack.shape if ndim == 3 else stack.shape[:2]
        self.dtype = stack.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        return self.stack[key if len(self.shape) == 3 else key + (0,)]


def header_attrs(stack: StreamStack) -> dict:
    """Attributes describing the stack's first stream (netCDF-friendly types only)."""
    head = stack.streams[0].header
    return {
        "crackle_format_version": head.format_version,
        "label_format": LabelFormat(head.label_format).name.lower(),
        "crack_format": CrackFormat(head.crack_format).name.lower(),
        "markov_model_order": head.markov_model_order,
        "data_width": head.data_width,
        "stored_data_width": head.stored_data_width,
        "signed": int(head.signed),
        "fortran_order": int(head.fortran_order),
        "files": len(stack),
        "compressed_bytes": sum(stream.size for stream in stack.streams),
    }


def _open_stack(filename_or_obj, storage_options) -> StreamStack:
    if isinstance(filename_or_obj, StreamStack):
        return filename_or_obj
    if isinstance(filename_or_obj, (str, os.PathLike, list, tuple)):
        return StreamStack.open(
            [os.fspath(p) for p in filename_or_obj] if isinstance(filename_or_obj, (list, tuple))
            else os.fspath(filename_or_obj),
            storage_options,
        )
    return StreamStack([stream_view(filename_or_obj)])


class CrackleBackendEntrypoint(BackendEntrypoint):
    """Open Crackle files (``.ckl``) and precomputed layers with ``xr.open_dataset(..., engine="crackle")``.

    ``filename_or_obj`` is a path or any fsspec URL, a glob or list of them
    (stacked along z), a bytes-like stream or a ``CrackleArray``; or a
    precomputed layer (``precomputed://`` + URL, or a folder whose ``info`` is
    a segmentation's), opened at scale ``mip`` with physical coordinates (see
    :mod:`crackle_dask.precomputed.dataset`).
    """

    open_dataset_parameters = ("filename_or_obj", "drop_variables", "storage_options", "ndim", "mip",
                               "fill_missing")
    description = "Crackle-compressed 3D segmentations (.ckl), read lazily with byte-range requests"
    url = "https://github.com/seung-lab/crackle"

    def open_dataset(self, filename_or_obj, *, drop_variables=None, storage_options=None, ndim=None, mip=0,
                     fill_missing=False):
        """The Dataset of ``filename_or_obj``; see the class docstring.

        Parameters
        ----------
        drop_variables : str or list of str, optional
            ``"labels"`` leaves the Dataset empty (xarray's convention).
        storage_options : dict, optional
            Passed to fsspec (credentials, endpoint, ...).
        ndim : {None, 2, 3}
            3 keeps the z axis even for a one-slice volume (for stacking 2-D
            sections with ``open_mfdataset``); None drops it only there.
        mip, fill_missing
            For a precomputed layer: the scale, and whether missing chunks read as 0.
        """
        if is_layer(filename_or_obj):
            dataset = layer_dataset(filename_or_obj, mip, fill_missing, storage_options)
            return dataset.drop_vars(np.atleast_1d(drop_variables)) if drop_variables is not None else dataset
        stack = _open_stack(filename_or_obj, storage_options)
        if ndim is None:
            ndim = 2 if stack.shape[2] == 1 else 3
        if ndim not in (2, 3) or (ndim == 2 and stack.shape[2] != 1):
            raise ValueError(f"ndim must be 3, or 2 for a one-slice volume; got {ndim} for {stack.shape}")
        dims = ("x", "y", "z")[:ndim]
        data = indexing.LazilyIndexedArray(CrackleBackendArray(stack, ndim))
        # Any whole number of full xy planes makes a chunk (each slice decodes on its own);
        # preferred: about 128 MiB decoded, as open_array's chunks="auto".
        sx, sy, sz = stack.shape
        step = max(1, min(sz, auto_z_chunk(sx * sy * stack.dtype.itemsize)))
        encoding = {"preferred_chunks": dict(zip(dims, (sx, sy, step)))}
        variables = {VARIABLE: xr.Variable(dims, data, encoding=encoding)}
        if drop_variables is not None and VARIABLE in np.atleast_1d(drop_variables):
            variables = {}
        return xr.Dataset(variables, attrs=header_attrs(stack))

    def guess_can_open(self, filename_or_obj) -> bool:
        """True for ``.ckl`` names, anything that starts with the ``crkl`` magic, and precomputed
        segmentation layers."""
        if is_layer(filename_or_obj):
            return True
        if isinstance(filename_or_obj, StreamView) or hasattr(filename_or_obj, "stream_view"):
            return True
        if isinstance(filename_or_obj, (bytes, bytearray, memoryview)):
            return bytes(filename_or_obj[:4]) == MAGIC
        if not isinstance(filename_or_obj, (str, os.PathLike)):
            return False
        name = os.fspath(filename_or_obj)
        if name.endswith(".ckl"):
            return True
        try:
            with fsspec.open(name, "rb") as handle:
                return handle.read(4) == MAGIC
        except Exception:  # noqa: BLE001 - any failure to read the magic means "not ours"
            return False
