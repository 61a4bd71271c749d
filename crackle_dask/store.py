"""Crackle streams on any fsspec store, read with byte-range requests.

An :class:`FsspecStream` fetches the header, then the crack index, labels
section and Markov model in one request (they are contiguous), and for each
z range decoded only that range's crack codes and slice checksums. Transient
errors are retried with backoff; a short read raises ``crackle.FormatError``.
Nothing is ever written.

A stream pickles to its address alone (filesystem, path, size, header), so
Dask tasks carry a few hundred bytes each; unpickling reuses the stream that
process already opened at that address, so each worker process fetches and
parses a file's header, index and labels once.
"""

import threading
import time
from collections import OrderedDict

import fsspec
import numpy as np
from dask.base import tokenize

from crackle.errors import FormatError
from crackle.format.stream import StreamView

_ATTEMPTS = 4
_BACKOFF = 0.2  # seconds before the first retry; doubled for each further one
_KEEP_OPEN = 64  # parsed streams each process keeps for reuse by later tasks
_opened = OrderedDict()
_opened_lock = threading.Lock()


def retry(call, *args, **kwargs):
    """``call(*args, **kwargs)``, retried with backoff on transient I/O errors (not on a missing file)."""
    for attempt in range(_ATTEMPTS):
        try:
            return call(*args, **kwargs)
        except FileNotFoundError:
            raise
        except (OSError, TimeoutError, ConnectionError):
            if attempt == _ATTEMPTS - 1:
                raise
            time.sleep(_BACKOFF * 2**attempt)


def checked_ranges(parts: list, starts, stops, names) -> list:
    """``cat_ranges`` results, checked: an exception in them is raised (a missing file as
    FileNotFoundError), a short read is a FormatError naming ``names[i]``."""
    for part, start, stop, name in zip(parts, starts, stops, names):
        if isinstance(part, Exception):
            raise part
        if len(part) != stop - start:
            raise FormatError(f"{name}: short read of bytes {start}..{stop}: got {len(part)} (truncated)")
    return parts


class FsspecStream(StreamView):
    """A Crackle stream at ``path`` on the fsspec filesystem ``fs``.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
    path : str
        Path of the file on ``fs``.
    size : int, optional
        Length of the stream (asked of ``fs`` if not given: the file's length).
    offset : int
        Where the stream starts in the file (a chunk inside a shard, say).

    Examples
    --------
    >>> stream = FsspecStream.open("s3://bucket/volume.ckl")      # doctest: +SKIP
    >>> crackle.codec.decompress_range(stream, 100, 110, 1)      # doctest: +SKIP
    """

    def __init__(self, fs, path: str, size=None, offset: int = 0):
        self.fs = fs
        self.path = path
        self.offset = int(offset)
        self._prefix = np.zeros(0, dtype=np.uint8)
        super().__init__(retry(fs.size, path) if size is None else size)
        head = self.header
        if head.voxels():
            # Header, crack index, labels section and Markov model lie together at the start.
            end = (head.header_bytes + head.grid_index_bytes + head.num_label_bytes
                   + head.num_markov_model_bytes)
            self._prefix = self._fetch(0, min(end, self.size))

    @classmethod
    def open(cls, urlpath: str, storage_options=None) -> "FsspecStream":
        """Open ``urlpath`` (any fsspec URL or local path)."""
        fs, path = fsspec.core.url_to_fs(urlpath, **(storage_options or {}))
        return cls(fs, path)

    def __repr__(self) -> str:
        return f"FsspecStream({self.fs.protocol!r}, {self.path!r}, {self.size} bytes)"

    def __reduce__(self):
        return _reopen, (self.fs, self.path, self.size, self.header.tobytes(), self.offset)

    def _fetch(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.zeros(0, dtype=np.uint8)
        data = retry(self.fs.cat_file, self.path, start=self.offset + start, end=self.offset + stop)
        if len(data) != stop - start:
            raise FormatError(f"short read of bytes {start}..{stop}: got {len(data)}")
        return np.frombuffer(data, dtype=np.uint8)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Bytes ``start .. stop - 1``, from the fetched prefix when it holds them."""
        if stop <= self._prefix.size:
            return self._prefix[start:stop]
        return self._fetch(start, stop)

    def crack_codes(self, z_start: int, z_end: int) -> tuple:
        """The crack codes of slices ``z_start .. z_end - 1`` and their checksums, in one request."""
        offsets = self.layout.code_offsets[z_start : z_end + 1]
        starts, stops = [int(offsets[0])], [int(offsets[-1])]
        checksums = self.header.format_version == 1
        if checksums:
            at = self.layout.slice_crcs_offset
            starts.append(at + 4 * z_start)
            stops.append(at + 4 * z_end)
        parts = retry(self.fs.cat_ranges, [self.path] * len(starts), [self.offset + s for s in starts],
                      [self.offset + s for s in stops])
        checked_ranges(parts, starts, stops, [self.path] * len(starts))
        if checksums:
            self._fetched_crcs = (z_start, z_end, np.frombuffer(parts[1], dtype="<u4"))
        return np.frombuffer(parts[0], dtype=np.uint8), offsets - offsets[0]

    def slice_crcs(self, z_start: int, z_end: int) -> np.ndarray:
        """Stored slice checksums: those fetched with the crack codes when they cover the range."""
        fetched = getattr(self, "_fetched_crcs", None)
        if fetched is not None and fetched[0] <= z_start and z_end <= fetched[1]:
            return fetched[2][z_start - fetched[0] : z_end - fetched[0]]
        return super().slice_crcs(z_start, z_end)


def _reopen(fs, path: str, size: int, header: bytes, offset: int = 0) -> FsspecStream:
    """The stream at this address that this process already holds, or a new one (kept for reuse).

    Raises FormatError if the file changed since the stream was first opened.
    """
    key = (tokenize(fs), path, size, header, offset)
    with _opened_lock:
        stream = _opened.get(key)
        if stream is not None:
            _opened.move_to_end(key)
            return stream
    stream = FsspecStream(fs, path, size, offset)
    if stream.header.tobytes() != header:
        raise FormatError(f"{path}: the file changed since it was opened (its header differs)")
    with _opened_lock:
        _opened[key] = stream
        while len(_opened) > _KEEP_OPEN:
            _opened.popitem(last=False)
    return stream
