"""Whole-stack file jobs: joining many Crackle files into one, and writing every file's sidecar."""

import dask

from crackle.analysis import sidecar_path, write_sidecar
from crackle.errors import FormatError
from crackle.files import open_writer
from crackle.stacking import stacked_parts

from .jobs import run
from .stack import StreamStack, file_paths, named, open_stream


def zstack(urlpath, out: str, storage_options=None) -> str:
    """Join a stack of files into one Crackle file at ``out`` without decoding any voxels.

    The labels sections (read with each file's header and index) are merged
    first; then each file's crack codes are fetched and written in turn, so
    memory holds the labels and one file's crack codes. Files written alike
    (crack format and Markov model) are copied; others are re-encoded like
    the first (see :func:`crackle.zstack`). The output is written atomically
    (gzipped for a ``.gz`` name). Returns ``out``.
    """
    stack = StreamStack.open(urlpath, storage_options)
    with open_writer(out, storage_options) as handle:
        for piece in stacked_parts(stack.streams):
            handle.write(piece)
    return out


def _write_sidecar(fs, path: str) -> str:
    side = sidecar_path(path)
    try:
        write_sidecar(open_stream(fs, path), side, parallel=1, fs=fs)
    except FormatError as err:
        raise named(err, path) from err
    return fs.unstrip_protocol(side)


def write_sidecars(urlpath, storage_options=None, compute: bool = True, progress: bool = False):
    """Write every file's ``.ckl.meta.parquet`` sidecar (crackle-codec's schema), one task per file.

    Each sidecar is written atomically beside its file. Returns the sidecars'
    URLs (or, with ``compute=False``, a delayed list of them).
    """
    tasks = [dask.delayed(_write_sidecar, pure=True)(fs, path) for fs, path in file_paths(urlpath, storage_options)]
    return run(dask.delayed(list, pure=True)(tasks), compute, progress)
