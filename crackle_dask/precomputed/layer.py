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
import os
import posixpath
import threading
from collections import OrderedDict

import fsspec
import numpy as np
from dask.base import tokenize

import crackle
from crackle.array import decode_slices
from crackle.errors import FormatError

from ..store import FsspecStream, checked_ranges, retry
from .encodings import SUFFIXES, chunk_payload, decode_chunk
from .info import LayerInfo, Scale, parse_info
from .sharding import chunk_data, compressed_morton, minishard_index_range, parse_minishard_index

PREFIX = "precomputed://"
_KEEP_INDICES = 4096  # minishard indices (and shard index entries) each process keeps
_indices = OrderedDict()
_indices_lock = threading.Lock()
_ANY_SIZE = 2**63  # a shard's size when it was not asked for (offsets past it are still refused)
_suffix_hint = {}  # scale folder -> the suffix its chunk files were last found under


def layer_root(url: str) -> str:
    """The fsspec URL of a layer's folder: ``precomputed://`` and a trailing ``/info`` removed."""
    url = str(url)
    if url.startswith(PREFIX):
        url = url[len(PREFIX):]
    url = url.rstrip("/")
    return url[: -len("/info")] if url.endswith("/info") else url


def is_layer(name) -> bool:
    """Whether ``name`` is a ``precomputed://`` URL or a folder whose ``info`` describes a segmentation."""
    if not isinstance(name, (str, os.PathLike)):
        return False
    name = os.fspath(name)
    if name.startswith(PREFIX):
        return True
    if name.endswith((".ckl", ".ckl.gz")):
        return False
    try:
        with fsspec.open(layer_root(name) + "/info", "rb") as handle:
            return json.loads(handle.read(1 << 20)).get("type") == "segmentation"
    except Exception:  # noqa: BLE001 - anything unreadable is not a layer
        return False


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


