"""Compress a volume into Crackle files and analyse it lazily with Dask on this machine.

    python examples/quickstart.py [path/to/connectomics.npy.ckl.gz]

Uses the shared 512^3 connectomics volume ($CRACKLE_TEST_DATA, default
../shared/data next to the repository) or, when it is absent, a synthetic one.
The same story, with a plot, is in notebooks/quickstart.ipynb.
"""

import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import crackle

DEFAULT_DATA = Path(os.environ.get("CRACKLE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_volume(path=None) -> np.ndarray:
    """The connectomics volume at ``path`` (default: the shared one), or a synthetic one if absent."""
    path = Path(path) if path else DEFAULT_DATA / "connectomics.npy.ckl.gz"
    if path.exists():
        print(f"volume: {path}")
        return crackle.decompress(gzip.decompress(path.read_bytes()))
    print(f"{path} not found: using a synthetic volume")
    rng = np.random.default_rng(0)
    small = rng.integers(1, 400, size=(16, 16, 8), dtype=np.uint32)
    return np.asfortranarray(np.kron(small, np.ones((16, 16, 16), dtype=np.uint32)))


def write_blocks(volume: np.ndarray, folder, files: int = 4) -> list:
    """Compress ``volume`` into ``files`` z-slabs (as a pipeline writes blocks); returns their paths."""
    start = time.perf_counter()
    depth = -(-volume.shape[2] // files)
    paths, total = [], 0
    for i in range(files):
        stream = crackle.compress(volume[:, :, i * depth : (i + 1) * depth], allow_pins=1, markov_model_order=5)
        paths.append(Path(folder, f"block{i:03d}.ckl"))
        paths[-1].write_bytes(stream)
        total += len(stream)
    print(f"compressed {volume.nbytes / 2**20:.0f} MiB into {files} files, {total:,} bytes "
          f"({volume.nbytes / total:.0f}x smaller) in {time.perf_counter() - start:.1f} s")
    return paths


def main():
    import xarray as xr
    from distributed import Client, LocalCluster

    import crackle_dask

    volume = load_volume(sys.argv[1] if len(sys.argv) > 1 else None)
    sx, sy, sz = volume.shape
    with tempfile.TemporaryDirectory() as folder, \
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        print(f"dask.distributed: {client}")
        write_blocks(volume, folder)

        # The files as one lazy array: each task fetches and decodes only its own z range.
        labels = crackle_dask.open_array(os.path.join(folder, "block*.ckl"), chunks=32)
        print(f"lazy array: {labels.shape} {labels.dtype}, {labels.npartitions} tasks")
        target = int(volume[sx // 2, sy // 2, sz // 2])
        start = time.perf_counter()
        voxels = int((labels == target).sum().compute())
        print(f"object {target}: {voxels:,} voxels ({time.perf_counter() - start:.2f} s on the cluster); "
              f"numpy says {int(np.count_nonzero(volume == target)):,}")
        start = time.perf_counter()
        zs = np.flatnonzero((labels == target).any(axis=(0, 1)).compute())
        print(f"object {target} spans z = {zs.min()}..{zs.max()} ({time.perf_counter() - start:.2f} s)")

        # The same files through xarray, read lazily: one slice decodes one slice.
        dataset = xr.open_dataset(os.path.join(folder, "block*.ckl"), engine="crackle")
        start = time.perf_counter()
        plane = dataset["labels"].isel(z=sz // 3).values
        print(f"xarray: slice z={sz // 3} holds {np.unique(plane).size} labels "
              f"({(time.perf_counter() - start) * 1e3:.0f} ms); attrs: {dataset.attrs['label_format']}, "
              f"Markov order {dataset.attrs['markov_model_order']}")

        # Questions about labels need no decoding at all.
        first = crackle.CrackleArray(Path(folder, "block000.ckl").read_bytes())
        print(f"block000: {first.num_labels()} labels, max {first.max()}, contains {target}: {target in first}")

        # Whole-stack analysis, file by file on the workers: only per-label rows travel.
        blocks = os.path.join(folder, "block*.ckl")
        start = time.perf_counter()
        counts = crackle_dask.voxel_counts(blocks)
        boxes = crackle_dask.bounding_boxes(blocks)
        print(f"voxel counts and boxes of {len(counts)} labels ({time.perf_counter() - start:.2f} s): "
              f"object {target} has {counts[target]:,} voxels in {boxes[target]}")
        start = time.perf_counter()
        result = crackle_dask.connected_components(blocks, out=os.path.join(folder, "components"), connectivity=26)
        print(f"26-connected components: {result.count:,}, written as {len(result.files)} files "
              f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
