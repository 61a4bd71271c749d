"""Whole-stack analysis on a local dask.distributed cluster (2 worker processes x 1 thread).

Prints three tables, all on the shared 512^3 connectomics volume cut into files of equal depth:

1. Voxel counts over 64 files of 512x512x8: ``crackle_dask.voxel_counts``
   (from the crack codes, and from fresh sidecars) against one
   ``crackle.voxel_counts`` of the single stacked file, crackle-codec's
   ``voxel_counts`` of that file (in a subprocess) and decoding every file on
   the cluster and counting with numpy. Ratios: that time / ours (crack codes).
2. Connected components (26) over 16 files: time and the peak memory each
   worker gained during the job, against one ``crackle.connected_components``
   of the single file and the decoded size of one file (the bound is 2x).
3. Scaling: voxel counts, labels and connected components at 4, 16 and 64
   files, for the volume as it is (2,524 labels) and for a copy in which every
   slice has its own labels (122,929: about 50 times as many).

Peak memory is read from ``/proc/self/status`` (VmHWM, reset through
``/proc/self/clear_refs``), so it counts everything a process touches,
including what Numba kernels allocate.

    python benchmarks/bench_distributed.py [--repeat 3]
"""

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crackle  # noqa: E402
import crackle_dask  # noqa: E402
from crackle.stacking import zrange  # noqa: E402
from benchmarks.timing import best, numpy_counts, peak, reference_time, reset_peak, table  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))
MIB = 1 << 20


def write_stack(folder: Path, stream: bytes, files: int) -> str:
    """The stream cut into ``files`` files of equal depth; the glob that stacks them."""
    folder.mkdir(parents=True, exist_ok=True)
    depth = crackle.header(stream).sz // files
    for i in range(files):
        (folder / f"part{i:03d}.ckl").write_bytes(zrange(stream, i * depth, (i + 1) * depth))
    return str(folder / "part*.ckl")


def many_labels(stream: bytes) -> bytes:
    """The volume with every slice's labels renumbered apart from every other slice's."""
    parts, start = [], 0
    for z in range(crackle.header(stream).sz):
        part, mapping = crackle.renumber(zrange(stream, z, z + 1), start=start)
        parts.append(crackle.astype(part, np.uint32))
        start += len(mapping)
    return crackle.zstack(parts)


def _decoded(path: str) -> np.ndarray:
    return crackle.decompress(open(path, "rb").read(), parallel=1)


def decode_everything(pattern: str) -> dict:
    """Voxel counts the plain way: every file decoded on the cluster and counted with numpy."""
    import glob

    import dask

    return numpy_counts([dask.delayed(_decoded)(path) for path in sorted(glob.glob(pattern))])


def voxel_count_table(folder: Path, stream: bytes, repeat: int) -> None:
    pattern = write_stack(folder / "vc64", stream, 64)
    single = folder / "single.ckl"
    single.write_bytes(stream)
    truth = crackle.voxel_counts(stream)
    assert crackle_dask.voxel_counts(pattern, use_sidecars=False) == truth == decode_everything(pattern)
    ours = best(lambda: crackle_dask.voxel_counts(pattern, use_sidecars=False), repeat)
    crackle_dask.write_sidecars(pattern)
    assert crackle_dask.voxel_counts(pattern) == truth
    rows = [("crackle_dask.voxel_counts, 64 files, crack codes", ours),
            ("crackle_dask.voxel_counts, 64 files, sidecars", best(lambda: crackle_dask.voxel_counts(pattern), repeat)),
            ("crackle.voxel_counts, one file (2 threads)", best(lambda: crackle.voxel_counts(stream), repeat)),
            ("crackle-codec voxel_counts, one file", reference_time(single, "crackle.voxel_counts(stream)", repeat)),
            ("decode every file on the cluster + np.unique", best(lambda: decode_everything(pattern), repeat))]
    table("Voxel counts, 512^3 volume as 64 files of 512x512x8, 2 workers x 1 thread",
          ("method", "time", "time / ours"),
          [(name, f"{t * 1e3:.0f} ms", f"{t / ours:.2f}") for name, t in rows])


def connected_components_table(folder: Path, stream: bytes, client) -> None:
    pattern = write_stack(folder / "cc16", stream, 16)
    file_bytes = 512 * 512 * 32 * 4
    crackle_dask.connected_components(pattern, str(folder / "cc16-warm"), 26)  # compiles on the workers
    baselines = client.run(reset_peak)
    start = time.perf_counter()
    result = crackle_dask.connected_components(pattern, str(folder / "cc16-out"), 26)
    distributed_time = time.perf_counter() - start
    gained = max(client.run(peak)[worker] - baselines[worker] for worker in baselines)
    crackle.connected_components(stream, 26)  # warm
    baseline = reset_peak()
    start = time.perf_counter()
    whole = crackle.connected_components(stream, 26)
    single_time = time.perf_counter() - start
    single_gained = peak() - baseline
    assert result.count == int(crackle.max(whole))
    table("Connected components (26), 512^3 volume as 16 files of 512x512x32 (32 MiB decoded each)",
          ("method", "time", "peak memory gained", "/ one file decoded"),
          [("crackle_dask, 16 files, 2 workers x 1 thread", f"{distributed_time:.2f} s",
            f"{gained / MIB:.0f} MiB per worker", f"{gained / file_bytes:.2f}"),
           ("crackle.connected_components, one file", f"{single_time:.2f} s",
            f"{single_gained / MIB:.0f} MiB", f"{single_gained / file_bytes:.2f}")])


def scaling_table(folder: Path, volumes: dict) -> None:
    rows = []
    for name, stream in volumes.items():
        count = crackle.num_labels(stream)
        for files in (4, 16, 64):
            pattern = write_stack(folder / f"{name}-{files}", stream, files)
            times = []
            for job in (lambda: crackle_dask.voxel_counts(pattern, use_sidecars=False),
                        lambda: crackle_dask.labels(pattern),
                        lambda: crackle_dask.connected_components(pattern, str(folder / f"{name}-{files}-cc"), 26)):
                start = time.perf_counter()
                job()
                times.append(time.perf_counter() - start)
            rows.append((name, f"{count:,}", files, *(f"{t:.2f} s" for t in times)))
    table("Scaling with files and labels, 512^3 volume, 2 workers x 1 thread",
          ("volume", "labels", "files", "voxel_counts", "labels", "connected_components"), rows)


def main() -> None:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stream = gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes())
    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        folder = Path(tmp)
        voxel_count_table(folder, stream, args.repeat)
        connected_components_table(folder, stream, client)
        scaling_table(folder, {"connectomics": stream, "labels per slice": many_labels(stream)})


if __name__ == "__main__":
    main()
