"""CrackleArray: a read-only, lazily decoded numpy-like view of a Crackle stream."""

import numbers
from typing import Optional, Union

import numpy as np

from . import analysis, codec, operations, recoding, stacking
from .connectivity import connected_components
from .encoder import compress_as
from .format.header import CrackFormat, CrackleHeader
from .format.stream import MemoryStream


def _normalize_key(key, ndim: int = 3) -> tuple:
    """Expand ``key`` into exactly ``ndim`` entries (Ellipsis and missing axes become ``:``)."""
    if not isinstance(key, tuple):
        key = (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if Ellipsis in key:
        at = key.index(Ellipsis)
        fill = (slice(None),) * (ndim - len(key) + 1)
        key = key[:at] + fill + key[at + 1 :]
    if len(key) > ndim:
        raise IndexError(f"too many indices: array is {ndim}-dimensional, but {len(key)} were indexed")
    return key + (slice(None),) * (ndim - len(key))


def decode_slices(binary, zs: range, parallel: int = 0, verify: bool = True, order=None) -> np.ndarray:
    """Decode the slices listed in ``zs`` (a range, any step) into one (sx, sy, len(zs)) array.

    ``order`` is the memory order of the result: "C", "F" or None (the stream's).
    """
    if len(zs) == 0 or zs.step == 1:
        start = zs.start if len(zs) else 0
        return codec.decompress_range(binary, start, start + len(zs), parallel, verify=verify, order=order)
    head = codec.stream_view(binary).header
    order = order or ("F" if head.fortran_order else "C")
    out = np.empty((head.sx, head.sy, len(zs)), dtype=head.dtype, order=order)
    for i, z in enumerate(zs):
        out[:, :, i : i + 1] = codec.decompress_range(binary, z, z + 1, parallel, verify=verify)
    return out


def z_selection(zkey, sz: int):
    """``(range of z slices, whether the z axis is dropped)`` for an integer or slice ``zkey``."""
    if isinstance(zkey, numbers.Integral):
        z = int(zkey)
        if not -sz <= z < sz:
            raise IndexError(f"index {z} is out of bounds for axis 2 with size {sz}")
        return range(z % sz, z % sz + 1), True
    if not isinstance(zkey, slice):
        raise TypeError("the z index of a Crackle volume must be an integer or a slice")
    return range(*zkey.indices(sz)), False


def read_region(binary, key, parallel: int = 0, verify: bool = True) -> np.ndarray:
    """``decompress(binary)[key]`` for basic indexing, decoding only the z slices ``key`` selects.

    ``key`` holds integers, slices (any step) and at most one Ellipsis; the z
    entry must be an integer or a slice.
    """
    xkey, ykey, zkey = _normalize_key(key)
    zs, drop = z_selection(zkey, codec.stream_view(binary).header.sz)
    return decode_slices(binary, zs, parallel, verify)[xkey, ykey, 0 if drop else slice(None)]


class CrackleArray:
    """A Crackle stream that behaves like a read-only 3-D numpy array.

    Slicing decodes only the z slices it needs; label queries read only the
    labels section.

    Parameters
    ----------
    binary : bytes-like
        A Crackle stream (not copied).
    parallel : int
        Threads for decoding; 0 means all cores.
    verify : bool
        Check crc32c of the labels and of every decoded slice.

    Examples
    --------
    >>> arr = CrackleArray(stream)        # doctest: +SKIP
    >>> arr[:, :, 100].shape              # doctest: +SKIP
    (512, 512)
    >>> 777 in arr                        # doctest: +SKIP
    True
    """

    def __init__(self, binary, parallel: int = 0, verify: bool = True):
        self.binary = binary
        self.parallel = parallel
        self.verify = verify
        self.stream_view = MemoryStream(binary)

    @property
    def _head(self) -> CrackleHeader:
        return self.stream_view.header

    def header(self, ignore_crc_check: bool = False) -> CrackleHeader:
        """The stream's header."""
        return codec.header(self, ignore_crc_check=ignore_crc_check)

    @property
    def shape(self) -> tuple:
        """(sx, sy, sz)."""
        return self._head.shape

    @property
    def dtype(self) -> np.dtype:
        """dtype of the decoded array."""
        return self._head.dtype

    @property
    def ndim(self) -> int:
        """Always 3."""
        return 3

    @property
    def size(self) -> int:
        """Number of voxels."""
        return self._head.voxels()

    @property
    def nbytes(self) -> int:
        """Size of the decoded array in bytes."""
        return self._head.nbytes

    @property
    def random_access(self) -> bool:
        """Any z slice can be decoded on its own."""
        return True

    def __len__(self) -> int:
        """Length of the compressed stream in bytes (as crackle-codec's CrackleArray)."""
        return len(memoryview(self.binary).cast("B"))

    def __repr__(self) -> str:
        return f"CrackleArray(shape={self.shape}, dtype={self.dtype}, stream={len(self)} bytes)"

    def numpy(self, label: Optional[int] = None, crop: bool = False) -> np.ndarray:
        """Decode the whole volume (or a binary image of ``label``)."""
        return self.decompress(label=label, crop=crop)

    def decompress(self, label: Optional[int] = None, crop: bool = False) -> np.ndarray:
        """Decode the whole volume; see :func:`crackle.decompress`."""
        return codec.decompress(self, label=label, parallel=self.parallel, crop=crop, verify=self.verify)

    def to_dask(self, chunks="auto", order=None):
        """This array as a lazy ``dask.array.Array`` chunked along z (needs ``crackle_dask``).

        ``chunks`` is "auto" (about 128 MiB decoded per chunk) or a number of z
        slices; ``order`` the chunks' memory order (None: the stream's).
        """
        from crackle_dask.array import stream_array

        return stream_array(self.stream_view, chunks, order)

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def labels(self, z: Union[int, slice, None] = None) -> np.ndarray:
        """Sorted unique labels of the volume, or of slice ``z`` / the slices of slice ``z``."""
        if z is None:
            return codec.labels(self)
        if isinstance(z, numbers.Integral):
            return codec.labels_for_z_range(self, int(z), int(z) + 1)
        start, stop, step = z.indices(self.shape[2])
        if step != 1:
            raise ValueError("labels(z=slice) needs a step of 1")
        return codec.labels_for_z_range(self, start, max(start, stop))

    def num_labels(self) -> int:
        """Number of distinct labels."""
        return codec.num_labels(self)

    def min(self) -> int:
        """Smallest label."""
        return codec.min(self)

    def max(self) -> int:
        """Largest label."""
        return codec.max(self)

    def contains_range(self, low: int, high: int) -> np.ndarray:
        """Labels in ``[low, high)``."""
        return codec.contains_range(self, low, high)

    def __contains__(self, label) -> bool:
        return codec.contains(self, label)

    def __getitem__(self, key) -> np.ndarray:
        """Decode the z slices that ``key`` selects, then index them like numpy."""
        return read_region(self, key, self.parallel, self.verify)


    def __setitem__(self, key, value) -> None:
        """Assign like numpy; only the z slices ``key`` touches are decoded and encoded again (the
        other slices' crack codes are copied; a PINS stream becomes FLAT)."""
        xkey, ykey, zkey = _normalize_key(key)
        zs, drop = z_selection(zkey, self.shape[2])
        if not len(zs):
            return
        low, high = min(zs), max(zs) + 1
        block = decode_slices(self, range(low, high), self.parallel, self.verify)
        if drop:
            block[xkey, ykey, zs[0] - low] = value
        else:
            stop = zs.stop - low
            block[xkey, ykey, slice(zs.start - low, stop if stop >= 0 else None, zs.step)] = value
        head = self._head
        slab = compress_as(block, head.crack_format == CrackFormat.PERMISSIBLE, parallel=self.parallel)
        binary = stacking.zstack([stacking.zrange(self, 0, low), slab, stacking.zrange(self, high, head.sz)])
        self.binary, self.stream_view = binary, MemoryStream(binary)

    def create(self, binary) -> "CrackleArray":
        """A CrackleArray over ``binary`` with this one's settings."""
        return CrackleArray(binary, self.parallel, self.verify)

    def copy(self, order: str = "K") -> "CrackleArray":
        """A copy; ``order`` "C" or "F" sets the memory order it decodes to."""
        if order == "C":
            return self.create(operations.ascontiguousarray(self))
        if order == "F":
            return self.create(operations.asfortranarray(self))
        return self.create(bytes(self.stream_view.read(0, self.stream_view.size)))

    def remap(self, mapping: dict, preserve_missing_labels: bool = False) -> "CrackleArray":
        """See :func:`crackle.remap`."""
        return self.create(operations.remap(self, mapping, preserve_missing_labels, parallel=self.parallel))

    def mask(self, labels: list, value: int = 0, in_place: bool = False) -> "CrackleArray":
        """See :func:`crackle.mask`."""
        return self.create(operations.mask(self, labels, value, parallel=self.parallel))

    def mask_except(self, labels: list, value: int = 0, in_place: bool = False) -> "CrackleArray":
        """See :func:`crackle.mask_except`."""
        return self.create(operations.mask_except(self, labels, value, parallel=self.parallel))

    def refit(self) -> "CrackleArray":
        """See :func:`crackle.refit`."""
        return self.create(operations.refit(self))

    def renumber(self, start: int = 0) -> tuple:
        """See :func:`crackle.renumber`; returns ``(CrackleArray, mapping)``."""
        binary, mapping = operations.renumber(self, start, self.parallel)
        return self.create(binary), mapping

    def astype(self, dtype, order: str = "K", casting: str = "unsafe") -> "CrackleArray":
        """See :func:`crackle.astype`."""
        return self.create(operations.astype(self, dtype, order, casting))

    def asfortranarray(self) -> "CrackleArray":
        """See :func:`crackle.asfortranarray`."""
        return self.copy("F")

    def ascontiguousarray(self) -> "CrackleArray":
        """See :func:`crackle.ascontiguousarray`."""
        return self.copy("C")

    def zrange(self, z_start: int, z_end: int) -> "CrackleArray":
        """Slices ``z_start .. z_end - 1`` as a CrackleArray (crack codes copied)."""
        return self.create(stacking.zrange(self, z_start, z_end))

    def reencode(self, markov_model_order: int) -> "CrackleArray":
        """See :func:`crackle.reencode`."""
        return self.create(recoding.reencode(self, markov_model_order, self.parallel))

    def recompress(self) -> "CrackleArray":
        """See :func:`crackle.recompress`."""
        return self.create(stacking.recompress(self, self.parallel))

    def array_equal(self, other) -> bool:
        """Whether ``other`` (a CrackleArray or stream) decodes to the same shape and values."""
        return operations.array_equal(self, other, self.parallel)

    def save(self, filelike) -> None:
        """See :func:`crackle.save`."""
        from .files import save

        save(self, filelike)

    def voxel_counts(self, label=None):
        """See :func:`crackle.voxel_counts`."""
        return analysis.voxel_counts(self, label, self.parallel)

    def centroids(self, label=None):
        """See :func:`crackle.centroids`."""
        return analysis.centroids(self, label, self.parallel)

    def bounding_boxes(self, label=None, no_slice_conversion: bool = False):
        """See :func:`crackle.bounding_boxes`."""
        return analysis.bounding_boxes(self, label, self.parallel, no_slice_conversion)

    def each(self, crop: bool = True, labels=None, multi: bool = False):
        """See :func:`crackle.each`."""
        return analysis.each(self, self.parallel, crop, labels, multi)

    def edge_labels(self) -> set:
        """See :func:`crackle.edge_labels`."""
        return analysis.edge_labels(self, self.parallel)

    def connected_components(self, connectivity: int = 26, binary_image: bool = False,
                             memory_target: int = 100_000_000, progress: bool = False,
                             return_mapping: bool = False):
        """See :func:`crackle.connected_components`."""
        return connected_components(self, connectivity, binary_image, memory_target, progress, return_mapping,
                                    self.parallel)

    def mode_pooling_2x2x1(self, sparse: bool = False) -> "CrackleArray":
        """See :func:`crackle.mode_pooling_2x2x1`."""
        return self.create(stacking.mode_pooling_2x2x1(self, sparse, self.parallel))

    def voxel_connectivity_graph(self, connectivity: int = 4) -> np.ndarray:
        """See :func:`crackle.voxel_connectivity_graph` (default 4 here, as crackle-codec's method)."""
        return analysis.voxel_connectivity_graph(self, connectivity, self.parallel)

    def contacts(self, anisotropy=(1.0, 1.0, 1.0)) -> dict:
        """See :func:`crackle.contacts`."""
        return analysis.contacts(self, anisotropy, self.parallel)

    def select_enclosed_points(self, label: int, points) -> np.ndarray:
        """See :func:`crackle.select_enclosed_points`."""
        return analysis.select_enclosed_points(self, label, points, self.parallel)

    def signed_distance_to_boundary(self, label: int, points, anisotropy=(1.0, 1.0, 1.0),
                                    progress: bool = False) -> np.ndarray:
        """See :func:`crackle.signed_distance_to_boundary`."""
        return analysis.signed_distance_to_boundary(self, label, points, anisotropy, self.parallel,
                                                    progress=progress)

    def to_parquet(self):
        """See :func:`crackle.to_parquet`."""
        return analysis.to_parquet(self, self.parallel)

    def cache_meta(self, path) -> None:
        """Write the ``.meta.parquet`` sidecar (voxel counts and bounding boxes) for the Crackle file
        at ``path`` (``x.ckl`` or ``x.ckl.gz`` -> ``x.ckl.meta.parquet``), atomically."""
        analysis.write_sidecar(self, analysis.sidecar_path(path), self.parallel)

    def any(self, axis=None, out=None, keepdims=False, *, where=True):
        """Like ``numpy.any``; over the whole array (the default) from the labels alone."""
        if axis is None and out is None and not keepdims and where is True:
            return bool(self.size) and bool((self.labels() != 0).any())
        return self.numpy().any(axis=axis, out=out, keepdims=keepdims, where=where)

    def all(self, axis=None, out=None, keepdims=False, *, where=True):
        """Like ``numpy.all``; over the whole array (the default) from the labels alone."""
        if axis is None and out is None and not keepdims and where is True:
            return 0 not in self
        return self.numpy().all(axis=axis, out=out, keepdims=keepdims, where=where)

    def _compare(self, other, op):
        if not isinstance(other, (numbers.Integral, np.integer)):
            return NotImplemented  # whole volumes: use .array_equal()
        return self.create(operations.relabel(self, lambda values: op(values, other).astype(np.uint8), np.uint8))

    def __eq__(self, other):
        """``self == scalar`` as a CrackleArray of 0 and 1 (uint8), without decoding the voxels."""
        return self._compare(other, np.equal)

    def __ne__(self, other):
        """``self != scalar`` as a CrackleArray of 0 and 1 (uint8), without decoding the voxels."""
        return self._compare(other, np.not_equal)

    __hash__ = None

    def _arithmetic(self, scalar, op):
        if not isinstance(scalar, (numbers.Integral, np.integer)):
            return NotImplemented
        return self.create(op(self, int(scalar)))

    def __add__(self, scalar):
        return self._arithmetic(scalar, operations.add_scalar)

    __radd__ = __add__

    def __sub__(self, scalar):
        return self._arithmetic(scalar, operations.subtract_scalar)

    def __mul__(self, scalar):
        return self._arithmetic(scalar, operations.multiply_scalar)

    __rmul__ = __mul__

    def __floordiv__(self, scalar):
        return self._arithmetic(scalar, operations.floordiv_scalar)
