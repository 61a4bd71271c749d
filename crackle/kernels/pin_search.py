"""Choosing pins: cover every component of every label with vertical runs (pins) or list it.

A pin is a column (x, y) and a z range over which the label stays the same; it
marks the component it crosses in each slice of that range.

1. :func:`place_pins` walks z downwards once. Pins already placed stay active
   while their column keeps its label and cover the components they cross. A
   component that no active pin of its label crosses gets a new pin at its
   pixel whose label run reaches furthest down (a look-ahead computed a chunk
   of slices at a time by :func:`run_ends`).
2. Each pin is then extended up to the start of its label run and
   :func:`pin_crossings` lists the components it crosses.
3. :func:`improve_cover` removes pins that cross no component of their own,
   trims pin ends, and lists the components of pins too short to pay for
   themselves instead. Each step only lowers the cost of the cover.
"""

import heapq

import numpy as np

from .ccl import label_runs, run_at
from .encode import block_connectivity
from .jit import kernel


@kernel(internal=True)
def _mark_run_ends(here, below, end, z):
    for i in range(here.size):
        end[i] = z if here[i] != below[i] else end[i]


@kernel(internal=True)
def _gather_run_starts(here, above, end, out):
    n = 0
    for i in range(here.size):
        if here[i] != above[i]:
            out[n] = end[i]
            n += 1
    return n


@kernel
def run_ends(flat, sx, sy, z_start, z_end, z_cap):
    """Where the label run starting at each run-start pixel of slices ``z_start .. z_end - 1`` ends.

    A run-start pixel is one whose label differs from the pixel above it (or
    lies in slice 0). Runs are followed down to slice ``z_cap - 1`` at most.
    Returns ``(ptr, ends)``: the run starts of slice ``z_start + i`` in raster
    order have ends ``ends[ptr[i] : ptr[i + 1]]``.
    """
    pixels = sx * sy
    nz = z_end - z_start
    end = np.full(pixels, z_cap - 1, dtype=np.int32)
    found = np.empty(pixels, dtype=np.int32)
    per_slice = []
    for z in range(z_cap - 1, z_start - 1, -1):
        here = flat[z * pixels : (z + 1) * pixels]
        if z < z_cap - 1:
            _mark_run_ends(here, flat[(z + 1) * pixels : (z + 2) * pixels], end, z)
        if z < z_end:
            if z == 0:
                per_slice.append(end.copy())
            else:
                n = _gather_run_starts(here, flat[(z - 1) * pixels : z * pixels], end, found)
                per_slice.append(found[:n].copy())
    ptr = np.zeros(nz + 1, dtype=np.int64)
    for i in range(nz):
        ptr[i + 1] = ptr[i] + per_slice[nz - 1 - i].size
    ends = np.empty(ptr[nz], dtype=np.int32)
    for i in range(nz):
        ends[ptr[i] : ptr[i + 1]] = per_slice[nz - 1 - i]
    return ptr, ends


@kernel(internal=True)
def _slice_components(flat, here, sx, sy, nwords, conn, runs):
    """Label the components of the slice at ``flat[here:]``; ``runs`` = (start, end, parent, label)
    scratch, replaced by larger arrays when the slice has more runs. Returns (count, runs)."""
    block_connectivity(flat, here, sx, sy, np.int64(1), conn)  # (not a literal: one signature)
    row_first = runs[4]
    count = label_runs(conn, nwords, sx, sy, runs[0], runs[1], row_first, runs[2], runs[3])
    while count < 0:
        size = min(sx * sy, 2 * runs[0].size)
        runs = (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64),
                np.empty(size, dtype=np.int64), row_first)
        count = label_runs(conn, nwords, sx, sy, runs[0], runs[1], row_first, runs[2], runs[3])
    return count, runs


@kernel(internal=True)
def _run_scratch(sx, sy):
    size = min(sx * sy, 4 * sy + 1024)
    return (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64),
            np.empty(size, dtype=np.int64), np.empty(sy + 1, dtype=np.int64))


