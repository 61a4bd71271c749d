"""crackle_dask benchmark on the 512^3 connectomics volume: Dask schedulers, HTTP range reads, memory.

Prints three tables:

1. Whole-volume ``.compute()`` of ``open_array`` (one file, and the volume
   split into 4 files) on Dask's threaded scheduler and on a local
   ``dask.distributed`` cluster (2 worker processes x 1 thread, and 1 worker x
   2 threads), against one ``crackle.decompress`` of the same stream in
   memory and crackle-codec's ``decompress`` in a subprocess (ratios: time /
   our decompress time, so < 1.5 meets the target).
2. One z slice over HTTP (a local server honouring Range requests) against
   fetching the whole file and decoding it: time, bytes and requests.
3. Memory: opening a 100-file stack (tracemalloc peak, against the volume's
   decoded size) and the peak of one task against its chunk.

    python benchmarks/bench_dask.py [--repeat 3]
"""

import argparse
import gzip
import json
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crackle  # noqa: E402
import crackle_dask  # noqa: E402
from crackle_dask.stack import StreamStack  # noqa: E402
from benchmarks.timing import best, reference_time, table  # noqa: E402
from tests.servers import http_server  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))


def whole_volume(folder: Path, stream: bytes, expected: np.ndarray, repeat: int) -> None:
    from distributed import Client, LocalCluster

    ours = best(lambda: crackle.decompress(stream), repeat)
    ours_c = best(lambda: crackle.codec.decompress_range(stream, None, None, order="C"), repeat)
    reference = reference_time(folder / "volume.ckl", "crackle.decompress(stream)", repeat)
    sources = {"1 file": str(folder / "volume.ckl"), "4 files": str(folder / "part*.ckl")}
    rows = [("crackle.decompress (in memory, F order)", "-", "-", f"{ours:.3f}", "1.00"),
            ("decompress_range(order='C')", "-", "-", f"{ours_c:.3f}", f"{ours_c / ours:.2f}"),
            ("crackle-codec decompress", "-", "-", f"{reference:.3f}", f"{reference / ours:.2f}")]

    def run(label, scheduler):
        for source, url in sources.items():
            for chunks, order in (("auto", None), ("auto", "C"), (32, "C")):
                arr = crackle_dask.open_array(url, chunks=chunks, order=order)
                assert np.array_equal(arr.compute(scheduler=scheduler), expected)
                seconds = best(lambda: arr.compute(scheduler=scheduler), repeat)
                rows.append((f"{label}, {source}", f"{chunks} ({arr.npartitions} tasks)", order or "file's",
                             f"{seconds:.3f}", f"{seconds / ours:.2f}"))
        arr = crackle_dask.open_array(sources["1 file"])
        seconds = best(lambda: (arr == 777).sum().compute(scheduler=scheduler), repeat)
        rows.append((f"{label}: (arr == 777).sum()", f"auto ({arr.npartitions} tasks)", "file's",
                     f"{seconds:.3f}", f"{seconds / ours:.2f}"))

    run("dask threads (2)", "threads")
    for processes, workers, threads in ((True, 2, 1), (False, 1, 2)):
        with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=processes,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            kind = "processes" if processes else "threads"
            run(f"distributed, {workers} x {threads} ({kind})", client.get)
    table("Whole-volume .compute() (512^3 uint32, best of %d; ratio = time / crackle.decompress)" % repeat,
          ("how", "chunks", "chunk order", "seconds", "ratio"), rows)


def one_slice_over_http(folder: Path, stream: bytes, repeat: int) -> None:
    z = 300
    rows = []
    with http_server(folder) as server:
        url = f"{server.url}/volume.ckl"

        def whole():
            import fsspec

            return crackle.codec.decompress_range(fsspec.open(url, "rb").open().read(), z, z + 1)

        def ranged():
            return crackle_dask.open_array(url, chunks=1)[:, :, z].compute(scheduler="threads")

        def lazy():
            return StreamStack.open(url)[:, :, z]

        for name, fn in (("fetch whole file, decode slice", whole),
                         ("open_array(chunks=1)[:, :, z]", ranged),
                         ("StreamStack.open(url)[:, :, z]", lazy)):
            assert np.array_equal(fn()[..., 0] if fn is whole else fn(), crackle.decompress(stream)[:, :, z])
            seconds = best(fn, repeat)
            server.requests.clear()
            fn()
            sent = sum(n for _, n in server.requests)  # HEAD requests log 0 bytes
            rows.append((name, f"{seconds * 1e3:.1f}", f"{sent:,}", len(server.requests)))
    table(f"One z slice (z={z}) over HTTP, file of {len(stream):,} bytes, best of {repeat}",
          ("how", "ms", "bytes", "requests"), rows)


def memory(folder: Path, volume: np.ndarray) -> None:
    stack_dir = folder / "stack"
    stack_dir.mkdir()
    for i in range(100):  # 100 files of 512 x 512 x 5 (2,560 z slices in all)
        part = volume[:, :, (5 * i) % 505 : (5 * i) % 505 + 5]
        (stack_dir / f"{i:03d}.ckl").write_bytes(crackle.compress(part, allow_pins=1, markov_model_order=5))
    tracemalloc.start()
    arr = crackle_dask.open_array(str(stack_dir / "*.ckl"), chunks=5)
    _, opened = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    arr.blocks[0, 0, 17].compute(scheduler="sync")
    _, task = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    chunk = volume[:, :, :5].nbytes
    table("Memory (tracemalloc peaks)", ("what", "MiB", "against"), [
        ("open_array over 100 files", f"{opened / 2**20:.2f}", f"volume {arr.nbytes / 2**20:,.0f} MiB"),
        ("one task (5 slices)", f"{task / 2**20:.2f}", f"chunk {chunk / 2**20:.0f} MiB"),
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stream = gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes())
    expected = crackle.decompress(stream)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "volume.ckl").write_bytes(stream)
        for i in range(4):
            (folder / f"part{i}.ckl").write_bytes(
                crackle.compress(expected[:, :, 128 * i : 128 * (i + 1)], allow_pins=1, markov_model_order=7))
        whole_volume(folder, stream, expected, args.repeat)
        one_slice_over_http(folder, stream, args.repeat)
        memory(folder, expected)
    print(json.dumps({"cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
