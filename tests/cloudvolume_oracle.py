"""cloud-volume, with crackle-codec as its codec, as an oracle for Neuroglancer precomputed layers.

Like :mod:`tests.reference`, and for the same reason (crackle-codec's module is ``crackle``, as is
ours), cloud-volume + crackle-codec are installed into a directory of their own,
``reference_dir() / "cloudvolume"``, and imported only by child processes whose PYTHONPATH is that
directory and whose cwd is that directory. Arrays go to and from the children as .npy files.

Layers are local folders written and read through ``file://`` paths. ``write_layer`` checks, in
the same child, that cloud-volume reads back every scale it wrote before returning.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tests.reference import reference_dir

# The cloud-volume that pip resolved when this was written (``pip index versions cloud-volume``); it
# brings what gzip (cloud-files) and sharding (its own sharding.py and mmh3.py) need.
CLOUDVOLUME = ("cloud-volume==12.15.2", "crackle-codec==0.55.0", "compressed-segmentation==2.3.3")


def cloudvolume_dir() -> Path:
    """Where cloud-volume and crackle-codec live: ``reference_dir() / "cloudvolume"``."""
    return reference_dir() / "cloudvolume"


def ensure_cloudvolume() -> Path:
    """Install cloud-volume, crackle-codec and compressed-segmentation unless they are there already."""
    target = cloudvolume_dir()
    if not all((target / mod / "__init__.py").exists() for mod in ("cloudvolume", "crackle")):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), *CLOUDVOLUME],
            check=True,
        )
    return target


_PRELUDE = """
import crackle as _crackle, os as _os
assert _os.path.abspath(_crackle.__file__).startswith({target!r}), _crackle.__file__
"""


def run_cloudvolume(code: str, timeout: float = 1800) -> dict:
    """Run ``code`` with cloud-volume and crackle-codec (as ``crackle``); it prints one JSON object last."""
    target = ensure_cloudvolume()
    env = dict(os.environ, PYTHONPATH=str(target))  # only the target: never /work/main
    env.pop("NUMBA_NUM_THREADS", None)
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE.format(target=str(target) + os.sep) + code], check=False,
        env=env, cwd=str(target), capture_output=True, text=True, timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cloud-volume subprocess failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


_WRITE = """
import json, numpy as np
from cloudvolume import CloudVolume
from cloudfiles import CloudFiles

job = json.load(open({job!r}))
arr = np.load(job["npy"])
url = "file://" + job["path"]
chunk = list(job["chunk_size"])
info = CloudVolume.create_new_info(
    num_channels=1, layer_type="segmentation", data_type=arr.dtype.name, encoding=job["encoding"],
    resolution=list(job["resolution"]), voxel_offset=list(job["voxel_offset"]), chunk_size=chunk,
    volume_size=list(arr.shape))
vol = CloudVolume(url, info=info, progress=False, parallel=1, compress=job["compress"])
for k in range(1, job["mips"] + 1):
    vol.add_scale((2 ** k, 2 ** k, 1), chunk_size=chunk)
if job["sharding"] is not None:
    for scale in vol.scales:
        scale["sharding"] = dict(job["sharding"], **{{"@type": "neuroglancer_uint64_sharded_v1"}})
vol.commit_info()


def downsample(prev, prev_bounds, bounds):
    # Mode of each 2x2x1 block, on cloud-volume's grid for the new scale: voxel p covers the previous
    # scale's [2p, 2p + 2) in x and y. add_scale rounds offset (floor) and size (ceil) separately, so
    # that footprint can start before the previous scale (filled by edge replication) and end before
    # it (its last voxels are then dropped, e.g. offset 3 size 70 -> offset 1 size 35 covers [2, 72)).
    idx = []
    for d in range(3):
        f = 2 if d < 2 else 1
        start = f * bounds.minpt[d] - prev_bounds.minpt[d]
        idx.append(np.clip(np.arange(start, start + f * bounds.size3()[d]), 0, prev.shape[d] - 1))
    big = prev[np.ix_(*idx)]
    v = np.stack([big[0::2, 0::2], big[1::2, 0::2], big[0::2, 1::2], big[1::2, 1::2]])
    counts = (v[:, None] == v[None, :]).sum(axis=1)
    return np.take_along_axis(v, counts.argmax(axis=0)[None], axis=0)[0]


