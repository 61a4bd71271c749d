"""Crackle files opened from fsspec URLs, checked, and stacked along z.

Everything that can be checked without decoding is checked here, at open
time, so that a missing file, a wrong magic number, a truncated object or a
stack of files that do not fit together fails before any task runs, with the
file's name in the message.
"""

import bisect
import json
import numbers
import posixpath
from concurrent.futures import ThreadPoolExecutor

import fsspec
import numpy as np

from crackle.array import _normalize_key, decode_slices, z_selection
from crackle.errors import FormatError
from crackle.format.header import CrackleHeader

from .store import FsspecStream, retry

_OPENING = 16  # files opened at once (each open is two small requests)
MANIFEST = "manifest.json"  # the list of files to_crackle writes beside them


def file_paths(urlpath, storage_options) -> list:
    """``(fs, path)`` for a URL, a glob (sorted), a list of URLs, or a folder written by
    ``to_crackle`` (its manifest lists the files; a manifest's own URL works too)."""
    if isinstance(urlpath, (list, tuple)):
        if not urlpath:
            raise ValueError("no Crackle files given")
        return [pair for url in urlpath for pair in file_paths(url, storage_options)]
    fs, path = fsspec.core.url_to_fs(str(urlpath), **(storage_options or {}))
    if any(c in path for c in "*?["):
        found = sorted(fs.glob(path))
        if not found:
            raise FileNotFoundError(f"no file matches {urlpath!r}")
        return [(fs, p) for p in found]
    if not path.endswith((".ckl", ".ckl.gz")):
        manifest = path if path.endswith(".json") else posixpath.join(path.rstrip("/"), MANIFEST)
        if path.endswith(".json") or fs.isdir(path):
            return [(fs, p) for p in _listed(fs, manifest)]
    return [(fs, path)]


def _listed(fs, manifest: str) -> list:
    """The files a ``to_crackle`` manifest lists, in z order (ValueError if it is not one)."""
    try:
        with fs.open(manifest, "rb") as handle:
            listing = json.load(handle)
        names = [entry["name"] for entry in listing["files"]]
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{manifest} not found: a folder opens through the manifest "
                                "to_crackle writes (or give a glob)") from err
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{manifest} is not a Crackle stack manifest: {err}") from err
    if listing.get("format") != "crackle-stack" or not names:
        raise ValueError(f"{manifest} is not a Crackle stack manifest (or lists no files)")
    return [posixpath.join(posixpath.dirname(manifest), name) for name in names]


def check_stackable(headers: list) -> None:
    """ValueError, naming two files, unless every ``(name, header)`` has the first's x, y and dtype."""
    name0, first = headers[0]
    for name, head in headers[1:]:
        if (head.sx, head.sy, head.dtype) != (first.sx, first.sy, first.dtype):
            raise ValueError(f"cannot stack {name} ({head.sx} x {head.sy}, {head.dtype}) on {name0} "
                             f"({first.sx} x {first.sy}, {first.dtype}): x, y and dtype must match")


def stack_headers(files: list) -> list:
    """``(fs, path, header)`` of each ``(fs, path)`` of a stack (:func:`file_paths`), in z order:
    only the headers are read, in one ``cat_ranges`` call per filesystem; the files are checked to
    stack (errors name them)."""
    headers = [None] * len(files)
    groups = {}
    for i, (fs, _) in enumerate(files):
        groups.setdefault(id(fs), []).append(i)
    for members in groups.values():
        fs, paths = files[members[0]][0], [files[i][1] for i in members]
        found = retry(fs.cat_ranges, paths, [0] * len(paths), [CrackleHeader.HEADER_BYTES] * len(paths),
                      on_error="return")
        for i, path, data in zip(members, paths, found):
            if isinstance(data, FileNotFoundError):
                raise FileNotFoundError(f"no such Crackle file: {path}") from data
            if isinstance(data, Exception):
                raise data
            try:
                headers[i] = CrackleHeader.frombytes(data)
            except FormatError as err:
                raise named(err, path) from err
    check_stackable([(path, head) for (_, path), head in zip(files, headers)])
    return [(fs, path, head) for (fs, path), head in zip(files, headers)]


