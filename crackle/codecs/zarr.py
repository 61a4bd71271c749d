"""The zarr v3 array-to-bytes codec ``"crackle"`` (see :mod:`crackle.codecs`)."""

import asyncio
from dataclasses import dataclass

import numpy as np
from zarr.abc.codec import ArrayBytesCodec, ArrayBytesCodecPartialDecodeMixin
from zarr.abc.store import RangeByteRequest
from zarr.core.common import parse_named_configuration
from zarr.storage import LocalStore, StorePath

from ..errors import FormatError
from ..format.header import HEADER_BYTES_V1, CrackleHeader
from ..format.layout import Layout
from ..format.stream import MemoryStream, PrefetchedStream
from . import check_chunk, check_dtype, decode, encode, options

NAME = "crackle"
# Decodes of at most this many voxels (a fraction of a millisecond) run on zarr's event loop: handing
# them to a worker thread would cost more than they do.
_INLINE_VOXELS = 1 << 17


@dataclass(frozen=True)
class CrackleCodec(ArrayBytesCodecPartialDecodeMixin, ArrayBytesCodec):
    """Chunks as Crackle streams, for zarr v3 arrays of integers or bools with chunks of 1 to 3 axes.

    Parameters
    ----------
    allow_pins, markov_model_order
        As for :func:`crackle.compress`.
    parallel : int
        Threads per chunk (zarr already works on several chunks at once); 0: every core.

    Examples
    --------
    >>> z = zarr.create_array(store, shape=(512, 512, 512), chunks=(128, 128, 128), dtype="uint32",
    ...                       serializer=CrackleCodec(), compressors=None)   # doctest: +SKIP
    """

    is_fixed_size = False

    allow_pins: bool
    markov_model_order: int
    parallel: int

    def __init__(self, *, allow_pins=False, markov_model_order: int = 0, parallel: int = 1):
        for name, value in zip(("allow_pins", "markov_model_order", "parallel"),
                               options(allow_pins, markov_model_order, parallel)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_dict(cls, data: dict) -> "CrackleCodec":
        """The codec an array's metadata names."""
        _, configuration = parse_named_configuration(data, NAME, require_configuration=False)
        return cls(**(configuration or {}))

    def to_dict(self) -> dict:
        """The codec as it is stored in an array's metadata."""
        return {"name": NAME, "configuration": {"allow_pins": self.allow_pins,
                                                "markov_model_order": self.markov_model_order,
                                                "parallel": self.parallel}}

    def validate(self, *, shape, dtype, chunk_grid) -> None:
        """ValueError unless the array's dtype and number of axes suit Crackle."""
        _check_array(len(shape), dtype.to_native_dtype())

    def evolve_from_array_spec(self, array_spec) -> "CrackleCodec":
        """The codec for an array (or, inside a shard, a chunk) spec: checked, unchanged (zarr
        validates no codec inside a shard)."""
        _check_array(len(array_spec.shape), array_spec.dtype.to_native_dtype())
        return self

    def compute_encoded_size(self, input_byte_length: int, chunk_spec) -> int:
        raise NotImplementedError("a Crackle stream's size depends on its contents")

    async def _encode_single(self, chunk_array, chunk_spec):
        data = await asyncio.to_thread(encode, chunk_array.as_numpy_array(), self.allow_pins,
                                       self.markov_model_order, self.parallel)
        return chunk_spec.prototype.buffer.from_bytes(data)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        try:
            return await self._decoded(MemoryStream(chunk_bytes.as_numpy_array()), chunk_spec, ())
        except FormatError as err:
            raise type(err)(f"a chunk: {err}") from err

    async def _decode_partial_single(self, byte_getter, selection, chunk_spec):
        """The chunk's ``selection``: along its first axis, only the slices it needs are decoded, and
        fetched with byte ranges when the chunk is an object of a remote store (local files and chunks
        inside a shard are read whole). Errors name the chunk."""
        z_start, z_end, first = (_span(selection[0], chunk_spec.shape[0]) if len(chunk_spec.shape) == 3
                                 else (0, 1, selection[0]))
        try:
            if isinstance(byte_getter, StorePath) and not _local(byte_getter.store):
                stream = await _fetch(byte_getter, chunk_spec, z_start, z_end)
            else:  # a chunk inside a shard (in memory), or a local file: read whole in one request
                data = await byte_getter.get(prototype=chunk_spec.prototype)
                stream = None if data is None else MemoryStream(data.as_numpy_array())
            if stream is None:
                return None
            return await self._decoded(stream, chunk_spec, (first, *selection[1:]), z_start, z_end)
        except FormatError as err:
            where = getattr(byte_getter, "path", None) or f"chunk {getattr(byte_getter, 'chunk_coords', '')} of a shard"
            raise type(err)(f"{where}: {err}") from err

    async def _decoded(self, stream, chunk_spec, selection: tuple, z_start: int = 0, z_end=None):
        shape, dtype = chunk_spec.shape, chunk_spec.dtype.to_native_dtype()
        head = stream.header
        check_chunk(head, shape, dtype)
        voxels = head.sx * head.sy * ((head.sz if z_end is None else z_end) - z_start)
        if voxels <= _INLINE_VOXELS:
            chunk = decode(stream, len(shape), dtype, self.parallel, z_start, z_end)
        else:
            chunk = await asyncio.to_thread(decode, stream, len(shape), dtype, self.parallel, z_start, z_end)
        return chunk_spec.prototype.nd_buffer.from_numpy_array(chunk[selection])


def _check_array(ndim: int, dtype) -> None:
    check_dtype(dtype)
    if not 1 <= ndim <= 3:
        raise ValueError(f"Crackle stores arrays of 1 to 3 axes, not {ndim}")


def _local(store) -> bool:
    """Whether ``store`` holds local files. zarr reads those in a worker thread per request, which
    costs far more than the bytes of a whole chunk, so a chunk is read there in one request."""
    if isinstance(store, LocalStore):
        return True
    protocol = getattr(getattr(store, "fs", None), "protocol", ())
    return bool({"file", "local"} & set((protocol,) if isinstance(protocol, str) else protocol))


def _joined(ranges: list) -> list:
    """The non-empty byte ranges, sorted, touching ones joined into one."""
    joined = []
    for start, stop in sorted(r for r in ranges if r[1] > r[0]):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], stop))
        else:
            joined.append((start, stop))
    return joined