@kernel
def place_pins(flat, sx, sy, z_start, z_end, z_global, ptr, ptr_first, ends, end, top, owner, active, pins,
               pin_values, counters):
    """Place pins for slices ``z_start .. z_end - 1`` of ``flat`` (local z; slice z - 1 is present
    unless z is the volume's first slice, local 0). Slice ``z_start`` is global slice ``z_global``.

    Returns ``(z_end, 0)``, or the first slice not processed because ``pins``
    had no room for its candidates and the rows it needs (grow ``pins`` and
    call again from there).

    State carried from chunk to chunk:

    * ``end[xy]`` / ``top[xy]``: last and first slice (global z) of the label
      run at each column; ``owner[xy]``: its active pin, or -1 (a column holds
      at most one: candidates in the same run would be identical);
    * ``active``: (k, 0) column and (k, 1) pin index of each active pin;
    * ``pins``: (k, 0) column, (k, 1) first slice, (k, 2) last slice (-1 while
      active), (k, 3) first slice of its label run, (k, 4) 1 for an extra
      candidate that covers nothing during the walk; ``pin_values[k]`` its label;
    * ``counters``: [number of pins, number of active pins].

    ``ptr`` / ``ends`` come from :func:`run_ends` for slices from local ``ptr_first`` on.
    """
    pixels = sx * sy
    nwords = sx // 64 + 1
    conn = np.empty((2 * sy + 1) * nwords, dtype=np.uint64)
    runs = _run_scratch(sx, sy)
    covered = np.empty(0, dtype=np.bool_)
    best = np.empty((0, 4), dtype=np.int64)
    for z in range(z_start, z_end):
        gz = z_global + z - z_start
        here = z * pixels
        ncomponents, runs = _slice_components(flat, here, sx, sy, nwords, conn, runs)
        if counters[0] + 2 * ncomponents > pins.shape[0]:
            return z, counters[0] + 2 * ncomponents
        run_start, run_end, labels, row_first = runs[0], runs[1], runs[3], runs[4]
        if covered.size < ncomponents:
            covered = np.empty(2 * ncomponents, dtype=np.bool_)
            best = np.empty((2 * ncomponents, 4), dtype=np.int64)
        best_end, best_xy, best_run, run_xy = best[:, 0], best[:, 1], best[:, 2], best[:, 3]

        # Runs starting in this slice: where they end.
        at = ptr[z - ptr_first]
        if z == 0:
            end[:] = ends[at : at + pixels]
            top[:] = gz
        else:
            above = here - pixels
            for i in range(pixels):
                if flat[here + i] != flat[above + i]:
                    end[i] = ends[at]
                    top[i] = gz
                    at += 1

        # Active pins cover the component they cross here, or have ended.
        covered[:ncomponents] = False
        kept = 0
        for a in range(counters[1]):
            xy = active[a, 0]
            pin = active[a, 1]
            if top[xy] != gz:
                if pins[pin, 4] == 0:
                    covered[labels[run_at(run_start, row_first, xy % sx, xy // sx)]] = True
                active[kept, 0] = xy
                active[kept, 1] = pin
                kept += 1
            else:
                pins[pin, 2] = gz - 1
                owner[xy] = -1
        n_active = kept

        # Every other component gets a pin at its pixel whose run reaches furthest down, and a
        # candidate (tracked, but covering nothing yet) at its pixel with the longest run.
        best_end[:ncomponents] = -1
        best_run[:ncomponents] = -1
        for y in range(sy):
            row = y * sx
            for r in range(row_first[y], row_first[y + 1]):
                component = labels[r]
                if covered[component]:
                    continue
                for x in range(run_start[r], run_end[r]):
                    if end[row + x] > best_end[component]:
                        best_end[component] = end[row + x]
                        best_xy[component] = row + x
                    if end[row + x] - top[row + x] > best_run[component]:
                        best_run[component] = end[row + x] - top[row + x]
                        run_xy[component] = row + x
        for component in range(ncomponents):
            if covered[component]:
                continue
            for candidate in range(2):
                xy = best_xy[component] if candidate == 0 else run_xy[component]
                if candidate == 1 and (xy == best_xy[component] or top[xy] == gz):
                    continue
                if owner[xy] >= 0:
                    if candidate == 0:
                        pins[owner[xy], 4] = 0
                    continue
                pin = counters[0]
                owner[xy] = pin
                counters[0] += 1
                pins[pin, 0] = xy
                pins[pin, 1] = gz
                pins[pin, 2] = -1
                pins[pin, 3] = top[xy]
                pins[pin, 4] = candidate
                pin_values[pin] = flat[here + xy]
                active[n_active, 0] = xy
                active[n_active, 1] = pin
                n_active += 1
        counters[1] = n_active
    return z_end, 0


@kernel
def select_cover(offsets, crossed, ncomponents, pin_bytes, cc_bytes):
    """Greedy weighted set cover: repeatedly keep the candidate pin that covers the most components
    not yet covered, while that saves more than listing them would. Returns the kept mask."""
    npins = offsets.size - 1
    covered = np.zeros(ncomponents, dtype=np.bool_)
    kept = np.zeros(npins, dtype=np.bool_)
    heap = [(-(offsets[k + 1] - offsets[k]), k) for k in range(npins)]
    heapq.heapify(heap)
    while heap:
        negative, k = heapq.heappop(heap)
        gain = 0
        for j in range(offsets[k], offsets[k + 1]):
            gain += not covered[crossed[j]]
        if gain * cc_bytes <= pin_bytes:
            if gain == -negative:
                break
            continue
        if heap and gain < -heap[0][0]:
            heapq.heappush(heap, (-gain, k))
            continue
        kept[k] = True
        for j in range(offsets[k], offsets[k + 1]):
            covered[crossed[j]] = True
    return kept


@kernel
def pin_crossings(flat, sx, sy, z_start, z_end, z_global, pins, by_first, offsets, crossed, state):
    """Record the component (id within its slice) each pin crosses in slices ``z_start .. z_end - 1``
    (local z).

    Pin k spans slices ``pins[k, 0] .. pins[k, 1]`` at column ``pins[k, 2]``;
    ``by_first`` lists pins by first slice. Its j-th slice's component goes to
    ``crossed[offsets[k] + j]``. ``state`` = [next pin of ``by_first``,
    number of active pins, then the active pins].
    """
    pixels = sx * sy
    nwords = sx // 64 + 1
    conn = np.empty((2 * sy + 1) * nwords, dtype=np.uint64)
    runs = _run_scratch(sx, sy)
    for z in range(z_start, z_end):
        gz = z_global + z - z_start
        while state[0] < by_first.size and pins[by_first[state[0]], 0] == gz:
            state[2 + state[1]] = by_first[state[0]]
            state[0] += 1
            state[1] += 1
        if state[1] == 0:
            continue
        _, runs = _slice_components(flat, z * pixels, sx, sy, nwords, conn, runs)
        run_start, labels, row_first = runs[0], runs[3], runs[4]
        kept = 0
        for a in range(state[1]):
            pin = state[2 + a]
            xy = pins[pin, 2]
            component = labels[run_at(run_start, row_first, xy % sx, xy // sx)]
            crossed[offsets[pin] + gz - pins[pin, 0]] = component
            if pins[pin, 1] > gz:
                state[2 + kept] = pin
                kept += 1
        state[1] = kept


@kernel
def improve_cover(offsets, crossed, order, multiplicity, pin_bytes, cc_bytes, first, last, listed):
    """Lower the cost of a cover in place.

    Pin k crosses components ``crossed[offsets[k] : offsets[k + 1]]`` (slices
    ``first[k] .. last[k]``); ``multiplicity`` counts the pins (or lists)
    covering each component. Visiting pins in ``order``: a pin whose
    components are all covered twice is dropped; pin ends over such components
    are trimmed; a pin covering alone so few components that listing them costs
    no more (``pin_bytes`` against ``cc_bytes`` each) is dropped and they go to
    ``listed`` (-1 elsewhere). Dropped pins get ``last < first``.
    """
    for k in order:
        a, b = offsets[k], offsets[k + 1]
        alone = 0
        for j in range(a, b):
            alone += multiplicity[crossed[j]] == 1
        if alone == 0:
            for j in range(a, b):
                multiplicity[crossed[j]] -= 1
            last[k] = first[k] - 1
            continue
        while multiplicity[crossed[a]] > 1:
            multiplicity[crossed[a]] -= 1
            a += 1
            first[k] += 1
        while multiplicity[crossed[b - 1]] > 1:
            multiplicity[crossed[b - 1]] -= 1
            b -= 1
            last[k] -= 1
        if alone * cc_bytes <= pin_bytes:
            for j in range(a, b):
                if multiplicity[crossed[j]] == 1:
                    listed[j] = crossed[j]
                else:
                    multiplicity[crossed[j]] -= 1
            last[k] = first[k] - 1
