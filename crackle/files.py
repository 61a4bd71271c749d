"""Reading and writing Crackle streams and numpy arrays as files: .ckl, .ckl.gz, .npy, .npy.gz.

Paths may be local or any fsspec URL (``s3://``, ``gs://``, ...; fsspec is
imported only for URLs). Writes never leave a partial file under the final
name: local files are written to a temporary name beside the target and
renamed into place; for URLs the file is written to a local temporary file
and then sent in one upload, which an object store shows only when complete.
"""

import contextlib
import gzip
import io
import mmap
import os
import tempfile
from pathlib import Path

import numpy as np

from . import codec
from .array import CrackleArray
from .encoder import compress

_NPY_BLOCK = 200_000_000  # decoded bytes per block when a stream is written as .npy


def _is_url(path) -> bool:
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def _local(path) -> str:
    path = os.fspath(path)
    return path[len("file://"):] if path.startswith("file://") else path


def _gzipped(path) -> bool:
    return str(path).endswith(".gz")


def _kind(path) -> str:
    """"ckl" or "npy" from a file name (gzip suffix ignored)."""
    name = str(path)[: -3] if _gzipped(path) else str(path)
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(".ckl"):
        return "ckl"
    raise ValueError(f"cannot tell the file type of {path!r}: expected .ckl, .ckl.gz, .npy or .npy.gz")


@contextlib.contextmanager
def atomic_write(path, storage_options=None):
    """A binary file to write whose contents appear at ``path`` only if the block completes."""
    if _is_url(path):
        import fsspec

        fs, remote = fsspec.core.url_to_fs(path, **(storage_options or {}))
        with atomic_write_on(fs, remote) as handle:
            yield handle
        return
    target = Path(_local(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def is_local(fs) -> bool:
    """Whether the fsspec filesystem ``fs`` is the local one (where files are renamed into place)."""
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol
    return "file" in protocols


@contextlib.contextmanager
def atomic_write_on(fs, path: str):
    """:func:`atomic_write` to ``path`` on the fsspec filesystem ``fs``.

    A local filesystem gets a temporary file beside the target, renamed into
    place; any other is written to a local temporary file and sent in one
    upload, which an object store shows only when complete.
    """
    if is_local(fs):
        with atomic_write(path) as handle:
            yield handle
        return
    with tempfile.TemporaryDirectory() as folder:
        local = os.path.join(folder, "upload")
        with open(local, "wb") as handle:
            yield handle
        fs.put_file(local, path)


@contextlib.contextmanager
def open_writer(filelike, storage_options=None):
    """A binary writer for a path or URL (atomic, gzipped for a .gz name) or an open file object
    (as given)."""
    if hasattr(filelike, "write"):
        yield filelike
        return
    with atomic_write(filelike, storage_options) as raw, packing(raw, _gzipped(filelike)) as handle:
        yield handle


def packing(raw, gzipped: bool):
    """A writer into the binary file ``raw``: gzip (reproducible: no timestamp) if ``gzipped``."""
    return gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if gzipped else contextlib.nullcontext(raw)


def read_bytes(filelike, storage_options=None, allow_mmap: bool = False):
    """The whole content of a path, URL or file object, gunzipped if it is gzip data (not checked
    further)."""
    if hasattr(filelike, "read"):
        data = filelike.read()
    elif _is_url(filelike):
        import fsspec

        with fsspec.open(filelike, "rb", **(storage_options or {})) as handle:
            data = handle.read()
    else:
        path = _local(filelike)
        if allow_mmap and not _gzipped(path) and os.path.getsize(path):
            with open(path, "rb") as handle:
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        with open(path, "rb") as handle:
            data = handle.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def _stream(data):
    """A Crackle stream from an array (compressed), a CrackleArray or a bytes-like stream."""
    if isinstance(data, np.ndarray):
        return compress(data)
    return data.binary if isinstance(data, CrackleArray) else data


def save(labels, filelike, storage_options=None, **kwargs):
    """Save an array, a CrackleArray or a stream to ``filelike``.

    Parameters
    ----------
    labels : numpy.ndarray, CrackleArray or bytes-like stream
    filelike : path, fsspec URL or binary file object
        ``.ckl`` / ``.ckl.gz`` store the stream (arrays are compressed with
        ``kwargs``, as :func:`crackle.compress`); ``.npy`` / ``.npy.gz`` store
        the decoded array (a stream is decoded a block of slices at a time).
        A file object receives a ``.ckl`` stream.
    storage_options : dict, optional
        For fsspec URLs.
    """
    kind = "ckl" if hasattr(filelike, "write") else _kind(filelike)
    if kind == "npy":
        if isinstance(labels, np.ndarray):
            with open_writer(filelike, storage_options) as out:
                np.save(out, labels)
        else:
            save_numpy(labels, filelike, storage_options=storage_options)
        return
    stream = compress(labels, **kwargs) if isinstance(labels, np.ndarray) else _stream(labels)
    with open_writer(filelike, storage_options) as out:
        out.write(memoryview(stream).cast("B"))


def save_numpy(arr, filelike, block_size: int = _NPY_BLOCK, storage_options=None):
    """Write ``arr`` (array, CrackleArray or stream) as a ``.npy`` file (gzipped for ``.gz``).

    A stream is decoded ``block_size`` bytes of slices at a time and written in
    Fortran order, so the full array is never held in memory.
    """
    if isinstance(arr, np.ndarray):
        with open_writer(filelike, storage_options) as out:
            np.save(out, arr)
        return
    view = codec.stream_view(_stream(arr))
    head = view.header
    step = max(1, block_size // max(1, head.sx * head.sy * head.data_width))
    with open_writer(filelike, storage_options) as out:
        np.lib.format.write_array_header_2_0(
            out, {"descr": np.lib.format.dtype_to_descr(head.dtype), "fortran_order": True, "shape": head.shape})
        for z in range(0, head.sz, step):
            block = codec.decompress_range(view, z, min(z + step, head.sz), order="F")
            out.write(memoryview(block.reshape(-1, order="F")).cast("B"))


def bload(filelike, allow_mmap: bool = False, storage_options=None):
    """The Crackle stream in a ``.ckl`` or ``.ckl.gz`` file (memory-mapped if ``allow_mmap`` and the
    file is local and not gzipped)."""
    data = read_bytes(filelike, storage_options, allow_mmap)
    codec.header(data)  # a clear error now if this is not a Crackle stream
    return data


def aload(filelike, allow_mmap: bool = False, storage_options=None) -> CrackleArray:
    """A :class:`CrackleArray` over the stream in a ``.ckl`` or ``.ckl.gz`` file."""
    return CrackleArray(bload(filelike, allow_mmap, storage_options))


def load(filelike, label=None, parallel: int = 0, storage_options=None) -> np.ndarray:
    """The array in a ``.ckl``, ``.ckl.gz``, ``.npy`` or ``.npy.gz`` file (``label``: a boolean image
    of that label, for Crackle files)."""
    data = read_bytes(filelike, storage_options)
    if bytes(data[:6]) == b"\x93NUMPY":
        if label is not None:
            raise ValueError("label= applies to Crackle files, not .npy")
        return np.load(io.BytesIO(data))
    return codec.decompress(data, label=label, parallel=parallel)