levels = [arr]
for mip in range(job["mips"] + 1):
    mvol = CloudVolume(url, mip=mip, progress=False, parallel=1, compress=job["compress"])
    bounds = mvol.meta.bounds(mip)
    if mip > 0:
        levels.append(downsample(levels[-1], vol.meta.bounds(mip - 1), bounds))
    img = levels[mip]
    assert tuple(img.shape) == tuple(bounds.size3()), (img.shape, bounds)
    if job["sharding"] is None:
        mvol[bounds.to_slices()] = img
    else:
        # Encode every chunk with cloud-volume (make_shard_chunks under a one-shard spec, so that its
        # same-shard check passes), then group them by shard and synthesize each with cloud-volume.
        spec = mvol.image.shard_spec(mip)
        # (ShardingSpecification's shard_bits setter does not update shard_mask: build it anew.)
        one = type(spec).from_dict(dict(spec.to_dict(), shard_bits=0))
        chunks = mvol.image.make_shard_chunks(img[..., None], bounds, mip=mip, spec=one)
        reader = mvol.image.shard_reader(mip)
        groups = {{}}
        for code, data in chunks.items():
            groups.setdefault(reader.get_filename(code), {{}})[code] = data
        cf = CloudFiles(mvol.meta.join(mvol.meta.cloudpath, mvol.meta.key(mip)))
        for name, group in groups.items():
            cf.put(name, spec.synthesize_shard(group), compress=job["compress"])
    back = CloudVolume(url, mip=mip, progress=False, parallel=1, fill_missing=True)
    back = back[bounds.to_slices()][..., 0]
    assert back.dtype == img.dtype and np.array_equal(back, img), f"mip {{mip}} does not read back"
print(json.dumps({{"mips": len(levels)}}))
"""


def write_layer(path, array, *, chunk_size, resolution=(1, 1, 1), voxel_offset=(0, 0, 0),
                encoding="crackle", compress=None, mips=0, sharding=None) -> None:
    """Write ``array`` (x, y, z) as a precomputed segmentation layer at the local folder ``path``.

    ``encoding``: "crackle", "raw" or "compressed_segmentation". ``compress``: None/False for plain
    chunk files, "gzip" for cloud-volume's gzip (files named ``<chunk>.gz`` on disk). ``mips=n``
    adds n scales, each 2x2x1 smaller (``vol.add_scale``, same chunk size); cloud-volume has no
    downsampler of its own (that is igneous/tinybrain), so each is the mode of the 2x2x1 blocks of
    the scale before, ties to the first of (0,0), (1,0), (0,1), (1,1), computed in the child.
    ``sharding``: None, or a dict of preshift_bits, hash, minishard_bits, shard_bits,
    minishard_index_encoding, data_encoding, used for every scale (not with ``compress``); shards
    (``<hex>.shard``) are made by cloud-volume's ``make_shard_chunks`` and
    ``ShardingSpecification.synthesize_shard``. compressed_segmentation needs uint32/uint64.
    """
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"need an (x, y, z) array, got shape {array.shape}")
    if encoding not in ("crackle", "raw", "compressed_segmentation"):
        raise ValueError(f"unknown encoding {encoding!r}")
    if compress not in (None, False, "gzip"):
        raise ValueError(f"compress must be None, False or 'gzip', not {compress!r}")
    if compress and sharding is not None:
        # cloud-volume writes <n>.shard.gz then fails to read it (it gunzips byte ranges).
        raise ValueError("sharded layers compress with sharding's data_encoding, not compress=")
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "layer.npy")
        np.save(npy, array)
        job = {
            "npy": npy, "path": str(Path(path).absolute()), "chunk_size": [int(c) for c in chunk_size],
            "resolution": list(resolution), "voxel_offset": [int(v) for v in voxel_offset],
            "encoding": encoding,
            # cloud-volume's compress=None means "gzip for raw", so "no compression" is False.
            "compress": "gzip" if compress == "gzip" else False,
            "mips": int(mips), "sharding": None if sharding is None else dict(sharding),
        }
        job_path = os.path.join(tmp, "job.json")
        with open(job_path, "w") as f:
            json.dump(job, f)
        run_cloudvolume(_WRITE.format(job=job_path))


_READ = """
import json, numpy as np
from cloudvolume import CloudVolume
job = json.load(open({job!r}))
vol = CloudVolume("file://" + job["path"], mip=job["mip"], fill_missing=True, progress=False, parallel=1)
np.save(job["out"], np.asarray(vol[:, :, :])[..., 0])
print(json.dumps({{"shape": [int(n) for n in vol.shape]}}))
"""


def read_layer(path, mip=0) -> np.ndarray:
    """Read all of scale ``mip`` of the layer at ``path`` with cloud-volume (fill_missing=True): (x, y, z)."""
    with tempfile.TemporaryDirectory() as tmp:
        job = {"path": str(Path(path).absolute()), "mip": int(mip), "out": os.path.join(tmp, "out.npy")}
        job_path = os.path.join(tmp, "job.json")
        with open(job_path, "w") as f:
            json.dump(job, f)
        run_cloudvolume(_READ.format(job=job_path))
        return np.load(job["out"])


_BOUNDS = """
import json
from cloudvolume import CloudVolume
vol = CloudVolume("file://" + {path!r}, mip={mip}, progress=False)
b = vol.meta.bounds({mip})
print(json.dumps({{"voxel_offset": [int(v) for v in b.minpt], "size": [int(v) for v in b.size3()],
                  "chunk_size": [int(v) for v in vol.meta.chunk_size({mip})],
                  "resolution": [float(v) for v in vol.meta.resolution({mip})]}}))
"""


def read_voxel_bounds(path, mip=0) -> dict:
    """cloud-volume's bounds of scale ``mip``: {voxel_offset, size, chunk_size, resolution}, lists of 3."""
    return run_cloudvolume(_BOUNDS.format(path=str(Path(path).absolute()), mip=int(mip)))
