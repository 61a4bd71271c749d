"""Writing volumes as Neuroglancer precomputed layers on any fsspec store: :func:`to_precomputed`.

The volume is rechunked to the storage grid. Unsharded scales get one task
per chunk, which encodes it and writes its file; sharded scales get one
encoding task per chunk and one task per shard, which writes the shard with
its minishard indices. ``mips=n`` adds n scales, each pooled 2x2x1 from the
one below chunk by chunk (``crackle.mode_pooling_2x2x1``'s rule), so every
zoom level is computed on the cluster. Every file is written atomically
(a temporary file renamed into place, or one upload), and the ``info`` last:
a job that fails leaves no ``info`` for a layer that was not there, and an
existing layer's files whole.
"""

import json
import numbers
import posixpath

import dask
import dask.array as da
import fsspec
import numpy as np

from crackle.files import atomic_write_on, is_local
from crackle.inputs import as_fortran
from crackle.stacking import pooled_2x2x1

from ..jobs import graph_result, run
from ..volumes import label_volume
from .encodings import encode_chunk, gzipped
from .info import DATA_TYPES, ENCODINGS, Scale, parse_info
from .layer import forget_indices, layer_root
from .read import scale_of
from .sharding import ShardingSpec, auto_spec, compressed_morton, shard_parts

CSEG_BLOCK = (8, 8, 8)


def _triple(value, name: str, kind=numbers.Integral, positive: bool = False) -> tuple:
    values = (value,) * 3 if isinstance(value, numbers.Number) else tuple(value)
    if len(values) != 3 or any(not isinstance(v, kind) or isinstance(v, bool) or (positive and v <= 0)
                               for v in values):
        raise ValueError(f"{name} must be three {'positive ' if positive else ''}numbers, got {value!r}")
    return tuple(v.item() if hasattr(v, "item") else v for v in values)


def _key(resolution) -> str:
    return "_".join(f"{r:g}" for r in resolution)


