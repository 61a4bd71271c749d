"""Precomputed layers: bytes on disk, writing and reading a 1024^3 layer, one xy slice.

The shared 512^3 volume tiled 2 x 2 x 2 (each tile's labels offset so that
tiles do not share labels: 1024^3 uint32, 4 GiB decoded), as a layer of
128^3 chunks. The tiled volume is a lazy Dask array read from a 128^3-chunk
layer of the 512^3 volume, so that a task's input is one chunk. Prints:

1. bytes on disk: crackle (unsharded and sharded), crackle + gzip, raw + gzip,
   compressed_segmentation + gzip, all written by ``to_precomputed``;
2. writing the layer with ``to_precomputed`` on a local cluster of 2 worker
   processes x 1 thread, from the volume held in the workers' memory, against
   cloud-volume's upload (crackle-codec encoding, ``parallel=2``) of the same
   array from memory, in a subprocess;
3. reading the whole layer into Dask on that cluster (each task reads and
   decodes one chunk; the result is reduced to its maximum, so the client
   never holds it), against cloud-volume's download (crackle-codec decoding,
   ``parallel=2``);
4. one xy slice through xarray, on the HTTP range server: bytes fetched and
   time, against the whole chunks it cuts;
5. the peak memory each worker gained while writing and reading, against
   3 chunks plus a task's output.

    python benchmarks/bench_precomputed.py
"""

import gzip
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crackle  # noqa: E402
import crackle_dask  # noqa: E402
from benchmarks.timing import peak, reset_peak, table  # noqa: E402
from tests.cloudvolume_oracle import run_cloudvolume  # noqa: E402
from tests.servers import http_server  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))
CHUNK = (128, 128, 128)
MIB = 1 << 20


def tiled(layer: str, step: int):
    """The 512^3 volume (a layer of 128^3 chunks) tiled 2 x 2 x 2 as a lazy 1024^3 Dask array with
    128^3 chunks, tile t's labels + t * step: each chunk of it is read from one chunk of the layer."""
    import dask.array as da

    base = crackle_dask.open_precomputed(layer)
    tiles = [[[base + np.uint32((4 * i + 2 * j + k) * step) for k in range(2)] for j in range(2)] for i in range(2)]
    return da.block(tiles)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def cloudvolume_time(code: str) -> float:
    """Seconds the timed part of ``code`` (cloud-volume + crackle-codec, in a subprocess) took."""
    return run_cloudvolume(code)["seconds"]


