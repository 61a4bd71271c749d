"""Neuroglancer's ``neuroglancer_uint64_sharded_v1`` format (``sharded.md``), pure: no I/O.

A chunk's id is the compressed Morton code of its grid point. The id, shifted
right by ``preshift_bits`` and hashed (identity or MurmurHash3_x86_128), gives
the minishard (its low ``minishard_bits``) and the shard (the next
``shard_bits``). A shard file starts with the shard index, ``2**minishard_bits``
pairs of uint64le ``[start, end)`` offsets of each minishard index; a
minishard index is a ``[3, n]`` uint64le array of delta-coded chunk ids,
delta-coded offsets (each relative to the end of the chunk before) and sizes.
Every offset counts from the end of the shard index. Both kinds of index are
checked here before anything is read through them.
"""

import gzip
import numbers
import zlib
from dataclasses import dataclass

import numpy as np

from crackle.errors import FormatError

HASHES = ("identity", "murmurhash3_x86_128")
INDEX_ENCODINGS = ("raw", "gzip")


@dataclass(frozen=True)
class ShardingSpec:
    """A sharding specification (the ``sharding`` member of a scale)."""

    preshift_bits: int
    hash: str
    minishard_bits: int
    shard_bits: int
    minishard_index_encoding: str = "raw"
    data_encoding: str = "raw"

    @classmethod
    def from_json(cls, obj, where: str) -> "ShardingSpec":
        """Parse and check a ``sharding`` JSON object; errors name ``where``."""
        if not isinstance(obj, dict) or obj.get("@type") != "neuroglancer_uint64_sharded_v1":
            raise FormatError(f"{where}: sharding must be a neuroglancer_uint64_sharded_v1 object, got {obj!r}")
        bits = {}
        for name in ("preshift_bits", "minishard_bits", "shard_bits"):
            value = obj.get(name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not 0 <= value <= 64:
                raise FormatError(f"{where}: sharding {name!r} must be an integer from 0 to 64, got {value!r}")
            bits[name] = int(value)
        if bits["minishard_bits"] + bits["shard_bits"] > 64:
            raise FormatError(f"{where}: sharding minishard_bits + shard_bits exceed 64")
        if bits["minishard_bits"] > 32:
            raise FormatError(f"{where}: sharding minishard_bits {bits['minishard_bits']} would make a shard "
                              "index larger than 64 GiB")
        if obj.get("hash") not in HASHES:
            raise FormatError(f"{where}: sharding hash {obj.get('hash')!r} is not one of {', '.join(HASHES)}")
        encodings = {}
        for name in ("minishard_index_encoding", "data_encoding"):
            value = obj.get(name, "raw")
            if value not in INDEX_ENCODINGS:
                raise FormatError(f"{where}: sharding {name} {value!r} is not 'raw' or 'gzip'")
            encodings[name] = value
        return cls(hash=obj["hash"], **bits, **encodings)

    def to_json(self) -> dict:
        """The ``sharding`` JSON object."""
        return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": self.preshift_bits,
                "hash": self.hash, "minishard_bits": self.minishard_bits, "shard_bits": self.shard_bits,
                "minishard_index_encoding": self.minishard_index_encoding, "data_encoding": self.data_encoding}

    @property
    def index_bytes(self) -> int:
        """Length of the shard index at the start of every shard file."""
        return 16 << self.minishard_bits

    def locate(self, chunk_ids) -> tuple:
        """``(shard, minishard)`` arrays (uint64) of each chunk id."""
        ids = np.asarray(chunk_ids, dtype=np.uint64)
        shifted = ids >> np.uint64(self.preshift_bits) if self.preshift_bits < 64 else np.zeros_like(ids)
        hashed = shifted if self.hash == "identity" else murmurhash3_x86_128_low64(shifted)
        minishard = hashed & np.uint64((1 << self.minishard_bits) - 1)
        shard = (hashed >> np.uint64(self.minishard_bits)) & np.uint64((1 << self.shard_bits) - 1)
        return shard, minishard

    def shard_name(self, shard: int) -> str:
        """The file name of shard number ``shard``: lowercase hex, ``ceil(shard_bits / 4)`` digits."""
        return f"{int(shard):0{-(-self.shard_bits // 4)}x}.shard"


def compressed_morton(points, grid_shape) -> np.ndarray:
    """Compressed Morton codes (uint64) of grid ``points`` (N x 3) in a grid of ``grid_shape``:
    bit i of each coordinate, taken x, y, z, only where ``2**i < grid_shape[dim]``."""
    points = np.asarray(points, dtype=np.uint64).reshape(-1, 3)
    codes = np.zeros(len(points), dtype=np.uint64)
    j = 0
    for i in range(max(int(n - 1).bit_length() for n in grid_shape) if len(grid_shape) else 0):
        for dim in range(3):
            if (1 << i) < grid_shape[dim]:
                if j >= 64:
                    raise ValueError(f"a grid of {tuple(grid_shape)} chunks needs more than 64 bits of chunk id")
                codes |= ((points[:, dim] >> np.uint64(i)) & np.uint64(1)) << np.uint64(j)
                j += 1
    return codes


