"""Per-slice 4-connected component labelling on run-length encoded rows.

A run is a maximal stretch of a row whose pixels are linked left to right in
``xconn``. Runs of neighbouring rows are joined where ``yconn`` links any pixel
of their overlap. Components are numbered 0, 1, 2, ... in order of first
appearance in an x-fastest raster scan, which is the numbering the format uses
(crackle-codec's CCL gives the same ids).
"""

import numpy as np

from .bits import cttz
from .jit import kernel
from .union_find import find

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@kernel(inline=True)
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


@kernel
def label_runs(conn, nwords, sx, sy, run_start, run_end, row_first, parent, labels):
    """Label the components of one slice from its connectivity bitsets.

    ``conn`` holds xconn then yconn as :mod:`.crack_code` lays them out. Fills
    ``run_start`` / ``run_end`` (x extent of each run, raster order),
    ``row_first`` (index of each row's first run; ``row_first[sy]`` is the run
    count) and ``labels`` (component id of each run). Returns the number of
    components, or -1 when the slice has more runs than ``run_start`` holds.

    Each row is scanned once over the union of its own and the previous row's
    run boundaries (plus a sentinel at x = sx): every stretch between two
    boundaries lies in exactly one run of each row, and joins them if yconn
    links any of its pixels. A union keeps the smaller root, so every run's
    parent index is at most its own.
    """
    capacity = run_start.size
    last_word = sx >> 6
    below_sx = (np.uint64(1) << np.uint64(sx & 63)) - np.uint64(1)
    sentinel = np.uint64(1) << np.uint64(sx & 63)
    nruns = 0
    for y in range(sy):
        first = nruns
        row_first[y] = first
        base = y * nwords
        above = y > 0
        links = (sy + y) * nwords
        i = row_first[y - 1] - 1 if above else -1
        j = first - 1
        root = -1
        stretch = np.int64(0)  # (not a literal 0: _any_set compiles once)
        for k in range(last_word + 1):
            cur = ~conn[base + k]
            prev = ~conn[base - nwords + k] if above else np.uint64(0)
            if k == 0:
                cur |= np.uint64(1)
                prev |= np.uint64(1)
            bounds = cur | prev
            if k == last_word:
                cur &= below_sx
                prev &= below_sx
                bounds = (bounds & below_sx) | sentinel
            while bounds:
                t = cttz(bounds)
                bounds &= bounds - np.uint64(1)
                x = 64 * k + np.int64(t)
                if above and x > 0 and _any_set(conn, links, stretch, x):
                    r = find(parent, i)
                    if root < 0 or r < root:
                        if root >= 0:
                            parent[root] = r
                        root = r
                        parent[j] = r
                    elif r > root:
                        parent[r] = root
                stretch = x
                if (cur >> t) & np.uint64(1):
                    if nruns >= capacity:
                        return -1
                    if nruns > first:
                        run_end[nruns - 1] = x
                    run_start[nruns] = x
                    parent[nruns] = nruns
                    nruns += 1
                    j += 1
                    root = -1
                i += np.int64((prev >> t) & np.uint64(1))
        run_end[nruns - 1] = sx
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


@kernel(inline=True)
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
