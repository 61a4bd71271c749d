"""The numcodecs codec ``"crackle"`` (see :mod:`crackle.codecs`), for zarr v2 arrays."""

import numpy as np
from numcodecs.abc import Codec

from .. import codec
from . import decode, encode, options


class Crackle(Codec):
    """Chunks as Crackle streams, for zarr v2 arrays of integers or bools with chunks of 1 to 3
    axes (as their compressor, with no filter before it: it needs the chunk as an array).

    Parameters
    ----------
    allow_pins, markov_model_order
        As for :func:`crackle.compress`.
    parallel : int
        Threads per chunk; 0: every core.
    """

    codec_id = "crackle"

    def __init__(self, allow_pins=False, markov_model_order: int = 0, parallel: int = 1):
        self.allow_pins, self.markov_model_order, self.parallel = options(allow_pins, markov_model_order, parallel)

    def encode(self, buf) -> bytes:
        """The stream of one chunk (an array of 1 to 3 axes)."""
        return encode(np.asanyarray(buf), self.allow_pins, self.markov_model_order, self.parallel)

    def decode(self, buf, out=None) -> np.ndarray:
        """The chunk a stream holds, with leading unit axes for 1-D and 2-D chunks (zarr reshapes
        it), or copied into ``out``."""
        view = codec.stream_view(np.frombuffer(memoryview(buf).cast("B"), dtype=np.uint8))  # parsed once
        chunk = decode(view, 3, view.header.dtype, self.parallel)
        if out is None:
            return chunk
        out = np.asarray(out)
        if out.size != chunk.size:
            raise ValueError(f"the stream holds {chunk.size} voxels, the output has room for {out.size}")
        np.copyto(out, chunk.reshape(out.shape), casting="unsafe")
        return out
