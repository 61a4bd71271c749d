"""crackle-codec (the reference implementation) as an oracle, always in a subprocess.

crackle-codec and this project share the module name ``crackle``, so the
reference is installed into its own directory (``pip install --target``) and
imported only by child processes started there. Tests and benchmarks share
this module.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REFERENCE = "crackle-codec==0.55.0"


def reference_dir() -> Path:
    """Where crackle-codec lives: $CRACKLE_REFERENCE_DIR, else ~/.cache/crackle-reference."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crackle-reference"
    return Path(os.environ.get("CRACKLE_REFERENCE_DIR", default))


def ensure_reference() -> Path:
    """Install crackle-codec into :func:`reference_dir` unless it is there already."""
    target = reference_dir()
    if not (target / "crackle" / "__init__.py").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), REFERENCE],
            check=True,
        )
    return target


def run_reference(code: str, timeout: float = 1800) -> dict:
    """Run ``code`` with crackle-codec importable as ``crackle``; it prints one JSON object last."""
    target = ensure_reference()
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("NUMBA_NUM_THREADS", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=str(target),
        capture_output=True, text=True, timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"crackle-codec subprocess failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


_COMPRESS = """
import json, numpy as np, crackle, fastcrackle
jobs = json.load(open({jobs!r}))
for job in jobs:
    arr = np.load(job["npy"])
    kw = job["kwargs"]
    if np.issubdtype(arr.dtype, np.signedinteger):
        # crackle.compress refuses signed input in 0.55; its low-level binding does not.
        stream = fastcrackle.compress(
            np.asfortranarray(arr), bool(kw.get("allow_pins", 0)), arr.flags.f_contiguous,
            kw.get("markov_model_order", 0), kw.get("allow_pins", 0) == 2, True, 0, 1)
    else:
        stream = crackle.compress(arr, **kw)
    open(job["out"], "wb").write(stream)
print(json.dumps({{"done": len(jobs)}}))
"""


def reference_compress(cases) -> list:
    """Compress each ``(array, kwargs)`` with crackle-codec; returns the streams (one subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for k, (arr, kwargs) in enumerate(cases):
            npy = os.path.join(tmp, f"{k}.npy")
            np.save(npy, arr)
            jobs.append({"npy": npy, "kwargs": kwargs, "out": os.path.join(tmp, f"{k}.ckl")})
        jobs_path = os.path.join(tmp, "jobs.json")
        with open(jobs_path, "w") as f:
            json.dump(jobs, f)
        run_reference(_COMPRESS.format(jobs=jobs_path))
        return [Path(job["out"]).read_bytes() for job in jobs]


_DECOMPRESS = """
import json, numpy as np, crackle
jobs = json.load(open({jobs!r}))
for job in jobs:
    np.save(job["out"], crackle.decompress(open(job["ckl"], "rb").read()))
print(json.dumps({{"done": len(jobs)}}))
"""


def reference_decompress(streams) -> list:
    """Decode each stream with crackle-codec; returns the arrays (one subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for k, stream in enumerate(streams):
            ckl = os.path.join(tmp, f"{k}.ckl")
            Path(ckl).write_bytes(bytes(stream))
            jobs.append({"ckl": ckl, "out": os.path.join(tmp, f"{k}.npy")})
        jobs_path = os.path.join(tmp, "jobs.json")
        with open(jobs_path, "w") as f:
            json.dump(jobs, f)
        run_reference(_DECOMPRESS.format(jobs=jobs_path))
        return [np.load(job["out"]) for job in jobs]
