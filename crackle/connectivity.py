"""3-D connected components of a compressed volume, without building its label array.

A slice's 4-connected components are what its crack code describes, so 3-D
components are unions of them: component-id images of a slab of slices are
decoded (ids, not labels), neighbouring components of the same label (or, for
a binary image, any two foreground ones) are joined with a union-find, across
z and, for 26-connectivity, across in-plane diagonals; slab after slab, the
last slice of one kept for the next. Two 4-adjacent pixels of different
labels never join (except in a binary image), so the result's crack codes are
the input's: only a new labels section is written.
"""

import numpy as np

from . import codec
from .format.assemble import assemble
from .format.header import LabelFormat
from .format.label_writer import flat_section
from .kernels.union_find import flatten, link, run_ends
from .operations import copy_header, stored_model

_IN_PLANE_26 = ((1, 1), (1, -1))
_IN_PLANE_BINARY = ((1, 0), (0, 1))  # different labels, both foreground: joined in a binary image
_ACROSS = {6: ((0, 0),), 26: tuple((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1))}


def connected_components(binary, connectivity: int = 26, binary_image: bool = False,
                         memory_target: int = int(3.5e9), progress: bool = False,
                         return_mapping: bool = False, parallel: int = 0):
    """Label the 6- or 26-connected components of a stream; label 0 is background.

    Parameters
    ----------
    binary : bytes-like or CrackleArray
    connectivity : 6 or 26
    binary_image : bool
        Treat every non-zero voxel as one foreground class.
    memory_target : int
        Bytes for the component-id images of a slab of slices (at least two
        slices are held); the per-component tables come on top.
    progress : bool
        Show a progress bar over the slabs.
    return_mapping : bool
        Also return ``{component label: original label}``.

    Returns
    -------
    CrackleArray, or (CrackleArray, dict)
        Components numbered 1, 2, ... in order of their first voxel in the
        stream's component order (uint32, or uint64 beyond 2^32 - 1 of them);
        FLAT labels, the input's crack codes.
    """
    from .array import CrackleArray  # the array module builds on this one

    if connectivity not in (6, 26):
        raise ValueError(f"connectivity must be 6 or 26, got {connectivity!r}")
    view = codec.stream_view(binary)
    head = view.header
    values = codec.component_values(view, parallel=parallel)
    foreground = values != 0
    kind = foreground.astype(np.uint8) if binary_image else values
    parent = np.arange(values.size, dtype=np.int64)
    in_plane = (_IN_PLANE_26 if connectivity == 26 else ()) + (_IN_PLANE_BINARY if binary_image else ())
    id_bytes = 4 if values.size < 2**32 else 8
    depth = max(2, int(memory_target) // max(1, head.sx * head.sy * id_bytes))
    starts = range(0, head.sz, depth)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="connected components", unit="slab")
    previous = None
    for z0 in starts:
        z1 = min(z0 + depth, head.sz)
        ids = np.empty((head.sx, head.sy, z1 - z0), dtype=np.uint32 if id_bytes == 4 else np.uint64, order="F")
        codec._run_kernel(view, z0, z1, parallel, None, True, target=lambda out=ids: out, values="components")
        for z in range(z1 - z0):
            plane = ids[:, :, z]
            ends = run_ends(plane)
            for dx, dy in in_plane:
                link(plane, ends, plane, ends, dx, dy, foreground, kind, parent)
            if previous is not None:
                for dx, dy in _ACROSS[connectivity]:
                    link(previous[0], previous[1], plane, ends, dx, dy, foreground, kind, parent)
            previous = (plane.copy() if z == z1 - z0 - 1 else plane, ends)
        del ids, plane  # (a view of the slab would keep it alive while the next one is allocated)
    labels, count = flatten(parent, foreground)
    dtype = np.uint32 if count < 2**32 else np.uint64
    out_head = copy_header(head)
    out_head.label_format = LabelFormat.FLAT
    out_head.data_width, out_head.signed, out_head.is_remapped = np.dtype(dtype).itemsize, False, False
    if head.voxels() == 0:
        stream = assemble(out_head, b"", b"", [], np.zeros(0), np.zeros(0))
    else:
        counts = np.diff(view.labels.component_offsets)
        layout = view.layout
        codes = view.read(int(layout.code_offsets[0]), int(layout.code_offsets[-1]))
        stream = assemble(out_head, flat_section(labels.astype(dtype), counts, out_head), stored_model(view),
                          [codes], np.diff(layout.code_offsets), codec.slice_checksums(view))
    result = CrackleArray(stream, parallel=parallel)
    if not return_mapping:
        return result
    return result, dict(zip(labels[foreground].tolist(), values[foreground].tolist()))