def _rotl(x, r: int):
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _fmix(h):
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def murmurhash3_x86_128_low64(keys) -> np.ndarray:
    """The low 64 bits of MurmurHash3_x86_128 (seed 0) of each uint64 key's 8 little-endian bytes."""
    keys = np.asarray(keys, dtype=np.uint64)
    with np.errstate(over="ignore"):
        k1 = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        k2 = (keys >> np.uint64(32)).astype(np.uint32)
        c1, c2, c3 = np.uint32(0x239B961B), np.uint32(0xAB0E9789), np.uint32(0x38B34AE5)
        h2 = _rotl(k2 * c2, 16) * c3  # the tail: bytes 4-7 go to h2 ...
        h1 = _rotl(k1 * c1, 15) * c2  # ... bytes 0-3 to h1 (h3 and h4 get none)
        length = np.uint32(8)
        h1, h2 = h1 ^ length, h2 ^ length
        h3 = h4 = np.full_like(h1, length)
        h1 = h1 + h2 + h3 + h4
        h2, h3, h4 = h2 + h1, h3 + h1, h4 + h1
        h1, h2, h3, h4 = _fmix(h1), _fmix(h2), _fmix(h3), _fmix(h4)
        h1 = h1 + h2 + h3 + h4
        h2 = h2 + h1
    return h1.astype(np.uint64) | (h2.astype(np.uint64) << np.uint64(32))


def _decoded(data: bytes, encoding: str, what: str) -> bytes:
    if encoding == "raw":
        return bytes(data)
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise FormatError(f"{what}: not valid gzip ({err})") from err


def minishard_index_range(entry: bytes, spec: ShardingSpec, shard_size: int, where: str) -> tuple:
    """``(start, stop)`` in the shard file of the minishard index that a 16-byte shard index entry
    points to (equal when the minishard is empty); checked against the file's size."""
    if len(entry) != 16:
        raise FormatError(f"{where}: truncated shard index entry ({len(entry)} of 16 bytes)")
    start, stop = (int(v) for v in np.frombuffer(entry, dtype="<u8"))
    start, stop = start + spec.index_bytes, stop + spec.index_bytes
    if not start <= stop <= shard_size:
        raise FormatError(f"{where}: shard index entry points at bytes {start}..{stop} of a {shard_size}-byte shard")
    return start, stop


def parse_minishard_index(data: bytes, spec: ShardingSpec, shard_size: int, where: str) -> dict:
    """``{chunk id: (start, stop)}`` in the shard file, from an encoded minishard index; checks that
    every chunk lies inside the file after the shard index."""
    raw = _decoded(data, spec.minishard_index_encoding, f"{where}: minishard index")
    if len(raw) % 24:
        raise FormatError(f"{where}: a minishard index of {len(raw)} bytes is not a [3, n] uint64 array")
    table = np.frombuffer(raw, dtype="<u8").reshape(3, -1)
    with np.errstate(over="ignore"):
        ids = np.cumsum(table[0], dtype=np.uint64)
    sizes = table[2].astype(object)
    starts = []
    at = spec.index_bytes
    for delta, size in zip(table[1].tolist(), sizes.tolist()):
        at += delta
        starts.append(at)
        at += size
    if starts and (at > shard_size or min(starts) < spec.index_bytes):
        raise FormatError(f"{where}: the minishard index points past the end of the {shard_size}-byte shard")
    return {int(i): (s, s + z) for i, s, z in zip(ids.tolist(), starts, sizes.tolist())}


def chunk_data(data: bytes, spec: ShardingSpec, where: str) -> bytes:
    """A chunk's bytes as read from the shard, with the shard's ``data_encoding`` undone."""
    return _decoded(data, spec.data_encoding, where)


def _encoded(data: bytes, encoding: str) -> bytes:
    return gzip.compress(data, mtime=0) if encoding == "gzip" else bytes(data)


def shard_parts(spec: ShardingSpec, chunks: dict) -> list:
    """The pieces of a shard file holding ``chunks`` ({chunk id: payload}), in file order: the shard
    index, each minishard's chunks (by id), then the minishard indices."""
    ids = np.array(sorted(chunks), dtype=np.uint64)
    _, minishards = spec.locate(ids)
    index = np.zeros((1 << spec.minishard_bits, 2), dtype="<u8")
    data, tables, at = [], [], 0
    for minishard in np.unique(minishards).tolist():
        mine = ids[minishards == minishard]
        pieces = [_encoded(chunks[chunk_id], spec.data_encoding) for chunk_id in mine.tolist()]
        offsets = np.zeros(len(mine), dtype=np.uint64)
        offsets[0] = at  # the chunks follow each other: each later one starts where the one before ends
        sizes = np.array([len(piece) for piece in pieces], dtype=np.uint64)
        table = np.stack([np.diff(mine, prepend=np.uint64(0)), offsets, sizes]).astype("<u8")
        tables.append((minishard, _encoded(table.tobytes(), spec.minishard_index_encoding)))
        data += pieces
        at += int(sizes.sum())
    for minishard, table in tables:
        index[minishard] = (at, at + len(table))
        at += len(table)
    return [index.tobytes()] + data + [table for _, table in tables]


def auto_spec(grid_shape, chunk_bytes: int, shard_bytes: int = 4 << 30) -> ShardingSpec:
    """Sharding for a scale of ``grid_shape`` chunks of ``chunk_bytes`` decoded bytes each: shards
    of about ``shard_bytes`` decoded bytes that are blocks of the Morton order (identity hash, so a
    shard is a region of the volume), a few hundred chunk ids per minishard index at most, gzipped
    minishard indices and raw chunk data (Crackle chunks stay randomly accessible in z)."""
    id_bits = sum(max(0, int(n - 1).bit_length()) for n in grid_shape)
    per_shard = min(id_bits, max(0, int(shard_bytes // max(1, chunk_bytes)).bit_length() - 1))
    minishard_bits = per_shard // 2
    return ShardingSpec(preshift_bits=per_shard - minishard_bits, hash="identity", minishard_bits=minishard_bits,
                        shard_bits=id_bits - per_shard, minishard_index_encoding="gzip", data_encoding="raw")
