"""Timing shared by the benchmarks: best-of-N wall time, also as source text for code that runs in
a subprocess (where crackle-codec is the importable ``crackle``)."""

import inspect
import time


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
