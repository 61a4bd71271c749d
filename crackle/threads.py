"""Threads for the kernels: how many a ``parallel`` argument means, and blocks of work run on them.

The kernels release the GIL (``nogil=True``), so plain Python threads run them side by side. This
replaces Numba's ``prange``, whose parallel kernels each cost seconds to compile per signature and
start Numba's own thread pool. Threads come from one shared pool, created on first use; the calling
thread works too, so a pool busy with other callers delays nobody's work indefinitely.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba

_pool = None
_pool_lock = threading.Lock()


def thread_count(parallel) -> int:
    """The threads ``parallel`` asks for: 0 means every core (``NUMBA_NUM_THREADS``, which defaults
    to the core count), a positive number that many. ValueError for a negative one."""
    if int(parallel) < 0:
        raise ValueError(f"parallel must be 0 (all cores) or a positive thread count, got {parallel}")
    return int(parallel) or numba.config.NUMBA_NUM_THREADS


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            workers = max(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crackle")
        return _pool


def map_blocks(work, count: int, threads: int) -> list:
    """``[work(0), ..., work(count - 1)]``, computed on up to ``threads`` threads (the caller's among
    them), each taking the next block as it finishes one. The first exception raised is re-raised
    once every thread has stopped."""
    results = [None] * count
    if threads <= 1 or count <= 1:
        for block in range(count):
            results[block] = work(block)
        return results
    blocks = iter(range(count))
    lock = threading.Lock()
    failed = []

    def worker():
        while True:
            with lock:
                block = None if failed else next(blocks, None)
            if block is None:
                return
            try:
                results[block] = work(block)
            except BaseException:
                failed.append(True)  # the other threads take no further blocks
                raise

    helpers = [_shared_pool().submit(worker) for _ in range(min(threads, count) - 1)]
    try:
        worker()
    finally:
        errors = [f.exception() for f in helpers]
    for error in errors:
        if error is not None:
            raise error
    return results
