"""Numba compile time per kernel and signature, from a cold cache (prints tables).

A fresh process with an empty ``NUMBA_CACHE_DIR`` runs the first calls a user makes — ``compress``,
``decompress``, ``decompress(label=)``, ``voxel_counts`` and ``connected_components`` — for uint32,
then uint64, then uint8, and records every compilation through Numba's event API. Printed: each
step's wall time, then every (kernel, signature) compiled with its own seconds (its callees'
compilations excluded) and the step that compiled it, most expensive first.

    python benchmarks/bench_compile.py [--top 40]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import table  # noqa: E402

STEPS = ("compress", "decompress", "decompress(label=)", "voxel_counts", "connected_components")
DTYPES = ("uint32", "uint64", "uint8")


def child() -> None:
    """Run the steps and print ``{"steps": [...], "compiles": [...]}`` as JSON."""
    import time

    start = time.perf_counter()
    import numpy as np
    from numba.core import event

    import crackle

    imported = time.perf_counter() - start
    compiles, stack, current = [], [], ["import"]

    class Recorder(event.Listener):
        def on_start(self, ev):
            stack.append([time.perf_counter(), 0.0])

        def on_end(self, ev):
            began, nested = stack.pop()
            spent = time.perf_counter() - began
            if stack:
                stack[-1][1] += spent
            dispatcher = ev.data["dispatcher"]
            function = dispatcher.py_func
            compiles.append({"kernel": f"{function.__module__.removeprefix('crackle.')}.{function.__qualname__}",
                             "signature": ", ".join(str(a) for a in ev.data["args"]),
                             "seconds": spent - nested, "step": current[0]})

    event.register("numba:compile", Recorder())
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 6, (16, 16, 16))
    steps = [("import", None, imported)]
    for dtype in DTYPES:
        volume = np.repeat(np.repeat(np.repeat(blocks, 4, 0), 4, 1), 2, 2).astype(dtype)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=40, help="kernels and signatures to list")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True,
                              check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    compiles = report["compiles"]
    table("First calls in a fresh process, empty Numba cache", ("step", "dtype", "seconds", "compiling"),
          [(step, dtype or "", f"{seconds:.2f}",
            f"{sum(c['seconds'] for c in compiles if c['step'] == (f'{step} {dtype}' if dtype else step)):.2f}")
           for step, dtype, seconds in report["steps"]])
    total = sum(c["seconds"] for c in compiles)
    kernels = {}
    for c in compiles:
        kernels.setdefault(c["kernel"], []).append(c["seconds"])
    table(f"Compile seconds per kernel: {len(compiles)} compilations of {len(kernels)} kernels, {total:.1f} s",
          ("kernel", "signatures", "seconds"),
          [(k, len(v), f"{sum(v):.2f}") for k, v in sorted(kernels.items(), key=lambda kv: -sum(kv[1]))][: args.top])
    table("Most expensive compilations (seconds exclude callees)", ("kernel", "step", "seconds", "signature"),
          [(c["kernel"], c["step"], f"{c['seconds']:.2f}", c["signature"][:150])
           for c in sorted(compiles, key=lambda c: -c["seconds"])[: args.top]])


if __name__ == "__main__":
    main()