def _span(key, size: int) -> tuple:
    """``(z_start, z_end, key)``: the slices a selection of the first axis needs, and the
    selection moved to start at ``z_start``."""
    if isinstance(key, (int, np.integer)):
        return int(key), int(key) + 1, 0
    if isinstance(key, slice):
        picked = range(*key.indices(size))
        if not picked:
            return 0, 0, slice(0, 0)
        return picked[0], picked[-1] + 1, slice(0, picked[-1] + 1 - picked[0], picked.step)
    indices = np.asarray(key)
    if indices.dtype == bool or not indices.size:
        return 0, size, key
    low = int(indices.min())
    return low, int(indices.max()) + 1, indices - low


async def _fetch(byte_getter, chunk_spec, z_start: int, z_end: int):
    """A :class:`PrefetchedStream` of a stored chunk holding what decoding slices ``z_start ..
    z_end - 1`` reads, or None when the chunk is missing. Two round trips: the header with the crack
    index (its length follows from the chunk's shape), checked against the chunk; then, together,
    the labels section and Markov model, the slices' crack codes and their checksums."""
    async def read(start: int, stop: int):
        data = await byte_getter.get(prototype=chunk_spec.prototype, byte_range=RangeByteRequest(start, stop))
        return None if data is None else data.as_numpy_array()

    slices = chunk_spec.shape[0] if len(chunk_spec.shape) == 3 else 1
    first = await read(0, HEADER_BYTES_V1 + 4 * slices + 4)  # (a v0 header and index are shorter)
    if first is None:
        return None
    head = CrackleHeader.frombytes(first)
    check_chunk(head, chunk_spec.shape, chunk_spec.dtype.to_native_dtype())
    if not head.voxels():
        return PrefetchedStream(head.header_bytes, [(0, first[: head.header_bytes])])
    index_end = head.header_bytes + head.grid_index_bytes
    if first.size < index_end:
        raise FormatError("stream truncated: the crack index is cut short")
    layout = Layout.from_index(head, first[head.header_bytes : index_end])
    ranges = _joined([(index_end, int(layout.code_offsets[0]))]
                     + (layout.slice_ranges(z_start, z_end) if z_end > z_start else []))
    pieces = await asyncio.gather(*(read(a, b) for a, b in ranges))
    for (a, b), piece in zip(ranges, pieces):
        if piece is None or piece.size != b - a:
            raise FormatError(f"stream truncated: bytes {a}..{b} are missing")
    return PrefetchedStream(layout.total_bytes, [(0, first[:index_end]), *zip((a for a, _ in ranges), pieces)])
