"""Compiling the kernels ahead of use: :func:`warmup` and ``crackle warmup``.

Numba compiles a kernel the first time it runs with a new signature, which costs seconds; with its
cache (``cache=True`` on every kernel) a later process loads the compiled code instead. Warming up
runs every kernel once per dtype width on a small volume, so that the cache holds them all: a
container image or a cluster's workers built that way start warm.

Kernels are specialised on the width of the labels (1, 2, 4 or 8 bytes; signed dtypes and bool share
them), so dtypes of one width warm each other.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WIDTHS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def widths(dtypes=None) -> list:
    """The label widths (in bytes) that ``dtypes`` (None: all) need, ascending. ValueError for a
    dtype Crackle does not store."""
    if dtypes is None:
        return sorted(WIDTHS)
    found = set()
    for dtype in [dtypes] if isinstance(dtypes, (str, type, np.dtype)) else dtypes:
        dtype = np.dtype(dtype)
        if dtype.kind not in "biu":
            raise ValueError(f"Crackle stores integer and bool labels, not {dtype}")
        found.add(dtype.itemsize)
    return sorted(found)


def _volume(dtype) -> np.ndarray:
    """A small labelled volume (x, y, z): blocks of a few labels, one label split in two, noise."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(1, 5, (5, 4, 3))
    volume = np.repeat(np.repeat(np.repeat(blocks, 4, 0), 4, 1), 2, 2)[:19, :15, :5]
    volume[rng.random(volume.shape) < 0.05] = 0
    return volume.astype(dtype)


def exercise(dtype) -> None:
    """Run every kernel once for labels of ``dtype``'s width: compiled, or loaded from the cache."""
    from . import analysis, codec, connectivity, encoder, operations, recoding, stacking
    from .kernels.union_find import roots, union_pairs

    volume = _volume(dtype)
    # A slab of a C-order volume with pins (read in z runs; the pin search copies it in Fortran
    # order), then the volume in Fortran order.
    streams = [encoder.compress(volume[:, :, 1:], allow_pins=True, markov_model_order=2),
               encoder.compress(np.asfortranarray(volume))]
    parent = np.arange(4, dtype=np.int64)  # (the union-find of crackle_dask's merges)
    union_pairs(parent, np.array([0, 2], dtype=np.int64), np.array([1, 3], dtype=np.int64))
    roots(parent)
    for stream in streams:
        codec.decompress(stream)
        codec.decompress(stream, label=1)
        codec.decompress_range(stream, 1, 4, order="C")
        analysis.voxel_counts(stream)
        analysis.point_cloud(stream, label=1)
        analysis.point_cloud(stream)
        connectivity.connected_components(stream)
        stacking.mode_pooling_2x2x1(stream)
        recoding.reencode(stream, 3)
        operations.remap(stream, {1: 7}, preserve_missing_labels=True)


def _run(width: int, env: dict) -> float:
    """Warm one width in a fresh process; returns its seconds."""
    start = time.perf_counter()
    code = f"import numpy as np; from crackle.warmup import exercise; exercise(np.{WIDTHS[width].__name__})"
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(env, PYTHONPATH=os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"warming up {WIDTHS[width].__name__} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def cache_location() -> str:
    """Where Numba keeps (or would keep) the compiled kernels of this installation."""
    from .kernels.decode import decode_runs

    return str(decode_runs._cache._cache_path)


def warmup(dtypes=None, progress: bool = True, processes: int = 0) -> dict:
    """Compile every kernel for ``dtypes`` (None: every dtype) into Numba's cache.

    The first width is warmed alone (it compiles the kernels every dtype shares), the others then
    in ``processes`` parallel processes (0: one per core). Kernels already cached load instead.

    Parameters
    ----------
    dtypes : dtype or sequence of dtypes, optional
    progress : bool
        Show a progress bar (tqdm) and print where the cache is and how long it took.
    processes : int
        Parallel processes for the other widths; 0 means one per core.

    Returns
    -------
    dict
        ``{"cache": path, "seconds": total, "widths": {width: seconds}}``.
    """
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    todo = widths(dtypes)
    env = dict(os.environ)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="compiling Crackle's kernels", unit="dtype")
    seconds = {}

    def run(width: int) -> None:
        seconds[width] = _run(width, env)
        if bar is not None:
            bar.update()

    run(todo[0])
    with ThreadPoolExecutor(processes or os.cpu_count() or 1) as pool:
        list(pool.map(run, todo[1:]))
    if bar is not None:
        bar.close()
    report = {"cache": cache_location(), "seconds": time.perf_counter() - start, "widths": seconds}
    if progress:
        print(f"Numba cache: {report['cache']}\nwarm for {', '.join(WIDTHS[w].__name__ for w in todo)} "
              f"(and the signed and bool dtypes of those widths) in {report['seconds']:.1f} s")
    return report
