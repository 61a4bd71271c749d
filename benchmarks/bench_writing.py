"""The write path on the shared 512^3 volume: to_crackle on a local cluster, and CrackleWriter.

Prints three tables:

1. ``crackle_dask.to_crackle`` of the volume (read lazily from its file in
   64-slice chunks of 64 MiB, so that no process ever holds it) on a local
   ``dask.distributed`` cluster of 2 worker processes x 1 thread, as one file
   and as files of 64 slices, against one ``crackle.compress`` of the array
   in memory and crackle-codec's ``compress`` (in a subprocess): time, and
   the peak memory each worker gained against the bound of 2 chunks plus the
   compressed output.
2. ``CrackleWriter`` fed 16- and 64-slice slabs, each decoded from the
   compressed volume as it is written (as a pipeline produces them), in a
   fresh process: time and peak memory gained (slab included), against the
   target of 64 MiB plus the output.
3. ``to_crackle`` of an in-memory 512 x 512 x 128 volume in either memory order
   on the threaded scheduler, given as the numpy array itself and as
   ``da.from_array(volume, chunks=(512, 512, 64))`` (which copies it into C
   order), against ``crackle.compress`` of the array (best of 5 each).

Peak memory is VmHWM from /proc/self/status, reset through /proc/self/clear_refs
(every allocation counts, Numba's too).

    python benchmarks/bench_writing.py
"""

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crackle  # noqa: E402
import crackle_dask  # noqa: E402
from tests.children import child_env  # noqa: E402
from benchmarks.timing import peak, reference_time, reset_peak, table  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))
MIB = 1 << 20
CHUNK = 64  # slices per chunk: 64 MiB of uint32


def to_crackle_table(folder: Path, stream: bytes, volume: np.ndarray, client) -> None:
    source = folder / "source.ckl"
    source.write_bytes(stream)
    lazy = crackle_dask.open_array(str(source), chunks=CHUNK)
    crackle_dask.to_crackle(lazy[:, :, :2 * CHUNK], str(folder / "warm"), z_per_file=CHUNK)  # compiles on workers
    expected = crackle.compress(volume)
    rows = []
    outputs = (("one file", folder / "one.ckl", None), (f"files of {CHUNK} slices", folder / "many", CHUNK))
    for name, target, per_file in outputs:
        baselines = client.run(reset_peak)
        start = time.perf_counter()
        crackle_dask.to_crackle(lazy, str(target), z_per_file=per_file)
        elapsed = time.perf_counter() - start
        gained = max(client.run(peak)[w] - baselines[w] for w in baselines)
        size = target.stat().st_size if per_file is None else sum(p.stat().st_size for p in target.glob("*.ckl"))
        if per_file is None:
            assert target.read_bytes() == expected
        bound = 2 * 512 * 512 * CHUNK * 4 + size
        rows.append((f"to_crackle, {name}, 2 workers x 1 thread", f"{elapsed:.2f} s",
                     f"{gained / MIB:.0f} MiB", f"{bound / MIB:.0f} MiB"))
    start = time.perf_counter()
    crackle.compress(volume)
    rows.append(("crackle.compress of the array in memory", f"{time.perf_counter() - start:.2f} s", "-", "-"))
    theirs = reference_time(source, "crackle.compress(arr)", 2)
    rows.append(("crackle-codec compress of the array in memory", f"{theirs:.2f} s", "-", "-"))
    table("to_crackle of the 512^3 volume, read lazily in 64-slice chunks (flat labels, Markov order 0)",
          ("method", "time", "peak gained per worker", "bound (2 chunks + output)"), rows)


WRITER_RUN = """
import json, sys, time
import numpy as np
import crackle
from crackle.codec import decompress_range
from benchmarks.timing import peak, reset_peak

stream, target, depth = open(sys.argv[1], "rb").read(), sys.argv[2], int(sys.argv[3])
head = crackle.header(stream)
with crackle.CrackleWriter(target, (head.sx, head.sy), head.dtype) as writer:  # compiles
    writer.write(decompress_range(stream, 0, 2, 1))
baseline = reset_peak()
start = time.perf_counter()
with crackle.CrackleWriter(target, (head.sx, head.sy), head.dtype) as writer:
    for z in range(0, head.sz, depth):
        writer.write(decompress_range(stream, z, min(z + depth, head.sz), 1))
print(json.dumps([time.perf_counter() - start, peak() - baseline]))
"""


def writer_table(stream: bytes, folder: Path) -> None:
    source, target = folder / "writer-source.ckl", folder / "writer.ckl"
    source.write_bytes(stream)
    rows = []
    for depth in (16, 64):
        done = subprocess.run([sys.executable, "-c", WRITER_RUN, str(source), str(target), str(depth)],
                              env=child_env(), capture_output=True, text=True, cwd=str(ROOT), check=True)
        elapsed, gained = json.loads(done.stdout.strip().splitlines()[-1])
        size = target.stat().st_size
        rows.append((f"CrackleWriter, {depth}-slice slabs", f"{elapsed:.2f} s", f"{gained / MIB:.0f} MiB",
                     f"{depth * 512 * 512 * 4 / MIB:.0f} MiB", f"{(64 * MIB + size) / MIB:.0f} MiB"))
    table("CrackleWriter, 512^3 volume (uint32, 512 MiB), each slab decoded from the stream as it is written, "
          "in a fresh process",
          ("method", "time", "peak memory gained", "one slab", "target (64 MiB + output)"), rows)


def in_memory_table(folder: Path, volume: np.ndarray) -> None:
    import dask
    import dask.array as da

    def best_of(fn, repeat=5):
        fn()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    rows = []
    for order in ("F", "C"):
        arr = np.asarray(volume[:, :, :128], order=order)
        expected = crackle.compress(arr)
        compress = best_of(lambda: crackle.compress(arr))
        wrapped = da.from_array(arr, chunks=(512, 512, 64))
        with dask.config.set(scheduler="threads"):
            for name, given in (("the numpy array", arr), ("da.from_array(volume, chunks=(512, 512, 64))", wrapped)):
                target = str(folder / f"memory-{order}.ckl")
                elapsed = best_of(lambda: crackle_dask.to_crackle(given, target))
                if given is arr:
                    assert (folder / f"memory-{order}.ckl").read_bytes() == expected
                rows.append((f"{'Fortran' if order == 'F' else 'C'} order, {name}", f"{elapsed * 1e3:.0f} ms",
                             f"{compress * 1e3:.0f} ms", f"{elapsed / compress:.2f}x"))
    table("to_crackle of an in-memory 512 x 512 x 128 uint32 volume, threaded scheduler "
          f"({os.cpu_count()} cores), against crackle.compress of the array",
          ("order, given as", "to_crackle", "compress", "ratio"), rows)


def main() -> None:
    from distributed import Client, LocalCluster

    stream = gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes())
    volume = crackle.decompress(stream)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        writer_table(stream, folder)
        in_memory_table(folder, volume)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            to_crackle_table(folder, stream, volume, client)


if __name__ == "__main__":
    main()