def open_stream(fs, path: str) -> FsspecStream:
    """Open and check one file: header, crack index and stream length (errors name the file)."""
    try:
        stream = FsspecStream(fs, path)
        stream.layout  # checks the index crc and that the object is as long as the index says
    except FileNotFoundError as err:
        raise FileNotFoundError(f"no such Crackle file: {path}") from err
    except FormatError as err:
        raise named(err, path) from err
    return stream


class StreamStack:
    """Crackle streams stacked along z: one (sx, sy, sum of sz) volume.

    Parameters
    ----------
    streams : list of StreamView
        Non-empty; all must share sx, sy and dtype.

    Examples
    --------
    >>> stack = StreamStack.open("s3://bucket/volume/*.ckl")      # doctest: +SKIP
    >>> stack[:, :, 1000].shape                                  # doctest: +SKIP
    (2048, 2048)
    """

    def __init__(self, streams: list):
        if not streams:
            raise ValueError("a stack needs at least one Crackle stream")
        check_stackable([(_name(stream), stream.header) for stream in streams])
        first = streams[0].header
        self.streams = list(streams)
        self.starts = np.cumsum([0] + [s.header.sz for s in streams]).tolist()
        self.shape = (first.sx, first.sy, self.starts[-1])
        self.dtype = first.dtype
        self.ndim = 3

    @classmethod
    def open(cls, urlpath, storage_options=None) -> "StreamStack":
        """Open a URL, a glob (files taken in sorted order) or a list of URLs (several at once)."""
        files = file_paths(urlpath, storage_options)
        with ThreadPoolExecutor(min(_OPENING, len(files))) as pool:
            return cls(list(pool.map(lambda file: open_stream(*file), files)))

    def __len__(self) -> int:
        return len(self.streams)

    def __getitem__(self, key) -> np.ndarray:
        """Basic indexing (integers, slices with steps); decodes only the z slices selected."""
        xkey, ykey, zkey = _normalize_key(key)
        zs, drop = z_selection(zkey, self.shape[2])
        ascending = zs if zs.step > 0 else zs[::-1]
        plane = (_as_slice(xkey, self.shape[0]), _as_slice(ykey, self.shape[1]))  # keeps axes until the end
        parts = []
        for i, stream in enumerate(self.streams):
            start, stop = self.starts[i], self.starts[i + 1]
            local = ascending[bisect.bisect_left(ascending, start) : bisect.bisect_left(ascending, stop)]
            if len(local):
                zlocal = range(local.start - start, local.stop - start, local.step)
                parts.append(decode(stream, zlocal)[plane])
        if parts:
            region = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)
        else:
            region = np.empty(self.shape[:2] + (0,), dtype=self.dtype)[plane]
        if zs.step < 0:
            region = region[:, :, ::-1]
        squeeze = tuple(0 if isinstance(k, numbers.Integral) else slice(None) for k in (xkey, ykey))
        return region[squeeze + (0 if drop else slice(None),)]


def _as_slice(key, size: int) -> slice:
    """``key`` as a slice: an integer becomes a one-element slice (bounds-checked)."""
    if not isinstance(key, numbers.Integral):
        return key
    if not -size <= key < size:
        raise IndexError(f"index {key} is out of bounds for an axis of size {size}")
    return slice(key % size, key % size + 1)


def decode(stream, zs: range, order=None) -> np.ndarray:
    """Decode slices ``zs`` (a range) of one stream on one thread (Dask runs tasks side by side
    already) in memory ``order`` ("C", "F", None: the stream's); errors name the file."""
    try:
        return decode_slices(stream, zs, 1, order=order)
    except FormatError as err:
        raise named(err, _name(stream)) from err


def named(err: FormatError, where: str) -> FormatError:
    """The same kind of error, its message prefixed with the file it is about."""
    return type(err)(f"{where}: {err}")


def _name(stream) -> str:
    return getattr(stream, "path", None) or repr(stream)
