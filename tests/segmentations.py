"""Random segmentations for tests: blocky regions, every integer dtype, extreme values."""

import numpy as np

DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64]


def _byte_width(value: int) -> int:
    for width in (1, 2, 4):
        if value < 2 ** (8 * width):
            return width
    return 8


def label_pool(rng, dtype, count: int) -> np.ndarray:
    """Up to ``count`` distinct label values of ``dtype``: small, full-range, extreme or all-negative.

    Signed pools keep every value within what crackle-codec's stored width
    (chosen from the maximum alone) holds as a signed integer, so that its
    streams are correct and can serve as an oracle: no negative value below
    the width's range, and no positive one with the sign bit of its own width
    set (int16 205 is stored in one byte as 0xCD, which crackle-codec decodes as -51).
    """
    info = np.iinfo(dtype)
    signed = info.min < 0
    mode = rng.choice(["small", "wide", "extremes", "negative"] if signed else ["small", "wide", "extremes"])
    if mode == "small":
        values = rng.integers(-20 if signed else 0, 40, size=count, endpoint=True, dtype=dtype)
    elif mode == "negative":
        values = rng.integers(info.min, -1, size=count, endpoint=True, dtype=dtype)
    else:
        values = rng.integers(info.min, info.max, size=count, endpoint=True, dtype=dtype)
        if mode == "extremes":
            extremes = [info.max, info.min, 0, 1] + ([2**53 + 1, info.max - 1] if info.bits == 64 else [])
            values = np.concatenate([values, np.array(extremes, dtype=dtype)])
        if signed:
            values = np.concatenate([values, np.array([info.max], dtype=dtype)])
    values = np.unique(values)
    rng.shuffle(values)
    values = values[:count]
    if signed:
        def holds(v: int) -> bool:
            width = _byte_width(v)
            return v < 0 or width == info.bits // 8 or v < 2 ** (8 * width - 1)
        values = values[[holds(int(v)) for v in values]]
    top = int(values.max())
    if signed and top >= 0:
        values = values[values >= -(2 ** (8 * _byte_width(top) - 1))]
    return values


def blocky(rng, shape, dtype, nlabels: int = 8, boxes: int = 12, noise: float = 0.0, order: str = "F") -> np.ndarray:
    """Random boxes of random labels painted over a random background, optional salt noise."""
    values = label_pool(rng, dtype, nlabels)
    arr = np.full(shape, values[0], dtype=dtype)
    for _ in range(boxes):
        lo = [int(rng.integers(0, s)) for s in shape]
        hi = [int(rng.integers(a, s)) + 1 for a, s in zip(lo, shape)]
        arr[tuple(slice(a, b) for a, b in zip(lo, hi))] = values[rng.integers(values.size)]
    if noise:
        mask = rng.random(shape) < noise
        arr[mask] = values[rng.integers(values.size, size=int(mask.sum()))]
    if np.iinfo(dtype).min < 0:
        # crackle-codec sizes signed labels from the array's maximum: keep the pool's in the array,
        # so that every negative value of the pool fits (see label_pool).
        arr.flat[0] = values.max()
    return np.asfortranarray(arr) if order == "F" else np.ascontiguousarray(arr)


def same_partition(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Whether two labellings split the volume identically (equal up to renumbering): ours -> theirs
    is a function on the voxels, and one-to-one."""
    ours, theirs = np.ravel(ours, order="F"), np.ravel(theirs, order="F")  # one voxel order for both
    table = np.zeros(int(ours.max(initial=0)) + 1, dtype=theirs.dtype)
    table[ours] = theirs
    if not np.array_equal(table[ours], theirs):
        return False
    present = np.zeros(table.size, dtype=bool)
    present[ours] = True
    return np.unique(table[present]).size == int(present.sum())