def main() -> None:
    from distributed import Client, LocalCluster
    from distributed import wait as distributed_wait

    work = Path(tempfile.mkdtemp(prefix="bench-precomputed-"))
    source = work / "shared.ckl"
    stream = gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes())
    source.write_bytes(stream)
    step = int(crackle.max(stream)) + 1
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        base = crackle_dask.to_precomputed(crackle_dask.open_array(str(source), chunks=128), str(work / "base"),
                                           chunk_size=CHUNK)
        volume = client.persist(tiled(base, step))  # in the workers' memory, as cloud-volume uploads from memory
        distributed_wait(volume)
        small = volume[:256, :256, :256]
        crackle_dask.to_precomputed(small, str(work / "warm"), chunk_size=CHUNK, sharding=True)  # compile on workers
        crackle_dask.open_precomputed(str(work / "warm")).max().compute()

        sizes, writes, rows = {}, {}, []
        encodings = (("crackle", {}), ("crackle, sharded", {"sharding": True}),
                     ("crackle + gzip", {"compress": "gzip"}), ("raw + gzip", {"encoding": "raw", "compress": "gzip"}),
                     ("compressed_segmentation + gzip", {"encoding": "compressed_segmentation", "compress": "gzip"}))
        for name, kw in encodings:
            target = work / name.replace(" ", "").replace(",", "-").replace("+", "-")
            baselines = client.run(reset_peak)
            start = time.perf_counter()
            crackle_dask.to_precomputed(volume, str(target), chunk_size=CHUNK, **kw)
            elapsed = time.perf_counter() - start
            gained = max(client.run(peak)[w] - baselines[w] for w in baselines)
            sizes[name], writes[name] = target, elapsed
            rows.append((name, f"{folder_bytes(target) / MIB:.1f} MiB", f"{elapsed:.1f} s", f"{gained / MIB:.0f} MiB"))
        raw_bytes = 1024**3 * 4
        table(f"1. to_precomputed of the tiled volume (1024^3 uint32, {raw_bytes / MIB:.0f} MiB decoded), "
              "128^3 chunks, 2 workers x 1 thread", ("encoding", "on disk", "write", "worker peak gained"), rows)

        npy = work / "volume.npy"
        np.save(npy, volume.compute())
        upload = cloudvolume_time(f"""
import json, time, numpy as np
from cloudvolume import CloudVolume
arr = np.load({str(npy)!r}, mmap_mode="r")
info = CloudVolume.create_new_info(num_channels=1, layer_type="segmentation", data_type="uint32", encoding="crackle",
    resolution=[1, 1, 1], voxel_offset=[0, 0, 0], chunk_size={list(CHUNK)!r}, volume_size=list(arr.shape))
vol = CloudVolume("file://{work / 'cloudvolume'}", info=info, progress=False, parallel=2, compress=False)
vol.commit_info()
arr = np.asfortranarray(arr)
start = time.perf_counter()
vol[:, :, :] = arr
print(json.dumps({{"seconds": time.perf_counter() - start}}))
""")
        npy.unlink()
        download = cloudvolume_time(f"""
import json, time
from cloudvolume import CloudVolume
vol = CloudVolume("file://{sizes['crackle']}", progress=False, parallel=2)
start = time.perf_counter()
arr = vol[:, :, :]
print(json.dumps({{"seconds": time.perf_counter() - start}}))
""")
        rows = [(f"write, {name}", f"{writes[name]:.1f} s", f"{upload / writes[name]:.2f}x")
                for name in ("crackle", "crackle, sharded")]
        reads = {}
        for name in ("crackle", "crackle, sharded"):
            baselines = client.run(reset_peak)
            start = time.perf_counter()
            crackle_dask.open_precomputed(str(sizes[name])).max().compute()
            reads[name] = time.perf_counter() - start
            gained = max(client.run(peak)[w] - baselines[w] for w in baselines)
            rows.append((f"read, {name}", f"{reads[name]:.1f} s", f"{download / reads[name]:.2f}x"))
            rows[-1] += (f"{gained / MIB:.0f} MiB",)
        rows = [row + ("",) * (4 - len(row)) for row in rows]
        table("2-3. the whole layer on 2 workers vs cloud-volume (crackle-codec, parallel=2); "
              "ratio = cloud-volume / ours; budget per worker: 3 chunks + a task's output = "
              f"{4 * int(np.prod(CHUNK)) * 4 / MIB:.0f} MiB",
              ("job", "ours", "ratio", "worker peak gained"),
              rows + [("cloud-volume upload", f"{upload:.1f} s", "", ""),
                      ("cloud-volume download", f"{download:.1f} s", "", "")])

    import xarray as xr

    layer = sizes["crackle, sharded"]
    with http_server(layer) as server:
        ds = xr.open_dataset(f"precomputed://{server.url}", engine="crackle")
        ds["labels"][:, :, 0].values  # opens the shards' indices once
        server.requests.clear()
        start = time.perf_counter()
        ds["labels"][:, :, 600].values
        elapsed = time.perf_counter() - start
        fetched = sum(sent for _, sent in server.requests)
    shards = sum(p.stat().st_size for p in layer.rglob("*.shard"))
    cut = shards / 8  # the 64 of 512 chunks a slice cuts, at the average chunk size
    table("4. one xy slice (z = 600) of the sharded layer over HTTP",
          ("what", "bytes", "time"),
          [("fetched", f"{fetched / MIB:.2f} MiB", f"{elapsed * 1e3:.0f} ms"),
           ("the chunks it cuts (about)", f"{cut / MIB:.2f} MiB", "-")])
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
