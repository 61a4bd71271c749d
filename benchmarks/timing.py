"""Timing shared by the benchmarks: best-of-N wall time, also as source text for code that runs in
a subprocess (where crackle-codec is the importable ``crackle``)."""

import gzip
import inspect
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def best(fn, repeat: int):
    """The shortest of ``repeat`` wall times of ``fn()`` in seconds, or the name of the exception
    it raised."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            fn()
        except Exception as err:  # noqa: BLE001 - reported in the table instead of a time
            return type(err).__name__
        times.append(time.perf_counter() - start)
    return min(times)


BEST_SOURCE = "import time\n\n" + inspect.getsource(best)


def per_stream(row_source: str) -> str:
    """Timing code for :func:`measure_both`: ``row_source`` defines ``row(stream, repeat)``, which
    returns ``{operation: best time}`` for one stream, and ``measure`` applies it to every file."""
    return BEST_SOURCE + "import json\n" + textwrap.dedent(row_source) + textwrap.dedent("""

        def measure(paths, repeat):
            return {name: row(open(path, "rb").read(), repeat) for name, path in paths.items()}
    """)


def shared_and_flat_streams(folder: Path) -> dict:
    """The shared 512^3 stream (pins, Markov 7) and a flat Markov-0 copy written by crackle-codec,
    as files in ``folder``: ``{name: path}``."""
    from tests.reference import run_reference

    data = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))
    shared = folder / "shared.ckl"
    shared.write_bytes(gzip.decompress((data / "connectomics.npy.ckl.gz").read_bytes()))
    flat = folder / "flat0.ckl"
    run_reference(textwrap.dedent(f"""
        import json, crackle
        arr = crackle.decompress(open({str(shared)!r}, "rb").read())
        open({str(flat)!r}, "wb").write(crackle.compress(arr))
        print(json.dumps({{}}))
    """))
    return {"shared file (pins, M7)": str(shared), "flat, M0": str(flat)}


def reference_time(path: Path, expression: str, repeat: int):
    """The best time of ``expression`` under crackle-codec, in a subprocess, with ``stream`` (the
    file's bytes) and ``arr`` (its decoded array) in scope; it runs once first, to warm up."""
    from tests.reference import run_reference

    code = BEST_SOURCE + f"""
import json, crackle
stream = open({str(path)!r}, "rb").read()
arr = crackle.decompress(stream)
{expression}
print(json.dumps(best(lambda: {expression}, {repeat})))
"""
    return run_reference(code)


def measure_both(timings: str, paths: dict, repeat: int) -> tuple:
    """Run ``timings`` (code defining ``measure(paths, repeat)``) under crackle-codec and under this
    project, each in a fresh process: ``(theirs, ours)``."""
    from tests.children import child_env
    from tests.reference import run_reference

    call = f"{timings}\nprint(json.dumps(measure({paths!r}, {repeat})))"
    theirs = run_reference(call)
    done = subprocess.run([sys.executable, "-c", call], env=child_env(), capture_output=True, text=True, cwd=str(ROOT),
                          check=True)
    return theirs, json.loads(done.stdout.strip().splitlines()[-1])


def compare_on_shared_streams(timings: str, repeat: int, what: str, extra=None):
    """Time ``timings`` (see :func:`measure_both`) under crackle-codec and this project on the
    shared stream and a flat copy, and print the ratios; ``extra(paths)`` runs while the files
    exist, and what it returns is returned."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = shared_and_flat_streams(Path(tmp))
        theirs, ours = measure_both(timings, paths, repeat)
        more = extra(paths) if extra else None
    print_ratios(f"{what}, this project vs crackle-codec, 512^3 uint32, {os.cpu_count()} cores, "
                 f"best of {repeat}; ratio = reference / ours", paths, theirs, ours)
    return more


def print_ratios(title: str, paths: dict, theirs: dict, ours: dict) -> None:
    """A table per stream: each operation's times and crackle-codec time / ours (or what it raised)."""
    print(title)
    for name in paths:
        print(f"\n{name}")
        print(f"  {'operation':<26} {'reference':>12} {'ours':>12} {'ratio':>8}")
        for op, mine in ours[name].items():
            reference = theirs[name][op]
            cell = lambda t: f"{t * 1e3:>10.1f}ms" if isinstance(t, float) else f"{t:>12}"  # noqa: E731
            both = isinstance(reference, float) and isinstance(mine, float)
            print(f"  {op:<26} {cell(reference)} {cell(mine)} {f'{reference / mine:>7.2f}x' if both else '-':>8}")


def _unique_counts(block) -> tuple:
    return np.unique(block, return_counts=True)


def _merge_counts(*parts) -> tuple:
    labels = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts])
    unique, inverse = np.unique(labels, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts).astype(np.int64)


def numpy_counts(blocks: list) -> dict:
    """Voxel counts the plain way: every block (a ``dask.delayed`` array) counted with
    ``numpy.unique`` on the active scheduler, the counts joined in a tree as crackle_dask does."""
    import dask

    from crackle_dask.jobs import tree_reduce

    parts = [dask.delayed(_unique_counts)(block) for block in blocks]
    labels, counts = dask.compute(tree_reduce(parts, _merge_counts))[0]
    return dict(zip(labels.tolist(), counts.tolist()))


def table(title: str, header: tuple, rows: list) -> None:
    """Print ``rows`` under ``title`` as aligned columns (the first left-aligned, the rest right)."""
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w) for i, (x, w) in enumerate(zip(row, widths))))


def _status(field: str) -> int:
    """A memory field of this process's /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak() -> int:
    """Forget this process's peak resident memory; returns its resident memory now."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def peak() -> int:
    """This process's peak resident memory since the last :func:`reset_peak`."""
    return _status("VmHWM")
