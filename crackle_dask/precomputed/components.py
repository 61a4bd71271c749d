"""Connected components of a precomputed layer, chunk by chunk, written as a layer.

The chunks are the pieces of :mod:`crackle_dask.components` on a 3-D grid: each
is labelled on its own and keeps its faces, the pairs that touch across faces
(and at 26, edges and corners) are joined by the tree of region merges of
:mod:`crackle_dask.merge_tree`, and each chunk's component ids are replaced by
their final labels and written as a layer with the input's geometry, chunking
and sharding; the ``info`` last.
"""

import dask
import fsspec

from crackle.errors import FormatError

from ..components import Components, component_tasks, label_piece, relabelled
from ..jobs import graph_result, run
from .layer import Layer, forget_indices, layer_root
from .write import _info_task, chunk_writes


def label_chunk(layer: Layer, mip: int, point, piece: int, sides: list, connectivity: int, binary_image: bool,
                fill_missing: bool) -> tuple:
    """:func:`crackle_dask.components.label_piece` of one chunk (errors name it)."""
    scale = layer.info.scale(mip)
    stream = layer.stream(scale, point, layer.payloads(mip, [point], fill_missing)[point])
    try:
        return label_piece(stream, piece, sides, connectivity, binary_image)
    except FormatError as err:
        raise FormatError(f"{layer.where(scale, point)}: {err}") from err


def layer_components(url, out: str, connectivity: int = 26, binary_image: bool = False, mip: int = 0,
                     fill_missing: bool = False, storage_options=None, compute: bool = True,
                     progress: bool = False):
    """:func:`crackle_dask.connected_components` of a precomputed layer (see the module docstring)."""
    layer = Layer.open(url, storage_options)
    scale = layer.info.scale(mip)
    out_fs, root = fsspec.core.url_to_fs(layer_root(out), **(storage_options or {}))
    if out_fs.unstrip_protocol(root) == layer.fs.unstrip_protocol(layer.root):
        raise ValueError(f"the output layer {out!r} is the input: choose another")
    points = scale.points_in((0, 0, 0), scale.size)
    token = dask.base.tokenize(layer.fs, layer.root, layer.info.raw, mip, out, connectivity, binary_image,
                               fill_missing)
    source, tasks = f"layer-{token}", {}
    tasks[source] = layer
    relabel, top = component_tasks(
        tasks, points,
        lambda i, sides: (label_chunk, source, mip, points[i], i, sides, connectivity, binary_image, fill_missing),
        connectivity, binary_image, token)
    order = {p: i for i, p in enumerate(points)}
    output = Layer(out_fs, root, layer.info)
    writes = chunk_writes(tasks, scale, out_fs, root, lambda p: (relabelled, *relabel(order[p])),
                          False, token)
    tasks[f"info-{token}"] = (_info_task, writes, out_fs, root, (_output_info, layer.info.raw, mip, top))
    tasks[f"components-{token}"] = (_components, f"info-{token}", out_fs, top)
    result = graph_result(f"layer-components-{token}", tasks, f"components-{token}")
    forget_indices(out_fs, root)
    out_fs.makedirs(root, exist_ok=True)
    out_fs.makedirs(output.folder(scale), exist_ok=True)
    return run(result, compute, progress)


def _output_info(info: dict, mip: int, top) -> dict:
    """The input's info with scale ``mip`` alone, Crackle chunks, and the dtype the labels need."""
    scale = dict(info["scales"][mip], encoding="crackle")
    scale.pop("compressed_segmentation_block_size", None)
    dtype = "uint32" if top.closed < 2**32 else "uint64"
    return dict(info, type="segmentation", data_type=dtype, num_channels=1, scales=[scale])


def _components(root: str, fs, top) -> Components:
    return Components([f"precomputed://{fs.unstrip_protocol(root)}"], top.closed)
