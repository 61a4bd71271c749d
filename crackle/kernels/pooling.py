"""2x2 mode pooling of label slices, with crackle-codec's choices for ties and edges."""

from .jit import kernel


@kernel(internal=True)
def _same(p, q, sparse):
    return p == q and not (sparse and p == 0)


@kernel(internal=True)
def _mode4(a, b, c, d, sparse):
    """Mode of the block ``a b / c d`` ((x, y), (x+1, y), (x, y+1), (x+1, y+1)): the first value in
    this order of tests that repeats; with no repeat, ``d`` (with ``sparse``, 0 never counts and a
    zero ``d`` gives way to the first non-zero of ``a``, ``b``, ``c``)."""
    if _same(a, b, sparse) or _same(a, c, sparse):
        return a
    if _same(b, c, sparse) or _same(b, d, sparse):
        return b
    if _same(c, d, sparse):
        return c
    if _same(a, d, sparse):
        return a
    if sparse and d == 0:
        if a != 0:
            return a
        if b != 0:
            return b
        return c
    return d


@kernel
def mode_pool(slab, sparse, out, z_first, z_last):
    """``out[x, y, z]`` = mode of ``slab[2x : 2x + 2, 2y : 2y + 2, z]`` for z in ``z_first .. z_last - 1``;
    a block cut by the edge of the slice takes its first pixel."""
    sx, sy, _ = slab.shape
    for z in range(z_first, z_last):
        for y in range(out.shape[1]):
            for x in range(out.shape[0]):
                x0, y0 = 2 * x, 2 * y
                if x0 + 1 < sx and y0 + 1 < sy:
                    out[x, y, z] = _mode4(slab[x0, y0, z], slab[x0 + 1, y0, z], slab[x0, y0 + 1, z],
                                          slab[x0 + 1, y0 + 1, z], sparse)
                else:
                    out[x, y, z] = slab[x0, y0, z]
