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


def alternate(theirs, ours, rounds: int) -> tuple:
    """``([theirs() ...], [ours() ...])``: each called ``rounds`` times, alternately, so that a drift
    of the machine's speed during the run touches both sides alike (each call runs a fresh process)."""
    mine, other = [], []
    for _ in range(rounds):
        other.append(theirs())
        mine.append(ours())
    return other, mine


def per_operation(results: list) -> dict:
    """``{stream: {operation: [value per round]}}`` from the rounds' ``{stream: {operation: value}}``."""
    return {name: {op: [r[name][op] for r in results] for op in results[0][name]} for name in results[0]}


def median_spread(values: list):
    """``(median, spread)``: the spread is half the range, as a fraction of the median; or the first
    non-number (an exception's name) and None."""
    if not all(isinstance(v, float) for v in values):
        return next(v for v in values if not isinstance(v, float)), None
    median = float(np.median(values))
    return median, (max(values) - min(values)) / 2 / median if median else 0.0


def timed(values: list) -> str:
    """``12.3ms ±4%``: the median of ``values`` (seconds) and their spread."""
    median, spread = median_spread(values)
    return str(median) if spread is None else f"{median * 1e3:.1f}ms ±{spread:.0%}"


def fresh(code: str, *args, reference: bool = False, **env) -> dict:
    """Run ``code`` in a fresh process, with this project (``env`` adds variables) or, with
    ``reference``, crackle-codec importable as ``crackle``; ``args`` are its sys.argv[1:]. The
    code prints one JSON object last, which is returned."""
    from tests.children import child_env
    from tests.reference import run_reference

    if reference:
        return run_reference(f"import sys; sys.argv = ['x'] + {list(map(str, args))!r}\n" + code)
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=child_env(**env), capture_output=True,
                          text=True, cwd=str(ROOT), check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_both(timings: str, paths: dict, repeat: int, rounds: int = 5) -> tuple:
    """Run ``timings`` (code defining ``measure(paths, repeat)``) under crackle-codec and under this
    project, alternately, ``rounds`` fresh processes each: ``(theirs, ours)``, each
    ``{stream: {operation: [best time per round]}}``."""
    call = f"{timings}\nprint(json.dumps(measure({paths!r}, {repeat})))"
    theirs, mine = alternate(lambda: fresh(call, reference=True), lambda: fresh(call), rounds)
    return per_operation(theirs), per_operation(mine)


def compare_on_shared_streams(timings: str, repeat: int, what: str, extra=None, rounds: int = 5):
    """Time ``timings`` (see :func:`measure_both`) under crackle-codec and this project on the
    shared stream and a flat copy, and print the ratios; ``extra(paths)`` runs while the files
    exist, and what it returns is returned."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = shared_and_flat_streams(Path(tmp))
        theirs, ours = measure_both(timings, paths, repeat, rounds)
        more = extra(paths) if extra else None
    print_ratios(f"{what}, this project vs crackle-codec, 512^3 uint32, {os.cpu_count()} cores", paths, theirs, ours,
                 repeat, rounds)
    return more


def print_ratios(title: str, paths: dict, theirs: dict, ours: dict, repeat: int, rounds: int) -> None:
    """A table per stream: each operation's median time with its spread on both sides, and the ratio
    of the medians (crackle-codec's / ours: above 1, we are faster), or what it raised."""
    print(f"{title}; median of {rounds} fresh processes per side (run alternately), each the best of {repeat}, "
          f"± half the range; ratio = reference / ours")
    for name in paths:
        print(f"\n{name}")
        print(f"  {'operation':<26} {'reference':>15} {'ours':>15} {'ratio':>8}")
        for op, mine in ours[name].items():
            reference = theirs[name][op]
            (r, _), (m, _) = median_spread(reference), median_spread(mine)
            both = isinstance(r, float) and isinstance(m, float)
            print(f"  {op:<26} {timed(reference):>15} {timed(mine):>15} {f'{r / m:>7.2f}x' if both else '-':>8}")


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
