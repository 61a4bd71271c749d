"""Grid jobs against plain ways and one machine (run by hand; prints two tables).

The shared 512^3 volume tiled 2 x 2 x 2 as uint64 (1024^3 voxels, 8 GiB decoded), alternate tiles
mirrored as in ``bench_scale.py``, is written as a precomputed layer of 128^3 Crackle chunks
(sharded) and as one Crackle stream. On a local cluster of 2 worker processes x 1 thread:

1. ``voxel_counts`` of the layer against decoding every chunk on the cluster and counting with
   numpy (ratio: that time / ours; the target is at least 2).
2. ``connected_components(26)`` of the layer, twice, against ``crackle.connected_components`` of
   the one stream in a fresh process on the same 2 cores, and crackle-codec's (ratio: time / that
   of the one stream; the target is at most 1.5 for ours), with the peak memory each worker gained
   during the job against one chunk decoded (the first run on a worker also grows its heap).

    python benchmarks/bench_grid.py [--tiles 2 2 2] [--repeat 2]
"""

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crackle  # noqa: E402
import crackle_dask  # noqa: E402
from benchmarks.bench_scale import CHUNK, DATA, tiled_volume  # noqa: E402
from benchmarks.timing import best, numpy_counts, peak, reference_time, reset_peak, table  # noqa: E402
from crackle_dask.precomputed import Layer  # noqa: E402
from tests.children import child_env  # noqa: E402

MIB = 1 << 20
SINGLE = """
import json, sys, time
import numpy as np
import crackle
from benchmarks.timing import peak, reset_peak
stream = open(sys.argv[1], "rb").read()
crackle.connected_components(crackle.compress(np.ones((4, 4, 4), np.uint64)), 26)  # compiled, if it was not
baseline = reset_peak()
start = time.perf_counter()
labelled = crackle.connected_components(stream, 26)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "gained": peak() - baseline, "count": int(crackle.max(labelled))}))
"""


def single_machine(path: Path) -> dict:
    """``crackle.connected_components`` of one stream in a fresh process (all cores)."""
    done = subprocess.run([sys.executable, "-c", SINGLE, str(path)], env=child_env(), capture_output=True,
                          text=True, cwd=str(ROOT), check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def on_cluster(client, step) -> tuple:
    """``(seconds, the most peak memory a worker gained, result)`` of ``step()``."""
    baselines = client.run(reset_peak)
    start = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - start
    peaks = client.run(peak)
    return seconds, max(peaks[w] - baselines[w] for w in baselines), result


def main() -> None:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs=3, default=[2, 2, 2])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    tiles = tuple(args.tiles)
    work = Path(tempfile.mkdtemp(prefix="bench-grid-"))
    tile = crackle.decompress(gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes()))
    base = crackle_dask.to_precomputed(tile, str(work / "tile"), chunk_size=(CHUNK,) * 3)
    volume = tiled_volume(Layer.open(base), tiles)
    whole = volume.compute(scheduler="threads")
    single = work / "single.ckl"
    single.write_bytes(crackle.compress(whole))
    chunk_bytes = CHUNK**3 * whole.itemsize
    small = crackle_dask.to_precomputed(whole[:256, :256, :256], str(work / "small"), chunk_size=(CHUNK,) * 3)
    del whole, tile
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        url = crackle_dask.to_precomputed(volume, str(work / "tiled"), chunk_size=(CHUNK,) * 3, sharding=True)
        crackle_dask.connected_components(small, str(work / "small-cc"), 26)  # compiled on the workers
        blocks = crackle_dask.open_precomputed(url).to_delayed().ravel().tolist()
        truth = crackle_dask.voxel_counts(url)
        assert numpy_counts(blocks) == truth, "voxel counts"
        ours = best(lambda: crackle_dask.voxel_counts(url), args.repeat)
        plain = best(lambda: numpy_counts(blocks), args.repeat)
        chunks = len(blocks)
        table(f"voxel_counts, 1024^3 uint64 layer ({chunks} chunks of 128^3, sharded), 2 workers x 1 thread",
              ("method", "time", "time / ours"),
              [(name, f"{t:.2f} s", f"{t / ours:.2f}")
               for name, t in (("crackle_dask.voxel_counts (crack codes)", ours),
                               ("decode every chunk on the cluster + np.unique", plain))])
        runs = [on_cluster(client, lambda: crackle_dask.connected_components(url, str(work / f"cc-{i}"), 26))
                for i in range(2)]  # the first run on a worker also grows its heap for good
    alone = single_machine(single)
    theirs = reference_time(single, "crackle.connected_components(stream, 26)", 1)
    result = runs[0][2]
    assert result.count == runs[1][2].count == alone["count"], "connected components"
    tasks = len(crackle_dask.connected_components(url, str(work / "unused"), 26, compute=False).dask)
    shutil.rmtree(work)
    table(f"connected_components(26), the same layer: {result.count:,} components, {tasks:,} tasks; "
          f"one chunk decoded is {chunk_bytes / MIB:.0f} MiB",
          ("method", "time", "time / one stream", "peak memory gained", "/ one chunk"),
          [(f"crackle_dask, the layer, 2 workers x 1 thread, {which} run", f"{seconds:.1f} s",
            f"{seconds / alone['seconds']:.2f}", f"{gained / MIB:.0f} MiB per worker", f"{gained / chunk_bytes:.1f}")
           for which, (seconds, gained, _) in zip(("first", "second"), runs)] + [
           ("crackle.connected_components, one stream, 2 threads", f"{alone['seconds']:.1f} s", "1.00",
            f"{alone['gained'] / MIB:.0f} MiB", f"{alone['gained'] / chunk_bytes:.1f}"),
           ("crackle-codec connected_components, one stream", f"{theirs:.1f} s",
            f"{theirs / alone['seconds']:.2f}", "", "")])


if __name__ == "__main__":
    main()