def _scales(size, resolution, voxel_offset, chunk_size, encoding, sharding, mips, chunk_bytes) -> list:
    """The ``info`` entries of scale 0 and its ``mips`` downsampled scales (x and y halved: sizes
    rounded up, offsets down, as cloud-volume's ``add_scale``)."""
    scales = []
    for mip in range(mips + 1):
        entry = {"key": _key(resolution), "size": list(size), "resolution": list(resolution),
                 "voxel_offset": list(voxel_offset), "chunk_sizes": [list(chunk_size)], "encoding": encoding}
        if encoding == "compressed_segmentation":
            entry["compressed_segmentation_block_size"] = list(CSEG_BLOCK)
        if sharding is True:
            grid = [-(-n // c) for n, c in zip(size, chunk_size)]
            entry["sharding"] = auto_spec(grid, chunk_bytes).to_json()
        elif sharding:
            entry["sharding"] = dict({"@type": "neuroglancer_uint64_sharded_v1"}, **sharding)
        scales.append(entry)
        size = [-(-size[0] // 2), -(-size[1] // 2), size[2]]
        voxel_offset = [voxel_offset[0] // 2, voxel_offset[1] // 2, voxel_offset[2]]
        resolution = [resolution[0] * 2, resolution[1] * 2, resolution[2]]
    return scales


def pooled(volume: da.Array, chunk_size) -> da.Array:
    """``volume`` downsampled 2x2x1 (mode of each 2x2 block, crackle-codec's ties), chunk by chunk."""
    source = volume.rechunk((2 * chunk_size[0], 2 * chunk_size[1], chunk_size[2]))
    chunks = tuple(tuple(-(-n // 2) for n in c) for c in source.chunks[:2]) + (source.chunks[2],)
    # (Fortran order: the kernel is compiled for the memory orders streams decode to)
    return source.map_blocks(as_fortran).map_blocks(pooled_2x2x1, parallel=1, chunks=chunks, dtype=volume.dtype)


def _write_file(fs, path: str, pieces, content_gzip: bool = False) -> int:
    """Write ``pieces`` (bytes) to ``path`` atomically; returns the size written. On S3 a gzipped
    file (``content_gzip``) is marked Content-Encoding gzip, as Neuroglancer expects."""
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol
    if content_gzip and "s3" in protocols:
        data = b"".join(pieces)
        fs.pipe_file(path, data, ContentEncoding="gzip")  # one upload: atomic on an object store
        return len(data)
    size = 0
    with atomic_write_on(fs, path) as handle:
        for piece in pieces:  # (a shard's pieces are not joined in memory first)
            size += handle.write(piece)
    return size


def _chunk_file(fs, path: str, gzip: bool, make, *args) -> int:
    """Make a chunk's payload (``make(*args)``) and write it as its own file."""
    payload = make(*args)
    return _write_file(fs, path, [gzipped(payload) if gzip else payload], gzip)


def _encode_task(block, scale: Scale, options: dict) -> bytes:
    return encode_chunk(block, scale.encoding, scale.block_size, **options)


def _shard_task(payloads: list, ids: list, fs, path: str, spec: ShardingSpec) -> int:
    return _write_file(fs, path, shard_parts(spec, dict(zip(ids, payloads))))


def _info_task(sizes: list, fs, root: str, info: dict) -> str:
    _write_file(fs, posixpath.join(root, "info"), [json.dumps(info, indent=2).encode()])
    return root


def to_precomputed(array, url: str, resolution=None, voxel_offset=None, chunk_size=(128, 128, 64),
                   encoding: str = "crackle", allow_pins: bool = False, markov_model_order: int = 0,
                   compress=None, sharding=None, mips: int = 0, storage_options=None, compute: bool = True,
                   progress: bool = False):
    """Write a volume as a Neuroglancer precomputed segmentation layer, a task per chunk (or shard).

    Parameters
    ----------
    array : dask.array.Array, numpy.ndarray, xarray.DataArray or Dataset
        Integer labels (x, y, z), as :func:`crackle_dask.to_crackle` takes them;
        also an array opened with :func:`crackle_dask.open_precomputed` (to transcode a layer).
    url : str
        The layer's folder: ``precomputed://`` + any fsspec URL, or a path.
    resolution, voxel_offset : three numbers, optional
        Voxel size in nm and the first voxel's position. Default: what the
        input says (an opened layer's scale, an xarray's coordinates), else
        (1, 1, 1) and (0, 0, 0).
    chunk_size : three ints
        Storage chunk size (x, y, z).
    encoding : {"crackle", "raw", "compressed_segmentation"}
        Crackle chunks are byte-identical to ``crackle.compress`` of the
        Fortran-order chunk with ``allow_pins`` and ``markov_model_order``.
    compress : None or "gzip"
        Gzip unsharded chunk files (a ``.gz`` suffix on local disks, as
        cloud-volume writes them; on S3 the plain name with Content-Encoding gzip).
    sharding : None, True or dict
        None: one file per chunk. True: shards chosen from the volume (about
        4 GiB decoded per shard, identity hash so that a shard is a region,
        gzipped minishard indices, raw chunk data). A dict gives the sharding
        specification's fields for every scale.
    mips : int
        Downsampled scales to add (each 2x2x1 mode-pooled from the one below).
    storage_options : dict, optional
        Passed to fsspec.
    compute, progress
        As for :func:`crackle_dask.voxel_counts`.

    Returns
    -------
    str
        The layer's URL as ``precomputed://`` + fsspec URL (a delayed one with ``compute=False``),
        to paste into Neuroglancer when the store is served over HTTP(S) or is gs:// / s3://.
    """
    given = label_volume(array)
    volume = given.data
    opened = scale_of(array)
    resolution = _triple(resolution if resolution is not None else opened[0] if opened else
                         given.resolution or (1, 1, 1), "resolution", numbers.Real, positive=True)
    voxel_offset = _triple(voxel_offset if voxel_offset is not None else opened[1] if opened else
                           given.voxel_offset or (0, 0, 0), "voxel_offset")
    chunk_size = _triple(chunk_size, "chunk_size", positive=True)
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if compress not in (None, False, "gzip"):
        raise ValueError(f'compress must be None or "gzip", got {compress!r}')
    if compress and sharding:
        raise ValueError('compress="gzip" applies to unsharded chunk files; shards gzip through sharding\'s '
                         '"data_encoding"')
    if not isinstance(mips, numbers.Integral) or mips < 0:
        raise ValueError(f"mips must be a number of scales to add (0 or more), got {mips!r}")
    if volume.dtype == bool:
        volume = volume.astype(np.uint8)
    dtype = volume.dtype
    if dtype.name not in DATA_TYPES:
        raise ValueError(f"precomputed layers hold {', '.join(DATA_TYPES)}, not {dtype}")
    chunk_bytes = int(np.prod(chunk_size)) * dtype.itemsize
    scales = _scales(volume.shape, resolution, voxel_offset, chunk_size, encoding, sharding, mips, chunk_bytes)
    info = {"@type": "neuroglancer_multiscale_volume", "type": "segmentation", "data_type": dtype.name,
            "num_channels": 1, "scales": scales}
    root_url = layer_root(url)
    parsed = parse_info(info, posixpath.join(root_url, "info"))  # checks what the arguments made (sharding dict)
    fs, root = fsspec.core.url_to_fs(root_url, **(storage_options or {}))
    options = {"allow_pins": int(allow_pins), "markov_model_order": markov_model_order}
    token = dask.base.tokenize(volume.name, root, info, options, compress)
    tasks, writes, grids = {}, [], []
    for mip, scale in enumerate(parsed.scales):
        if mip:
            volume = pooled(volume, chunk_size)
        grid = volume.rechunk(chunk_size)
        grids.append(grid)
        encode = lambda p, g=grid, s=scale: (_encode_task, (g.name, *p), s, options)  # noqa: E731
        writes += chunk_writes(tasks, scale, fs, root, encode, bool(compress), f"{mip}-{token}")
    tasks[f"info-{token}"] = (_info_task, writes, fs, root, info)
    result = graph_result(f"write-precomputed-{token}", tasks, f"info-{token}", grids)
    forget_indices(fs, root)  # (this process's kept shard indices of a layer written before at root)
    fs.makedirs(root, exist_ok=True)
    for scale in parsed.scales:
        fs.makedirs(posixpath.join(root, scale.key), exist_ok=True)
    done = run(result, compute, progress)
    if not compute:
        return done
    return url if str(url).startswith("precomputed://") else f"precomputed://{fs.unstrip_protocol(done)}"


def chunk_writes(tasks: dict, scale: Scale, fs, root: str, payload, gzip: bool, token: str) -> list:
    """Add to ``tasks`` the writes of every chunk of a scale: a file per chunk (the task that makes
    a chunk writes it), or a shard per group of chunks (one task per shard writes the chunks that
    tasks made); returns the keys of the writes. ``payload(point)`` is the task ``(function,
    *args)`` that makes that chunk's bytes (arguments may name other tasks)."""
    folder = posixpath.join(root, scale.key)
    points = scale.points_in((0, 0, 0), scale.size)
    if scale.sharding is None:
        suffix = ".gz" if gzip and is_local(fs) else ""
        keys = [f"chunk-{p}-{token}" for p in points]
        for key, p in zip(keys, points):
            tasks[key] = (_chunk_file, fs, posixpath.join(folder, scale.chunk_name(p) + suffix), gzip, *payload(p))
        return keys
    spec = scale.sharding
    ids = compressed_morton(points, scale.grid_shape)
    shards, _ = spec.locate(ids)
    for p in points:
        tasks[f"encode-{p}-{token}"] = payload(p)
    keys = []
    for shard in np.unique(shards).tolist():
        mine = np.flatnonzero(shards == shard).tolist()
        keys.append(f"shard-{shard}-{token}")
        tasks[keys[-1]] = (_shard_task, [f"encode-{points[i]}-{token}" for i in mine], [int(ids[i]) for i in mine],
                           fs, posixpath.join(folder, spec.shard_name(shard)), spec)
    return keys
