"""A precomputed layer's ``info``: parsed, checked, and its chunk grid (pure; no I/O).

The format is Neuroglancer's ``volume.md``: a JSON object with ``data_type``,
``num_channels``, ``type`` and a list of ``scales``, each with a ``key``,
``size``, ``resolution``, ``voxel_offset``, one chunk size, an ``encoding``
and optionally a ``sharding`` specification. Every field this package uses is
checked here, so that a malformed ``info`` fails with a ``FormatError`` that
names the file and the field before any chunk is read.

Coordinates: a scale's voxels are indexed from 0 ("local") in the arrays this
package returns; chunk keys and ``voxel_offset`` are in the layer's voxel
coordinates (local + ``voxel_offset``).
"""

import itertools
import numbers
from dataclasses import dataclass
from typing import Optional

import numpy as np

from crackle.errors import FormatError

from .sharding import ShardingSpec

ENCODINGS = ("crackle", "raw", "compressed_segmentation")
DATA_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32")


@dataclass(frozen=True)
class Scale:
    """One resolution of a layer: its geometry, chunking, encoding and sharding."""

    key: str
    size: tuple
    resolution: tuple
    voxel_offset: tuple
    chunk_size: tuple
    encoding: str
    block_size: Optional[tuple] = None  # compressed_segmentation only
    sharding: Optional[ShardingSpec] = None

    @property
    def grid_shape(self) -> tuple:
        """Chunks along x, y and z: ``ceil(size / chunk_size)``."""
        return tuple(-(-n // c) for n, c in zip(self.size, self.chunk_size))

    def chunk_box(self, point) -> tuple:
        """``(start, stop)`` in local voxels of the chunk at grid ``point`` (clipped to the volume)."""
        start = tuple(int(g) * c for g, c in zip(point, self.chunk_size))
        stop = tuple(min(s + c, n) for s, c, n in zip(start, self.chunk_size, self.size))
        return start, stop

    def chunk_name(self, point) -> str:
        """The unsharded file name of the chunk at grid ``point``: ``x0-x1_y0-y1_z0-z1`` in layer
        coordinates."""
        start, stop = self.chunk_box(point)
        return "_".join(f"{a + o}-{b + o}" for a, b, o in zip(start, stop, self.voxel_offset))

    def points_in(self, start, stop) -> list:
        """Grid points of the chunks that the local box ``[start, stop)`` cuts, in x-fastest order."""
        ranges = [range(a // c, -(-b // c)) if b > a else range(0)
                  for a, b, c in zip(start, stop, self.chunk_size)]
        return [(x, y, z) for z, y, x in itertools.product(ranges[2], ranges[1], ranges[0])]


@dataclass(frozen=True)
class LayerInfo:
    """A layer's ``info``: type, dtype, channels, scales, and the JSON object it came from."""

    type: str
    dtype: np.dtype
    num_channels: int
    scales: tuple
    raw: dict

    def scale(self, mip: int) -> Scale:
        """The scale at index ``mip`` (ValueError if there is none)."""
        if not isinstance(mip, numbers.Integral) or not 0 <= mip < len(self.scales):
            raise ValueError(f"mip must be an index of the layer's {len(self.scales)} scale(s), got {mip!r}")
        return self.scales[mip]


def _vector(obj: dict, name: str, where: str, kind=numbers.Integral, positive=False, default=None) -> tuple:
    value = obj.get(name, default)
    ok = (isinstance(value, (list, tuple)) and len(value) == 3
          and all(isinstance(v, kind) and not isinstance(v, bool) for v in value))
    if ok and positive:
        ok = all(v > 0 for v in value)
    if not ok:
        need = "three positive" if positive else "three"
        raise FormatError(f"{where}: {name!r} must be {need} {'integers' if kind is numbers.Integral else 'numbers'}"
                          f", got {value!r}")
    return tuple(value)


def parse_scale(obj, where: str) -> Scale:
    """One entry of ``scales``, checked (``where`` names it in errors)."""
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: a scale must be a JSON object, got {type(obj).__name__}")
    key = obj.get("key")
    if not isinstance(key, str) or not key:
        raise FormatError(f"{where}: 'key' must be a non-empty string, got {key!r}")
    where = f"{where} (key {key!r})"
    size = _vector(obj, "size", where)
    if min(size) < 0:
        raise FormatError(f"{where}: 'size' must not be negative, got {size}")
    resolution = _vector(obj, "resolution", where, kind=numbers.Real, positive=True)
    voxel_offset = _vector(obj, "voxel_offset", where, default=[0, 0, 0])
    sizes = obj.get("chunk_sizes")
    if not isinstance(sizes, list) or not sizes:
        raise FormatError(f"{where}: 'chunk_sizes' must be a non-empty list of [x, y, z], got {sizes!r}")
    chunk_size = _vector({"chunk_sizes[0]": sizes[0]}, "chunk_sizes[0]", where, positive=True)
    encoding = obj.get("encoding")
    if encoding not in ENCODINGS:
        raise FormatError(f"{where}: encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    block_size = None
    if encoding == "compressed_segmentation":
        block_size = _vector(obj, "compressed_segmentation_block_size", where, positive=True)
    sharding = None
    if obj.get("sharding") is not None:
        if len(sizes) != 1:
            raise FormatError(f"{where}: a sharded scale must list one chunk size, got {len(sizes)}")
        sharding = ShardingSpec.from_json(obj["sharding"], where)
    return Scale(key, size, resolution, voxel_offset, chunk_size, encoding, block_size, sharding)


def parse_info(obj, where: str = "info") -> LayerInfo:
    """A layer's ``info`` JSON object, checked; ``where`` (the file's URL) prefixes every error."""
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: the info must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("@type", "neuroglancer_multiscale_volume")
    if kind != "neuroglancer_multiscale_volume":
        raise FormatError(f"{where}: '@type' must be 'neuroglancer_multiscale_volume', got {kind!r}")
    layer_type = obj.get("type")
    if layer_type not in ("image", "segmentation"):
        raise FormatError(f"{where}: 'type' must be 'image' or 'segmentation', got {layer_type!r}")
    data_type = obj.get("data_type")
    if not isinstance(data_type, str) or data_type.lower() not in DATA_TYPES:
        raise FormatError(f"{where}: 'data_type' must be one of {', '.join(DATA_TYPES)}, got {data_type!r}")
    channels = obj.get("num_channels", 1)
    if not isinstance(channels, numbers.Integral) or isinstance(channels, bool) or channels < 1:
        raise FormatError(f"{where}: 'num_channels' must be a positive integer, got {channels!r}")
    scales = obj.get("scales")
    if not isinstance(scales, list) or not scales:
        raise FormatError(f"{where}: 'scales' must be a non-empty list, got {scales!r}")
    parsed = tuple(parse_scale(s, f"{where}: scales[{i}]") for i, s in enumerate(scales))
    dtype = np.dtype(data_type.lower())
    for i, scale in enumerate(parsed):
        if scale.encoding == "crackle" and (dtype.kind not in "ui" or channels != 1):
            raise FormatError(f"{where}: scales[{i}]: crackle chunks hold one channel of integers, "
                              f"not {channels} channel(s) of {dtype}")
        if scale.encoding == "compressed_segmentation" and dtype not in (np.uint32, np.uint64):
            raise FormatError(f"{where}: scales[{i}]: compressed_segmentation holds uint32 or uint64, not {dtype}")
    return LayerInfo(layer_type, dtype, int(channels), parsed, obj)
