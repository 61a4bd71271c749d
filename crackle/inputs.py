"""Label arrays as users hand them over: trailing channel axes, bool and float dtypes.

crackle-codec's clients pass what they have. cloud-volume hands over its
(x, y, z, 1) cutouts, and much user code builds labels with numpy's default
float64. These helpers turn such input into the 0- to 3-dimensional integer
arrays the encoder takes, or refuse it with a ValueError that says why:

- trailing axes of length 1 beyond the third are dropped (crackle-codec drops
  any fourth axis and keeps its first channel; a longer one is refused here);
- bool becomes uint8;
- float arrays are converted *by value* when every value is an integer that
  fits (uint64, or int64 when a value is negative). crackle-codec instead
  reinterprets the float's bits, so 2.5 would become 4612811918334230528.

Strided slabs the encoder cannot read in place get Fortran-order copies.
"""

import numpy as np

from .format.header import unsigned_dtype
from .kernels.transpose import fortran_copy

_BLOCK_ELEMENTS = 1 << 23  # values checked at once when converting floats (bounds the temporaries)


def squeezed_index(shape: tuple) -> tuple:
    """The index that drops an array's trailing axes of length 1 beyond the third.

    Raises ValueError, naming the shape, when an axis beyond the third is longer than 1.
    """
    extra = tuple(shape[3:])
    if any(n != 1 for n in extra):
        raise ValueError(
            f"crackle compresses 2-D and 3-D arrays (axes beyond the third must have length 1), "
            f"got {len(shape)} dimensions with shape {tuple(shape)}")
    return (Ellipsis,) + (0,) * len(extra)


def float_dtype_for(lowest) -> np.dtype:
    """The integer dtype float labels become: uint64, or int64 if ``lowest`` is negative."""
    return np.dtype(np.int64 if lowest < 0 else np.uint64)


def integral(arr: np.ndarray, dtype=None) -> np.ndarray:
    """A float array converted by value to ``dtype`` (default: :func:`float_dtype_for` its minimum).

    Every value must be a finite integer within ``dtype``'s range; otherwise a
    ValueError names the first value (in memory order) that is not, and where it is.
    The result keeps the input's memory order.
    """
    if dtype is None:
        lowest = np.min(arr) if arr.size else 0
        dtype = float_dtype_for(lowest if lowest == lowest else 0)  # NaN: reported below
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype)
    wide = np.result_type(arr.dtype, np.float64).type  # compare in at least float64: no overflow
    low, high = wide(info.min), wide(info.max) + wide(1)  # both exact (powers of two)
    order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
    flat = arr.reshape(-1, order=order)
    for start in range(0, flat.size, _BLOCK_ELEMENTS):
        block = flat[start : start + _BLOCK_ELEMENTS]
        good = np.isfinite(block) & (block >= low) & (block < high)
        good &= np.floor(block, where=good, out=np.zeros_like(block)) == block
        if not good.all():
            at = start + int(np.argmin(good))
            where = tuple(int(i) for i in np.unravel_index(at, arr.shape, order=order))
            raise ValueError(
                f"crackle compresses integer labels: the {arr.dtype} array holds {flat[at].item()!r} at "
                f"{where}, which is not an integer that fits in {dtype}")
    return arr.astype(dtype, order="K")


def label_array(labels) -> np.ndarray:
    """``labels`` as an integer numpy array of 0 to 3 dimensions (see the module docstring)."""
    arr = np.asarray(labels)
    arr = arr[squeezed_index(arr.shape)]
    if arr.dtype == bool:
        return arr.view(np.uint8)
    if arr.dtype.kind == "f":
        return integral(arr)
    if arr.dtype.kind not in "ui":
        raise ValueError(f"crackle compresses integer label arrays, got dtype {arr.dtype}")
    return arr


def z_runs(block: np.ndarray):
    """``(flat, (x_step, y_step, 1))`` when ``block``'s z axis is contiguous (a C-order volume's
    slab): voxel (x, y, z) is ``flat[x * x_step + y * y_step + z]``, ``flat`` a view of the memory
    the block spans. None otherwise."""
    size = block.itemsize
    x_step, y_step = (stride // size for stride in block.strides[:2])
    if not block.size or block.strides[2] != size or min(x_step, y_step) < 1 or \
            (x_step * size, y_step * size) != block.strides[:2]:
        return None
    sx, sy, nz = block.shape
    span = (sx - 1) * x_step + (sy - 1) * y_step + nz
    return np.lib.stride_tricks.as_strided(block, shape=(span,), strides=(size,)), (x_step, y_step, 1)


def as_encodable(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself when the encoder reads it in place (Fortran order, C order, or a 3-D slab of a
    C-order volume: see :func:`z_runs`), else a Fortran-order copy (:func:`as_fortran`)."""
    if arr.flags.f_contiguous or arr.flags.c_contiguous or (arr.ndim == 3 and z_runs(arr) is not None):
        return arr
    return as_fortran(arr)


def as_fortran(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself when it is in Fortran order, else a Fortran-order copy: for 3-D integer and
    bool arrays made by a tiled kernel (a C-order volume's copy costs a quarter of numpy's)."""
    if arr.flags.f_contiguous:
        return arr
    if arr.ndim != 3 or arr.dtype.kind not in "biu":
        return np.asfortranarray(arr)
    out = np.empty(arr.shape, dtype=arr.dtype, order="F")
    if out.size:
        unsigned = unsigned_dtype(arr.dtype.itemsize)
        fortran_copy(arr.view(unsigned), out.view(unsigned))
    return out
