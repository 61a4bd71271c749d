"""Choosing pins: cover every component of every label with vertical runs (pins) or list it.

A pin is a column (x, y) and a z range over which the label stays the same; it
marks the component it crosses in each slice of that range. The search walks
z downwards once. Pins already placed stay active while their column keeps
its label and cover the components they cross. A component that no active pin
of its label crosses gets a new pin at its pixel whose label run reaches
furthest down (a look-ahead computed a chunk of slices at a time), so each pin
covers as many later components as possible. Pins too short to pay for
themselves become entries of their label's component list instead.
"""

import numpy as np
from numba import njit

from .ccl import label_runs, run_at
from .encode import pixel_connectivity


@njit(cache=True, nogil=True)
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
    counts = np.zeros(nz, dtype=np.int64)
    chunks = []
    for z in range(z_cap - 1, z_start - 1, -1):
        here = z * pixels
        if z < z_cap - 1:
            below = here + pixels
            for i in range(pixels):
                if flat[here + i] != flat[below + i]:
                    end[i] = z
        if z < z_end:
            found = np.empty(pixels, dtype=np.int32)
            n = 0
            if z == 0:
                found[:] = end
                n = pixels
            else:
                above = here - pixels
                for i in range(pixels):
                    if flat[here + i] != flat[above + i]:
                        found[n] = end[i]
                        n += 1
            counts[z - z_start] = n
            chunks.append(found[:n].copy())
    ptr = np.zeros(nz + 1, dtype=np.int64)
    for i in range(nz):
        ptr[i + 1] = ptr[i] + counts[i]
    ends = np.empty(ptr[nz], dtype=np.int32)
    for k in range(nz):
        i = nz - 1 - k
        ends[ptr[i] : ptr[i + 1]] = chunks[k]
    return ptr, ends


@njit(cache=True, nogil=True)
def place_pins(flat, sx, sy, z_start, z_end, z_global, ptr, ends, component_offsets,
               end, active, pins, pin_values, pin_components, counters):
    """Place pins for slices ``z_start .. z_end - 1`` of ``flat`` (local z; slice z - 1 is present
    unless z is the volume's first slice, local 0).

    State carried from chunk to chunk:

    * ``end[xy]``: the last slice (global z) of the label run at each column;
    * ``active``: (k, 0) column and (k, 1) pin index of each active pin;
    * ``pins``: (k, 0) column, (k, 1) first slice, (k, 2) last slice of each pin
      (last is -1 while active); ``pin_values[k]`` its label;
    * ``pin_components[k, j]``: global id of the component the pin crosses at
      its j-th slice (for the first ``pin_components.shape[1]`` slices);
    * ``counters``: [number of pins, number of active pins].

    ``ptr`` / ``ends`` come from :func:`run_ends` for the same slices and
    ``component_offsets[z]`` is the global id of slice z's first component.
    """
    pixels = sx * sy
    nwords = sx // 64 + 1
    keep = pin_components.shape[1]
    conn = np.empty((2 * sy + 1) * nwords, dtype=np.uint64)
    equal = np.empty(sx + 8, dtype=np.uint8)
    run_start = np.empty(pixels, dtype=np.int64)
    run_end = np.empty(pixels, dtype=np.int64)
    parent = np.empty(pixels, dtype=np.int64)
    labels = np.empty(pixels, dtype=np.int64)
    row_first = np.empty(sy + 1, dtype=np.int64)
    covered = np.empty(pixels, dtype=np.bool_)
    best_end = np.empty(pixels, dtype=np.int64)
    best_xy = np.empty(pixels, dtype=np.int64)
    for z in range(z_start, z_end):
        gz = z_global + z - z_start
        here = z * pixels
        pixel_connectivity(flat, here, sx, sy, conn, nwords, equal)
        ncomponents = label_runs(conn, nwords, sx, sy, run_start, run_end, row_first, parent, labels)
        first_id = component_offsets[gz]

        # Runs starting in this slice: where they end.
        at = ptr[z - z_start]
        if z == 0:
            end[:] = ends[at : at + pixels]
        else:
            above = here - pixels
            for i in range(pixels):
                if flat[here + i] != flat[above + i]:
                    end[i] = ends[at]
                    at += 1

        # Active pins cover the component they cross here, or have ended.
        covered[:ncomponents] = False
        n_active = counters[1]
        kept = 0
        for a in range(n_active):
            xy = active[a, 0]
            pin = active[a, 1]
            if z > 0 and flat[here + xy] == flat[here - pixels + xy]:
                component = labels[run_at(run_start, row_first, xy % sx, xy // sx)]
                covered[component] = True
                depth = gz - pins[pin, 1]
                if depth < keep:
                    pin_components[pin, depth] = first_id + component
                active[kept, 0] = xy
                active[kept, 1] = pin
                kept += 1
            else:
                pins[pin, 2] = gz - 1
        n_active = kept

        # Every other component gets a pin at its pixel whose run reaches furthest.
        best_end[:ncomponents] = -1
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
        for component in range(ncomponents):
            if covered[component]:
                continue
            pin = counters[0]
            counters[0] += 1
            xy = best_xy[component]
            pins[pin, 0] = xy
            pins[pin, 1] = gz
            pins[pin, 2] = -1
            pin_values[pin] = flat[here + xy]
            pin_components[pin, 0] = first_id + component
            active[n_active, 0] = xy
            active[n_active, 1] = pin
            n_active += 1
        counters[1] = n_active
