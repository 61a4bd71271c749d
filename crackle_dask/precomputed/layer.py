"""A precomputed layer on any fsspec store: its ``info``, and its chunks read in batches.

:class:`Layer` reads a region of one scale with as few requests as it can:

- unsharded: one ``cat`` of every chunk file the region cuts, then one more for
  the files missing under their plain name, under the suffixes cloud-volume
  gives compressed files (``.gz``, ``.br``, ``.zstd``); the suffix found is
  tried first next time;
- sharded: one ``cat_ranges`` of the shard index entries it does not hold
  yet, one of the minishard indices it does not hold yet (both kept per
  process, so later tasks on the same shards skip them), and one of the
  chunks. A whole shard is never read. A read through kept indices that
  fails (the shard was rewritten since) is made once more with fresh ones.

When a region cuts an uncompressed Crackle chunk in z, only the header,
index, labels and the crack codes of the slices it needs are fetched, and
only those slices are decoded (for sharded chunks when ``data_encoding`` is
raw). A Layer pickles to its filesystem, root and ``info``.
"""

import json
import posixpath
import threading
from collections import OrderedDict

import fsspec
import numpy as np
from dask.base import tokenize

from crackle.array import decode_slices
from crackle.errors import FormatError

from ..store import FsspecStream, retry
from .encodings import SUFFIXES, content_decoded, decode_chunk, is_plain
from .info import LayerInfo, Scale, parse_info
from .sharding import chunk_data, compressed_morton, minishard_index_range, parse_minishard_index

PREFIX = "precomputed://"
_KEEP_INDICES = 4096  # minishard indices (and shard index entries) each process keeps
_indices = OrderedDict()
_indices_lock = threading.Lock()
_suffix_hint = {}  # scale folder -> the suffix its chunk files were last found under


def layer_root(url: str) -> str:
    """The fsspec URL of a layer's folder: ``precomputed://`` and a trailing ``/info`` removed."""
    url = str(url)
    if url.startswith(PREFIX):
        url = url[len(PREFIX):]
    url = url.rstrip("/")
    return url[: -len("/info")] if url.endswith("/info") else url


def _cached(key):
    with _indices_lock:
        if key in _indices:
            _indices.move_to_end(key)
            return _indices[key]
    return None


def _keep(key, value) -> None:
    with _indices_lock:
        _indices[key] = value
        while len(_indices) > _KEEP_INDICES:
            _indices.popitem(last=False)


def _parts(results, starts, stops, what) -> list:
    """Check ``cat_ranges`` results: exceptions re-raised (a missing file as FileNotFoundError),
    short reads as FormatError naming ``what[i]``."""
    for part, start, stop, name in zip(results, starts, stops, what):
        if isinstance(part, Exception):
            raise part
        if len(part) != stop - start:
            raise FormatError(f"{name}: truncated (bytes {start}..{stop} asked, {len(part)} read)")
    return results


