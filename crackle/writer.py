"""Writing a Crackle stream slab by slab: :class:`CrackleWriter`.

Each slab is encoded when it arrives (a complete stream of its own, with
plain crack codes) and kept compressed, in memory up to a limit and then in a
temporary file. ``close()`` joins the slabs as :func:`crackle.zstack` does,
without decoding them, and writes the result. Flat output is byte-identical
to :func:`crackle.compress` of the whole volume with the same options: the
crack format is chosen from the whole volume's equal neighbours as
``compress`` chooses it (slabs are converted in the rare case where the
first slab suggested the other format), and a Markov model is built from
every slice's moves at the end.
"""

import tempfile
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import codec
from .encoder import check_options, compress_as, count_pairs
from .format.header import CrackFormat, unsigned_dtype
from .format.labels import PinLabels
from .inputs import as_encodable, integral, squeezed_index
from .recoding import reencode
from .stacking import stacked_parts

_SPILL_BYTES = 256 << 20  # encoded slabs kept in memory before they move to a temporary file


@dataclass
class Slab:
    """An encoded slab and what joining it to others needs: its equal consecutive voxels in
    Fortran order (``pairs``) and its first and last voxel, for the pairs across slab boundaries
    (the whole volume's count decides the crack format, as :func:`crackle.compress` decides it)."""

    stream: object  # bytes-like
    pairs: int
    first: int
    last: int


def encode_slab(slab: np.ndarray, permissible: Optional[bool] = None, allow_pins: int = 0, bgcolor=None,
                parallel: int = 0, fortran: Optional[bool] = None) -> Slab:
    """Encode a 3-D slab with plain crack codes in the crack format given (None: the one the slab
    alone asks for); ``fortran`` is the memory order the header records (None: the slab's)."""
    unsigned = slab.view(unsigned_dtype(slab.dtype.itemsize))
    pairs = count_pairs(unsigned, 1)
    if permissible is None:
        permissible = pairs < unsigned.size // 2
    stream = compress_as(slab, permissible, allow_pins, 0, bgcolor, parallel, fortran)
    if not unsigned.size:
        return Slab(stream, 0, 0, 0)
    return Slab(stream, pairs, int(unsigned[0, 0, 0]), int(unsigned[-1, -1, -1]))


def joined_parts(slabs: list, markov_model_order: int = 0, allow_pins: int = 0, bgcolor=None, parallel: int = 0):
    """The stream of ``slabs`` stacked in z, piece by piece (as ``assembled_parts``): FLAT output
    is byte-identical to :func:`crackle.compress` of the whole volume with the same options.

    Slabs in the other crack format than the whole volume asks for are decoded
    and encoded again; the rest are joined without decoding (see
    :func:`crackle.zstack`). A Markov model is built from all slices' moves, in
    memory.
    """
    views = [codec.stream_view(slab.stream) for slab in slabs]
    head = views[0].header
    voxels = head.sx * head.sy * sum(view.header.sz for view in views)
    pairs = sum(slab.pairs for slab in slabs) + sum(a.last == b.first for a, b in zip(slabs[:-1], slabs[1:]))
    crack_format = CrackFormat.PERMISSIBLE if pairs < voxels // 2 else CrackFormat.IMPERMISSIBLE
    views = [view if view.header.crack_format == crack_format else codec.stream_view(
        compress_as(codec.decompress(view), crack_format == CrackFormat.PERMISSIBLE, allow_pins, 0, bgcolor, parallel,
                    view.header.fortran_order))
        for view in views]
    parts = stacked_parts(views)
    if markov_model_order:
        return iter([reencode(b"".join(parts), markov_model_order, parallel)])
    return parts


