"""Per-slice 4-connected component labelling on run-length encoded rows.

A run is a maximal stretch of a row whose pixels are linked left to right in
``xconn``. Runs of neighbouring rows are joined where ``yconn`` links any pixel
of their overlap. Components are numbered 0, 1, 2, ... in order of first
appearance in an x-fastest raster scan, which is the numbering the format uses
(crackle-codec's CCL gives the same ids).
"""

import numpy as np
from numba import njit

from .bits import cttz

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def _any_set(conn, base, x0, x1):
    """True if any bit in ``[x0, x1)`` of the bitset row starting at word ``base`` is set."""
    k0 = x0 >> 6
    k1 = (x1 - 1) >> 6
    lo = _ALL << np.uint64(x0 & 63)
    hi = _ALL >> np.uint64(63 - ((x1 - 1) & 63))
    if k0 == k1:
        return (conn[base + k0] & lo & hi) != 0
    if conn[base + k0] & lo:
        return True
    for k in range(k0 + 1, k1):
        if conn[base + k]:
            return True
    return (conn[base + k1] & hi) != 0


@njit(cache=True, nogil=True)
def _find(parent, a):
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@njit(cache=True, nogil=True)
def label_runs(xconn, yconn, nwords, sx, sy, run_start, row_first, parent, labels):
    """Label the components of one slice.

    Fills ``run_start`` (x of each run, raster order), ``row_first`` (index of
    each row's first run; ``row_first[sy]`` is the run count) and ``labels``
    (component id of each run). Returns the number of components, or -1 when
    the slice has more runs than ``run_start`` holds.
    """
    capacity = run_start.size
    tail_bits = sx - 64 * (nwords - 1)
    last_mask = _ALL >> np.uint64(64 - tail_bits)
    nruns = 0
    for y in range(sy):
        row_first[y] = nruns
        base = y * nwords
        for k in range(nwords):
            starts = ~xconn[base + k]
            if k == 0:
                starts |= np.uint64(1)
            if k == nwords - 1:
                starts &= last_mask
            while starts:
                if nruns >= capacity:
                    return -1
                run_start[nruns] = 64 * k + np.int64(cttz(starts))
                parent[nruns] = nruns
                nruns += 1
                starts &= starts - np.uint64(1)
        if y == 0:
            continue
        i = row_first[y - 1]
        i_end = row_first[y]
        j = i_end
        while i < i_end and j < nruns:
            a0 = run_start[i]
            a1 = run_start[i + 1] if i + 1 < i_end else sx
            b0 = run_start[j]
            b1 = run_start[j + 1] if j + 1 < nruns else sx
            lo = a0 if a0 > b0 else b0
            hi = a1 if a1 < b1 else b1
            if lo < hi and _any_set(yconn, base, lo, hi):
                ra = _find(parent, i)
                rb = _find(parent, j)
                if ra < rb:
                    parent[rb] = ra
                elif rb < ra:
                    parent[ra] = rb
            if a1 <= b1:
                i += 1
            if b1 <= a1:
                j += 1
    row_first[sy] = nruns
    count = 0
    for r in range(nruns):
        p = parent[r]
        if p == r:
            labels[r] = count
            count += 1
        else:
            labels[r] = labels[p]
    return count


@njit(cache=True, nogil=True)
def run_at(run_start, row_first, x, y):
    """Index of the run that holds pixel (x, y)."""
    lo = row_first[y]
    hi = row_first[y + 1] - 1
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if run_start[mid] <= x:
            lo = mid
        else:
            hi = mid - 1
    return lo
