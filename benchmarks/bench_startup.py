"""Start-up costs: the first calls of a fresh process, with an empty Numba cache and warm (tables).

Each measurement runs in fresh processes:

- **First calls**: import, then the first ``compress``, ``decompress``, ``decompress(label=)``,
  ``voxel_counts`` and ``connected_components`` of a small volume for uint32, then uint64, then
  uint8; with an empty ``NUMBA_CACHE_DIR`` (cold), with the cache that run filled (warm), and for
  crackle-codec (which compiles nothing) in the same run.
- **Compile seconds per kernel and signature** in the cold run (each compilation's own seconds, its
  callees' excluded), from Numba's event API.
- **The quickstart** (``examples/quickstart.py``) cold and warm, and **``crackle warmup``** of every
  dtype into an empty cache.

Targets (issue 18, cold cache, 2 cores): first ``decompress`` of uint32 at most 3 s, each further
dtype at most 1.5 s more; first ``compress`` at most 4 s; the quickstart's cold run at most twice its
warm run plus 15 s; ``crackle warmup`` at most 90 s. Warm: a fresh process's import and first
``decompress`` within 0.5 s of crackle-codec's.

    python benchmarks/bench_startup.py [--top 30] [--skip-quickstart]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # (appended: in crackle-codec's run, its ``crackle`` comes first)

from benchmarks.timing import table  # noqa: E402

STEPS = ("compress", "decompress", "decompress(label=)", "voxel_counts", "connected_components")
DTYPES = ("uint32", "uint64", "uint8")


def child() -> None:
    """Run the steps and print ``{"steps": [...], "compiles": [...]}`` as JSON (with crackle-codec as
    ``crackle`` too: it has no Numba, so no compilations are recorded)."""
    start = time.perf_counter()
    import numpy as np

    import crackle

    imported = time.perf_counter() - start
    compiles, stack, current = [], [], ["import"]
    try:
        from numba.core import event
    except ImportError:
        event = None
    if event is not None and hasattr(crackle, "warmup"):

        class Recorder(event.Listener):
            def on_start(self, ev):
                stack.append([time.perf_counter(), 0.0])

            def on_end(self, ev):
                began, nested = stack.pop()
                spent = time.perf_counter() - began
                if stack:
                    stack[-1][1] += spent
                function = ev.data["dispatcher"].py_func
                name = f"{function.__module__.removeprefix('crackle.')}.{function.__qualname__}"
                compiles.append({"kernel": name, "signature": ", ".join(str(a) for a in ev.data["args"]),
                                 "seconds": spent - nested, "step": current[0]})

        event.register("numba:compile", Recorder())
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 6, (16, 16, 16))
    steps = [("import", "", imported)]
    for dtype in DTYPES:
        volume = np.asfortranarray(np.repeat(np.repeat(np.repeat(blocks, 4, 0), 4, 1), 2, 2).astype(dtype))
        stream = None
        for step in STEPS:
            current[0] = f"{step} {dtype}"
            began = time.perf_counter()
            if step == "compress":
                stream = crackle.compress(volume)
            elif step == "decompress":
                crackle.decompress(stream)
            elif step == "decompress(label=)":
                crackle.decompress(stream, label=3)
            elif step == "voxel_counts":
                crackle.voxel_counts(stream)
            else:
                crackle.connected_components(stream)
            steps.append((step, dtype, time.perf_counter() - began))
    print(json.dumps({"steps": steps, "compiles": compiles}))


def run(command: list, env: dict) -> tuple:
    """``(seconds, stdout)`` of a command run to completion (RuntimeError if it fails)."""
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - began, done.stdout


def first_calls(env: dict) -> dict:
    """The child's report, run in a fresh process with ``env``."""
    _, out = run([sys.executable, __file__, "--child"], env)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=30, help="kernels and compilations to list")
    parser.add_argument("--skip-quickstart", action="store_true", help="leave out the quickstart (about 2 min)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    from tests.reference import ensure_reference

    base = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        env = dict(base, NUMBA_CACHE_DIR=cache)
        cold = first_calls(env)
        warm = first_calls(env)
        reference = first_calls(dict(os.environ, PYTHONPATH=f"{ensure_reference()}{os.pathsep}{ROOT}"))
    rows = []
    for (step, dtype, c), (_, _, w), (_, _, r) in zip(cold["steps"], warm["steps"], reference["steps"]):
        compiled = sum(x["seconds"] for x in cold["compiles"] if x["step"] == (f"{step} {dtype}" if dtype else step))
        rows.append((step, dtype, f"{c:.2f}", f"{compiled:.2f}", f"{w:.3f}", f"{r:.3f}"))
    first = {(s, d): (c, w, r) for (s, d, c), (_, _, w), (_, _, r) in
             zip(cold["steps"], warm["steps"], reference["steps"])}
    table("First calls in a fresh process (seconds): empty Numba cache, warm cache, crackle-codec",
          ("step", "dtype", "cold", "of it compiling", "warm", "crackle-codec"), rows)
    imported, decoded = first[("import", "")], first[("decompress", "uint32")]
    print(f"import + first decompress, warm: {imported[1] + decoded[1]:.2f} s; crackle-codec: "
          f"{imported[2] + decoded[2]:.2f} s (target: within 0.5 s)")

    compiles = cold["compiles"]
    kernels = {}
    for c in compiles:
        kernels.setdefault(c["kernel"], []).append(c["seconds"])
    table(f"Compile seconds per kernel (cold run): {len(compiles)} compilations of {len(kernels)} kernels, "
          f"{sum(c['seconds'] for c in compiles):.1f} s", ("kernel", "signatures", "seconds"),
          [(k, len(v), f"{sum(v):.2f}") for k, v in sorted(kernels.items(), key=lambda kv: -sum(kv[1]))][: args.top])
    table("Most expensive compilations (seconds exclude callees)", ("kernel", "step", "seconds", "signature"),
          [(c["kernel"], c["step"], f"{c['seconds']:.2f}", c["signature"][:120])
           for c in sorted(compiles, key=lambda c: -c["seconds"])[: args.top]])

    rows = []
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        env = dict(base, NUMBA_CACHE_DIR=cache)
        seconds, _ = run([sys.executable, "-m", "crackle", "warmup", "-q"], env)
        rows.append(("crackle warmup (every dtype), empty cache", f"{seconds:.1f}", "90"))
    if not args.skip_quickstart:
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
            env = dict(base, NUMBA_CACHE_DIR=cache)
            quickstart = [sys.executable, str(ROOT / "examples" / "quickstart.py")]
            cold_run, _ = run(quickstart, env)
            warm_run, _ = run(quickstart, env)
        rows += [("quickstart, empty cache", f"{cold_run:.1f}", f"{2 * warm_run + 15:.1f} (2 x warm + 15)"),
                 ("quickstart, warm cache", f"{warm_run:.1f}", "")]
    table("Whole runs (seconds)", ("run", "seconds", "target"), rows)


if __name__ == "__main__":
    main()