class Layer:
    """A Neuroglancer precomputed layer at ``root`` on the fsspec filesystem ``fs``.

    Examples
    --------
    >>> layer = Layer.open("precomputed://gs://bucket/segmentation")    # doctest: +SKIP
    >>> layer.read_region(0, (0, 0, 100), (1024, 1024, 101))           # doctest: +SKIP
    """

    def __init__(self, fs, root: str, info: LayerInfo):
        self.fs, self.root, self.info = fs, root.rstrip("/"), info

    @classmethod
    def open(cls, url, storage_options=None) -> "Layer":
        """Open the layer at ``url`` (``precomputed://`` + any fsspec URL, or a folder holding ``info``)."""
        fs, root = fsspec.core.url_to_fs(layer_root(url), **(storage_options or {}))
        where = posixpath.join(root, "info")
        try:
            raw = retry(fs.cat_file, where)
        except FileNotFoundError as err:
            raise FormatError(f"{where}: no precomputed layer here (its info file is missing)") from err
        try:
            obj = json.loads(raw)
        except ValueError as err:
            raise FormatError(f"{where}: the info is not JSON ({err})") from err
        return cls(fs, root, parse_info(obj, where))

    def __repr__(self) -> str:
        return f"Layer({self.fs.protocol!r}, {self.root!r})"

    def folder(self, scale: Scale) -> str:
        """The folder (or shard folder) of a scale: its ``key`` ("/"-separated, ".." allowed)
        relative to the layer's root (a URL's "//" is kept)."""
        parts = self.root.split("/")
        for piece in scale.key.split("/"):
            if piece == "..":
                parts.pop()
            elif piece not in ("", "."):
                parts.append(piece)
        return "/".join(parts)

    def read_region(self, mip: int, start, stop, fill_missing: bool = False) -> np.ndarray:
        """The local box ``[start, stop)`` of scale ``mip`` as an (x, y, z, channel) Fortran-order array.

        Missing chunks raise FormatError naming their file, or read as 0 with ``fill_missing``.
        """
        scale = self.info.scale(mip)
        start = tuple(int(a) for a in start)
        stop = tuple(int(b) for b in stop)
        if any(not 0 <= a <= b <= n for a, b, n in zip(start, stop, scale.size)):
            raise ValueError(f"the box {start}..{stop} is not inside the scale's {scale.size} voxels")
        shape = tuple(b - a for a, b in zip(start, stop)) + (self.info.num_channels,)
        points = scale.points_in(start, stop)
        boxes = {p: scale.chunk_box(p) for p in points}
        if len(points) == 1 and boxes[points[0]] == (start, stop):
            chunk = self._chunks(scale, points, {}, fill_missing)[points[0]]
            return chunk if chunk is not None else np.zeros(shape, self.info.dtype, order="F")
        # Which z slices each chunk must give (local to the chunk), for Crackle's random z access.
        slices = {}
        for p, (a, b) in boxes.items():
            z0, z1 = max(a[2], start[2]) - a[2], min(b[2], stop[2]) - a[2]
            if (z0, z1) != (0, b[2] - a[2]):
                slices[p] = range(z0, z1)
        out = np.zeros(shape, self.info.dtype, order="F")
        for p, chunk in self._chunks(scale, points, slices, fill_missing).items():
            if chunk is None:
                continue
            a, b = boxes[p]
            z_first = 0 if chunk.shape[2] == b[2] - a[2] else slices[p].start  # whole, or only its slices
            lo = [max(a[d], start[d]) for d in range(3)]
            hi = [min(b[d], stop[d]) for d in range(3)]
            source = tuple(slice(lo[d] - a[d], hi[d] - a[d]) for d in range(2))
            source += (slice(lo[2] - a[2] - z_first, hi[2] - a[2] - z_first),)
            target = tuple(slice(lo[d] - start[d], hi[d] - start[d]) for d in range(3))
            out[target] = chunk[source]
        return out

    def _chunks(self, scale: Scale, points: list, slices: dict, fill_missing: bool) -> dict:
        """``{point: array or None (missing, with fill_missing)}``; a point in ``slices`` may come
        back as only those z slices of its chunk."""
        read = self._sharded if scale.sharding is not None else self._unsharded
        return read(scale, points, slices, fill_missing)

    def _decode(self, scale: Scale, point, data: bytes, suffix: str, where: str) -> np.ndarray:
        a, b = scale.chunk_box(point)
        shape = tuple(y - x for x, y in zip(a, b))
        nbytes = int(np.prod(shape)) * self.info.num_channels * self.info.dtype.itemsize
        data = content_decoded(data, suffix, is_plain(data, scale.encoding, nbytes), where)
        return decode_chunk(data, scale.encoding, shape, self.info.dtype, self.info.num_channels,
                            scale.block_size, where)

    def _crackle_slices(self, scale: Scale, point, stream: FsspecStream, zs: range, where: str) -> np.ndarray:
        """Slices ``zs`` of a Crackle chunk read through ``stream``, checked like a whole chunk."""
        a, b = scale.chunk_box(point)
        head = stream.header
        if (head.sx, head.sy, head.sz) != tuple(y - x for x, y in zip(a, b)) or head.dtype != self.info.dtype:
            raise FormatError(f"{where}: the chunk holds {head.shape} {head.dtype}, the layer needs "
                              f"{tuple(y - x for x, y in zip(a, b))} {self.info.dtype}")
        block = decode_slices(stream, zs, 1, order="F")
        return block.reshape(block.shape + (1,), order="F")

    def _unsharded(self, scale: Scale, points: list, slices: dict, fill_missing: bool) -> dict:
        folder = self.folder(scale)
        paths = {p: posixpath.join(folder, scale.chunk_name(p)) for p in points}
        out = {}
        if scale.encoding == "crackle":
            for p in [p for p in points if p in slices]:
                try:
                    stream = FsspecStream(self.fs, paths[p])
                except (FileNotFoundError, FormatError):
                    continue  # compressed, or elsewhere: read whole below
                out[p] = self._crackle_slices(scale, p, stream, slices[p], paths[p])
        hint = _suffix_hint.get((tokenize(self.fs), folder), "")
        order = (hint,) + tuple(s for s in SUFFIXES if s != hint)
        left = [p for p in points if p not in out]
        for suffix in order:
            if not left:
                break
            found = retry(self.fs.cat, [paths[p] + suffix for p in left], on_error="return")
            missing = []
            for p in left:
                data = found.get(paths[p] + suffix)
                if data is None or isinstance(data, FileNotFoundError):
                    missing.append(p)
                elif isinstance(data, Exception):
                    raise data
                else:
                    out[p] = self._decode(scale, p, data, suffix, paths[p] + suffix)
                    _suffix_hint[(tokenize(self.fs), folder)] = suffix
            left = missing
        if left and not fill_missing:
            raise FormatError(f"{paths[left[0]]}: chunk file missing (fill_missing=True reads missing chunks as 0)")
        out.update({p: None for p in left})
        return out

    def _sharded(self, scale: Scale, points: list, slices: dict, fill_missing: bool) -> dict:
        """Read through the indices this process keeps; if that fails, the shards may have been
        rewritten since: forget their indices and read once more."""
        try:
            return self._sharded_once(scale, points, slices, fill_missing, cached=True)
        except FormatError:
            return self._sharded_once(scale, points, slices, fill_missing, cached=False)

    def _sharded_once(self, scale: Scale, points: list, slices: dict, fill_missing: bool, cached: bool) -> dict:
        spec, folder = scale.sharding, self.folder(scale)
        ids = compressed_morton(points, scale.grid_shape)
        shards, minishards = spec.locate(ids)
        fs_token = tokenize(self.fs, self.info.raw)
        files = {p: posixpath.join(folder, spec.shard_name(s)) for p, s in zip(points, shards.tolist())}
        keys = {p: (fs_token, files[p], int(m)) for p, m in zip(points, minishards.tolist())}
        # 1. Shard index entries, 2. minishard indices: each fetched once per process, in one call.
        entries = {k: _cached(("entry",) + k) if cached else None for k in set(keys.values())}
        wanted = sorted(k for k, v in entries.items() if v is None)
        if wanted:
            starts = [16 * k[2] for k in wanted]
            results = retry(self.fs.cat_ranges, [k[1] for k in wanted], starts, [s + 16 for s in starts],
                            on_error="return")
            for k, part in zip(wanted, results):
                if isinstance(part, FileNotFoundError):
                    entries[k] = (0, 0)  # no shard file: none of its chunks exist
                    continue
                _parts([part], [0], [16], [f"{k[1]}: shard index"])
                entries[k] = minishard_index_range(part, spec, 2**63, f"{k[1]}: minishard {k[2]}")
                _keep(("entry",) + k, entries[k])
        indices = {k: _cached(("minishard",) + k) if cached else None for k in entries}
        wanted = sorted(k for k, v in indices.items() if v is None)
        fetch = [k for k in wanted if entries[k][1] > entries[k][0]]
        for k in wanted:
            if k not in fetch:
                indices[k] = {}
        if fetch:
            bound = 24 * int(np.prod(scale.grid_shape, dtype=np.float64)) + (1 << 20)
            for k in fetch:
                if entries[k][1] - entries[k][0] > bound:
                    raise FormatError(f"{k[1]}: minishard {k[2]}'s index claims {entries[k][1] - entries[k][0]} "
                                      "bytes, more than the layer's chunks need")
            starts, stops = [entries[k][0] for k in fetch], [entries[k][1] for k in fetch]
            results = retry(self.fs.cat_ranges, [k[1] for k in fetch], starts, stops, on_error="return")
            _parts(results, starts, stops, [f"{k[1]}: minishard {k[2]}'s index" for k in fetch])
            for k, part in zip(fetch, results):
                indices[k] = parse_minishard_index(part, spec, 2**63, f"{k[1]}: minishard {k[2]}")
                _keep(("minishard",) + k, indices[k])
        # 3. The chunks, in one call (or, for z slices of a raw Crackle chunk, their byte ranges).
        out, located = {}, {}
        for p, chunk_id in zip(points, ids.tolist()):
            where = indices[keys[p]].get(int(chunk_id))
            if where is None:
                if not fill_missing:
                    raise FormatError(f"{files[p]}: chunk {scale.chunk_name(p)} (id {chunk_id}) is not in its "
                                      "shard (fill_missing=True reads missing chunks as 0)")
                out[p] = None
            else:
                located[p] = where
        decoded = int(np.prod(scale.chunk_size)) * self.info.num_channels * self.info.dtype.itemsize
        chunk_bound = 16 * decoded + (1 << 20)  # no encoding of a chunk is anywhere near this large
        for p, (a, b) in located.items():
            if b - a > chunk_bound:
                raise FormatError(f"{files[p]}: chunk {scale.chunk_name(p)} claims {b - a} bytes")
        direct = [p for p in located if p in slices and scale.encoding == "crackle" and spec.data_encoding == "raw"]
        for p in direct:
            a, b = located[p]
            name = f"{files[p]}: chunk {scale.chunk_name(p)}"
            try:
                stream = FsspecStream(self.fs, files[p], size=b - a, offset=a)
            except FormatError as err:
                raise FormatError(f"{name}: {err}") from err
            out[p] = self._crackle_slices(scale, p, stream, slices[p], name)
        whole = [p for p in located if p not in out]
        if whole:
            starts, stops = [located[p][0] for p in whole], [located[p][1] for p in whole]
            names = [f"{files[p]}: chunk {scale.chunk_name(p)}" for p in whole]
            results = retry(self.fs.cat_ranges, [files[p] for p in whole], starts, stops, on_error="return")
            _parts(results, starts, stops, names)
            for p, part, name in zip(whole, results, names):
                out[p] = self._decode(scale, p, chunk_data(part, spec, name), "", name)
        return out
