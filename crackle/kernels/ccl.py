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
def label_runs(conn, nwords, sx, sy, run_start, run_end, row_first, parent, labels):
    """Label the components of one slice from its connectivity bitsets.

    ``conn`` holds xconn then yconn as :mod:`.crack_code` lays them out. Fills
    ``run_start`` / ``run_end`` (x extent of each run, raster order),
    ``row_first`` (index of each row's first run; ``row_first[sy]`` is the run
    count) and ``labels`` (component id of each run). Returns the number of
    components, or -1 when the slice has more runs than ``run_start`` holds.
    """
    capacity = run_start.size
    nscan = (sx + 63) >> 6
    last_mask = _ALL >> np.uint64(64 * nscan - sx)
    yconn = sy * nwords
    nruns = 0
    for y in range(sy):
        first = nruns
        row_first[y] = first
        base = y * nwords
        for k in range(nscan):
            starts = ~conn[base + k]
            if k == 0:
                starts |= np.uint64(1)
            if k == nscan - 1:
                starts &= last_mask
            while starts:
                if nruns >= capacity:
                    return -1
                x = 64 * k + np.int64(cttz(starts))
                if nruns > first:
                    run_end[nruns - 1] = x
                run_start[nruns] = x
                parent[nruns] = nruns
                nruns += 1
                starts &= starts - np.uint64(1)
        run_end[nruns - 1] = sx
        if y == 0:
            continue
        ybase = yconn + y * nwords
        i = row_first[y - 1]
        for j in range(first, nruns):
            b0 = run_start[j]
            b1 = run_end[j]
            while run_end[i] <= b0:
                i += 1
            root = j
            while True:
                lo = run_start[i] if run_start[i] > b0 else b0
                hi = run_end[i] if run_end[i] < b1 else b1
                if _any_set(conn, ybase, lo, hi):
                    r = _find(parent, i)
                    if root == j:
                        root = r
                    elif r < root:
                        parent[root] = r
                        root = r
                    elif r > root:
                        parent[r] = root
                if run_end[i] >= b1:
                    break
                i += 1
            parent[j] = root
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