class CrackleWriter:
    """Build a Crackle stream from z-slabs, holding one slab and the compressed result.

    Parameters
    ----------
    path_or_file : str, path, file object or None
        Where ``close()`` writes the stream: a path or fsspec URL (written to
        a temporary name and renamed, or uploaded in one request; gzipped for
        a ``.gz`` name), an open binary file, or None to have ``close()``
        return the bytes.
    shape_xy : (int, int)
        sx and sy of every slab.
    dtype : integer dtype
    allow_pins, markov_model_order, bgcolor
        As for :func:`crackle.compress`.
    parallel : int
        Threads for encoding each slab (0: all cores).
    spill_bytes : int
        Encoded bytes kept in memory; beyond that they go to a temporary file.
    storage_options : dict, optional
        For fsspec URLs.
    order : "F" or "C"
        The memory order the header records (``decompress`` returns arrays in
        it): Fortran, as crackle-codec writes, or C. ``compress`` takes it from
        its array, so the stream equals ``compress`` of an array in this order.

    Notes
    -----
    PINS labels are found slab by slab (pins never cross a slab boundary) and
    joined when every slab chose pins with one background (the first slab's
    background is asked of the later ones); otherwise the stream gets FLAT
    labels. Cutting pins at slab boundaries costs about 2 % of the stream on
    the shared 512^3 volume in slabs of 7 slices; one-slice slabs never get
    pins. With ``markov_model_order`` > 0, ``close()`` codes the joined
    crack codes in memory (about twice the stream's size).

    Examples
    --------
    >>> with CrackleWriter("volume.ckl", (512, 512), np.uint64) as writer:   # doctest: +SKIP
    ...     for z in range(0, 2048, 64):
    ...         writer.write(make_slab(z, 64))
    """

    def __init__(self, path_or_file, shape_xy, dtype, allow_pins: int = 0, markov_model_order: int = 0,
                 bgcolor: Optional[int] = None, parallel: int = 0, spill_bytes: int = _SPILL_BYTES,
                 storage_options=None, order: str = "F"):
        self.target = path_or_file
        self.shape_xy = tuple(int(n) for n in shape_xy)
        self.dtype = np.dtype(dtype)
        if len(self.shape_xy) != 2 or min(self.shape_xy) < 0:
            raise ValueError(f"shape_xy must be two sizes (sx, sy), got {shape_xy!r}")
        if self.dtype.kind not in "uib":
            raise ValueError(f"crackle compresses integer labels, got dtype {self.dtype}")
        check_options(allow_pins, markov_model_order)
        if order not in ("C", "F"):
            raise ValueError(f'order must be "C" or "F", got {order!r}')
        self.allow_pins, self.markov_model_order, self.bgcolor = allow_pins, int(markov_model_order), bgcolor
        self.parallel, self.spill_bytes, self.storage_options = parallel, int(spill_bytes), storage_options
        self.sz = 0
        self._fortran = order == "F"
        self._permissible = None  # the crack format the slabs are encoded in: the first slab's
        self._slabs = []  # Slab records, without their streams
        self._extents = []  # (start, stop) of each slab's stream in the store
        self._memory = bytearray()
        self._file = None
        self._closed = False

    def __enter__(self) -> "CrackleWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def write(self, slab) -> None:
        """Append a slab of shape (sx, sy, depth) or (sx, sy) (one slice), and encode it.

        Trailing axes of length 1 are dropped; float slabs are converted by value to the
        writer's dtype (a ValueError names a value that is not an integer that fits)."""
        if self._closed:
            raise ValueError("write to a closed CrackleWriter")
        arr = np.asarray(slab)
        arr = arr[squeezed_index(arr.shape)]
        if arr.ndim == 2:
            arr = arr[:, :, np.newaxis]
        if arr.ndim != 3 or arr.shape[:2] != self.shape_xy:
            raise ValueError(f"a slab must have shape {self.shape_xy} + (depth,), got {np.shape(slab)}")
        if arr.dtype.kind == "f":
            arr = integral(arr, self.dtype)
        elif arr.dtype != self.dtype:
            if arr.dtype.kind not in "uib" or not np.can_cast(arr.dtype, self.dtype, casting="same_kind"):
                raise ValueError(f"a slab of {arr.dtype} cannot be written as {self.dtype}")
            arr = arr.astype(self.dtype)
        if arr.shape[2] == 0:
            return
        arr = as_encodable(arr)
        encoded = encode_slab(arr, self._permissible, self.allow_pins, self.bgcolor, self.parallel, self._fortran)
        view = codec.stream_view(encoded.stream)
        if self._permissible is None:
            self._permissible = view.header.crack_format == CrackFormat.PERMISSIBLE
        if self.allow_pins and self.bgcolor is None and isinstance(view.labels, PinLabels):
            self.bgcolor = int(view.labels.background)  # later slabs use it, so that pins join
        self._store(encoded)
        self.sz += arr.shape[2]

    def _store(self, slab: Slab) -> None:
        """Keep the slab's stream in memory, or in the temporary file once past ``spill_bytes``."""
        start = self._extents[-1][1] if self._extents else 0
        stream = slab.stream
        if self._file is None and len(self._memory) + len(stream) > self.spill_bytes:
            self._file = tempfile.TemporaryFile()
            self._file.write(self._memory)
            self._memory = bytearray()
        if self._file is None:
            self._memory += stream
        else:
            self._file.write(stream)
        self._extents.append((start, start + len(stream)))
        self._slabs.append(Slab(None, slab.pairs, slab.first, slab.last))

    def _stored(self) -> list:
        """The slabs with their streams read from memory or the memory-mapped temporary file."""
        if self._file is None:
            store = np.frombuffer(self._memory, dtype=np.uint8)
        else:
            self._file.flush()
            store = np.memmap(self._file, dtype=np.uint8, mode="r")
        return [Slab(store[a:b], s.pairs, s.first, s.last) for s, (a, b) in zip(self._slabs, self._extents)]

    def _parts(self):
        if not self._slabs:  # no voxels: the header of an empty volume
            return [compress_as(np.zeros(self.shape_xy + (0,), dtype=self.dtype), False, fortran=self._fortran)]
        return joined_parts(self._stored(), self.markov_model_order, self.allow_pins, self.bgcolor, self.parallel)

    def close(self):
        """Join the slabs and write the stream; returns the bytes if the writer has no target,
        else the target. Closing twice does nothing."""
        if self._closed:
            return None
        try:
            parts = self._parts()
            if self.target is None:
                return b"".join(parts)
            from .files import open_writer  # files builds on the array module, which builds on this one

            with open_writer(self.target, self.storage_options) as handle:
                for piece in parts:
                    handle.write(piece)
            return self.target
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop everything written so far; nothing is written to the target."""
        self._closed = True
        self._memory = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None
