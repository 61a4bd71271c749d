"""Union-find over slice components, linked through pixel neighbourhoods of component-id images."""

import numpy as np

from .jit import kernel


@kernel(inline=True)
def find(parent, c):
    """Root of ``c``, halving the path on the way."""
    while parent[c] != c:
        parent[c] = parent[parent[c]]
        c = parent[c]
    return c


@kernel
def union(parent, a, b):
    """Join the sets of ``a`` and ``b`` (the smaller root becomes the root)."""
    a = find(parent, a)
    b = find(parent, b)
    if a < b:
        parent[b] = a
    elif b < a:
        parent[a] = b


@kernel
def run_ends(plane):
    """For each pixel of a 2-D component-id image, the x where its run along x ends."""
    sx, sy = plane.shape
    ends = np.empty((sx, sy), dtype=np.int32)
    for y in range(sy):
        end = sx
        for x in range(sx - 1, -1, -1):
            if x + 1 < sx and plane[x + 1, y] != plane[x, y]:
                end = x + 1
            ends[x, y] = end
    return ends


@kernel
def link(first, first_ends, second, second_ends, dx, dy, foreground, kind, parent):
    """Join components ``first[x, y]`` and ``second[x + dx, y + dy]`` (2-D component-id images)
    when both are foreground and of the same kind (``kind[c]``: the label, or one value for every
    foreground component of a binary image). Steps from run to run (``*_ends`` from
    :func:`run_ends`), so the work grows with runs, not pixels."""
    sx, sy = first.shape
    for y in range(max(0, -dy), min(sy, sy - dy)):
        x = max(0, -dx)
        stop = min(sx, sx - dx)
        while x < stop:
            a = first[x, y]
            b = second[x + dx, y + dy]
            if a != b and foreground[a] and foreground[b] and kind[a] == kind[b]:
                union(parent, np.int64(a), np.int64(b))
            x = min(first_ends[x, y], second_ends[x + dx, y + dy] - dx)


@kernel
def flatten(parent, foreground):
    """New label of every component: its set's number (1, 2, ... in order of the sets' smallest
    component), 0 for background. Returns ``(labels, count)``."""
    n = parent.size
    labels = np.zeros(n, dtype=np.int64)
    count = 0
    for c in range(n):
        if not foreground[c]:
            continue
        root = find(parent, c)
        if root == c:
            count += 1
            labels[c] = count
        else:
            labels[c] = labels[root]
    return labels, count


@kernel
def union_pairs(parent, first, second):
    """Join the sets of ``first[i]`` and ``second[i]`` for every ``i``."""
    for i in range(first.size):
        union(parent, first[i], second[i])


@kernel
def roots(parent):
    """The root of every element (the smallest element of its set)."""
    out = np.empty_like(parent)
    for c in range(parent.size):
        out[c] = find(parent, c)
    return out