def forget_indices(fs, root: str) -> None:
    """Drop the shard indices this process keeps for the layer at ``root`` (before rewriting it)."""
    folder = fs.unstrip_protocol(root).rstrip("/") + "/"
    with _indices_lock:
        for key in [k for k in _indices if fs.unstrip_protocol(k[2]).startswith(folder)]:
            del _indices[key]


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

    def payloads(self, mip: int, points: list, fill_missing: bool = False) -> dict:
        """``{grid point: chunk payload (bytes) or None (missing, with fill_missing)}`` of scale ``mip``,
        fetched in one batch, content and shard data encodings undone (not decoded)."""
        return self._payloads(self.info.scale(mip), points, fill_missing)

    def chunk_shape(self, scale: Scale, point) -> tuple:
        """(x, y, z) size of the chunk at grid ``point`` (clipped at the volume's edge)."""
        a, b = scale.chunk_box(point)
        return tuple(y - x for x, y in zip(a, b))

    def decode(self, scale: Scale, point, payload: bytes, where: str) -> np.ndarray:
        """A chunk's payload as its (x, y, z, channel) array, checked against the layer."""
        return decode_chunk(payload, scale.encoding, self.chunk_shape(scale, point), self.info.dtype,
                            self.info.num_channels, scale.block_size, where)

    def stream(self, scale: Scale, point, payload) -> bytes:
        """A chunk's payload as a Crackle stream, checked against its place in the layer: a missing
        chunk (None) is zeros, the chunks of other encodings are decoded and compressed."""
        if payload is None:
            return crackle.zeros(self.chunk_shape(scale, point), self.info.dtype)
        if scale.encoding != "crackle":
            return crackle.compress(self.decode(scale, point, payload, self.where(scale, point))[..., 0], parallel=1)
        return self._checked(scale, point, payload)

    def _checked(self, scale: Scale, point, payload: bytes) -> bytes:
        """``payload``, if it can be the chunk at ``point`` as far as can be told without decoding it
        (a Crackle header of the chunk's shape and dtype; a raw chunk's length); else FormatError."""
        where = self.where(scale, point)
        if scale.encoding == "raw":
            nbytes = int(np.prod(self.chunk_shape(scale, point))) * self.info.num_channels * self.info.dtype.itemsize
            if len(payload) != nbytes:
                raise FormatError(f"{where}: a raw chunk of shape {self.chunk_shape(scale, point)} has {nbytes} "
                                  f"bytes, not {len(payload)}")
        elif scale.encoding == "crackle":
            try:
                head = crackle.header(payload)
            except FormatError as err:
                raise FormatError(f"{where}: {err}") from err
            self._check_head(scale, point, head)
        return payload

    def _check_head(self, scale: Scale, point, head) -> None:
        """FormatError unless a Crackle chunk's header gives the shape and dtype of its place."""
        shape = self.chunk_shape(scale, point)
        if head.shape != shape or head.dtype != self.info.dtype:
            raise FormatError(f"{self.where(scale, point)}: the chunk holds {head.shape} {head.dtype}, the layer "
                              f"needs {shape} {self.info.dtype}")

    def _chunks(self, scale: Scale, points: list, slices: dict, fill_missing: bool) -> dict:
        """``{point: array or None (missing, with fill_missing)}``; a point in ``slices`` may come
        back as only those z slices of its chunk (an uncompressed Crackle chunk is read so)."""
        out = self._crackle_slices(scale, [p for p in points if p in slices], slices) if scale.encoding == "crackle" \
            else {}
        rest = [p for p in points if p not in out]
        for p, payload in self._payloads(scale, rest, fill_missing).items():
            out[p] = None if payload is None else self.decode(scale, p, payload, self.where(scale, p))
        return out

    def _plain(self, scale: Scale, point, data: bytes, suffix: str, where: str) -> bytes:
        """A chunk file's bytes with its content encoding (by ``suffix``, or by magic) undone."""
        nbytes = int(np.prod(self.chunk_shape(scale, point))) * self.info.num_channels * self.info.dtype.itemsize
        return chunk_payload(data, suffix, scale.encoding, nbytes, where)

    def where(self, scale: Scale, point) -> str:
        """A chunk's name in messages: its file, or its shard and name."""
        if scale.sharding is None:
            return posixpath.join(self.folder(scale), scale.chunk_name(point))
        shard, _ = scale.sharding.locate(compressed_morton([point], scale.grid_shape))
        return f"{posixpath.join(self.folder(scale), scale.sharding.shard_name(int(shard[0])))}: chunk " \
               f"{scale.chunk_name(point)}"

    def _crackle_slices(self, scale: Scale, points: list, slices: dict) -> dict:
        """Slices of the Crackle chunks at ``points`` that can be read alone (plain chunk files, or
        raw shard data), through a stream over their bytes; the others are left out."""
        streams = {}
        if scale.sharding is None:
            for p in points:
                try:
                    streams[p] = FsspecStream(self.fs, self.where(scale, p))
                except (FileNotFoundError, FormatError):
                    continue  # compressed, or missing: read whole
        elif scale.sharding.data_encoding == "raw":
            try:  # through the indices this process keeps, else afresh (as _payloads)
                streams = self._shard_streams(scale, points, cached=True)
            except FormatError:
                streams = self._shard_streams(scale, points, cached=False)
        out = {}
        for p, stream in streams.items():
            self._check_head(scale, p, stream.header)
            block = decode_slices(stream, slices[p], 1, order="F")
            out[p] = block.reshape(block.shape + (1,), order="F")
        return out

    def _shard_streams(self, scale: Scale, points: list, cached: bool) -> dict:
        """Streams over the Crackle chunks at ``points`` where they lie in their shards (raw data)."""
        streams = {}
        for p, found in self._located(scale, points, True, cached).items():
            if found is not None:
                path, start, stop = found
                try:
                    streams[p] = FsspecStream(self.fs, path, size=stop - start, offset=start)
                except FormatError as err:
                    raise FormatError(f"{self.where(scale, p)}: {err}") from err
                self._check_head(scale, p, streams[p].header)
        return streams

    def _payloads(self, scale: Scale, points: list, fill_missing: bool) -> dict:
        if scale.sharding is None:
            return self._unsharded(scale, points, fill_missing)
        try:  # through the indices this process keeps; if that fails, the shards may have been
            return self._sharded(scale, points, fill_missing, cached=True)  # rewritten since: afresh
        except FormatError:
            return self._sharded(scale, points, fill_missing, cached=False)

    def _unsharded(self, scale: Scale, points: list, fill_missing: bool) -> dict:
        folder = self.folder(scale)
        paths = {p: posixpath.join(folder, scale.chunk_name(p)) for p in points}
        hint = _suffix_hint.get((tokenize(self.fs), folder), "")
        order = (hint,) + tuple(s for s in SUFFIXES if s != hint)
        out, left = {}, list(points)
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
                    out[p] = self._plain(scale, p, data, suffix, paths[p] + suffix)
                    _suffix_hint[(tokenize(self.fs), folder)] = suffix
            left = missing
        if left and not fill_missing:
            raise FormatError(f"{paths[left[0]]}: chunk file missing (fill_missing=True reads missing chunks as 0)")
        out.update({p: None for p in left})
        return out

    def _sharded(self, scale: Scale, points: list, fill_missing: bool, cached: bool) -> dict:
        spec = scale.sharding
        located = self._located(scale, points, fill_missing, cached)
        out = {p: None for p, found in located.items() if found is None}
        whole = [p for p, found in located.items() if found is not None]
        if whole:
            paths = [located[p][0] for p in whole]
            starts, stops = [located[p][1] for p in whole], [located[p][2] for p in whole]
            names = [self.where(scale, p) for p in whole]
            results = retry(self.fs.cat_ranges, paths, starts, stops, on_error="return")
            checked_ranges(results, starts, stops, names)
            for p, part, name in zip(whole, results, names):
                out[p] = self._checked(scale, p, self._plain(scale, p, chunk_data(part, spec, name), "", name))
        return out

    def _located(self, scale: Scale, points: list, fill_missing: bool, cached: bool) -> dict:
        """``{point: (shard path, start, stop) or None (missing)}``: where each chunk lies in its shard,
        from the shard index entries and minishard indices (fetched in one call each, kept per
        process unless ``cached`` is False)."""
        spec, folder = scale.sharding, self.folder(scale)
        ids = compressed_morton(points, scale.grid_shape)
        shards, minishards = spec.locate(ids)
        fs_token = tokenize(self.fs, self.info.raw)
        files = {p: posixpath.join(folder, spec.shard_name(s)) for p, s in zip(points, shards.tolist())}
        keys = {p: (fs_token, files[p], int(m)) for p, m in zip(points, minishards.tolist())}
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
                checked_ranges([part], [0], [16], [f"{k[1]}: shard index"])
                entries[k] = minishard_index_range(part, spec, _ANY_SIZE, f"{k[1]}: minishard {k[2]}")
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
            checked_ranges(results, starts, stops, [f"{k[1]}: minishard {k[2]}'s index" for k in fetch])
            for k, part in zip(fetch, results):
                indices[k] = parse_minishard_index(part, spec, _ANY_SIZE, f"{k[1]}: minishard {k[2]}")
                _keep(("minishard",) + k, indices[k])
        decoded = int(np.prod(scale.chunk_size)) * self.info.num_channels * self.info.dtype.itemsize
        bound = 16 * decoded + (1 << 20)  # no encoding of a chunk is anywhere near this large
        out = {}
        for p, chunk_id in zip(points, ids.tolist()):
            where = indices[keys[p]].get(int(chunk_id))
            if where is None:
                if not fill_missing:
                    raise FormatError(f"{files[p]}: chunk {scale.chunk_name(p)} (id {chunk_id}) is not in its "
                                      "shard (fill_missing=True reads missing chunks as 0)")
                out[p] = None
            elif where[1] - where[0] > bound:
                raise FormatError(f"{files[p]}: chunk {scale.chunk_name(p)} claims {where[1] - where[0]} bytes")
            else:
                out[p] = (files[p], where[0], where[1])
        return out
