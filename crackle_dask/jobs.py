"""Building and running whole-stack jobs: per-file tasks, ordered tree reductions, progress.

Jobs over many files are graphs of ``dask.delayed`` tasks, one or more per
file, so they run on whatever scheduler is active (a ``dask.distributed``
client when one exists) and show on its dashboard; ``distributed.progress``
works on what ``compute=False`` returns.
"""

import dask

SPLIT_EVERY = 8  # parts combined by one task of a tree reduction


def tree_reduce(parts: list, combine, split_every: int = SPLIT_EVERY):
    """One delayed result from ``parts`` (delayed), combined ``split_every`` at a time, in order.

    ``combine(*parts)`` receives consecutive parts in stack order, so it may
    rely on order (z offsets accumulate from left to right).
    """
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2, got {split_every!r}")
    if not parts:
        raise ValueError("nothing to reduce")
    level = 0
    while len(parts) > 1:
        level += 1
        parts = [dask.delayed(combine, pure=True)(*parts[i : i + split_every],
                                                  dask_key_name=_key(combine, level, i, parts))
                 for i in range(0, len(parts), split_every)]
    return parts[0]


def _key(function, level: int, i: int, parts: list) -> str:
    """A readable task name (shown on the dashboard) that is unique to the inputs."""
    return f"{function.__name__.strip('_')}-{level}-{i}-{dask.base.tokenize(*parts)}"


def run(result, compute: bool, progress: bool):
    """``result`` (a Dask object) computed, with a progress bar if asked, or as it is."""
    if not compute:
        return result
    if not progress:
        return dask.compute(result)[0]
    try:
        from distributed import default_client, progress as distributed_progress

        client = default_client()
    except (ImportError, ValueError):  # no distributed client: the local schedulers' bar
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return dask.compute(result)[0]
    future = client.compute(result)
    distributed_progress(future)
    return future.result()


def graph_result(name: str, tasks: dict, key, collections=()):
    """A ``dask.delayed`` result ``key`` of a job whose tasks are written out as a plain graph
    (``{key: (function, *args)}``, arguments naming other keys), on top of ``collections`` (Dask
    arrays whose chunks the tasks name). Built in one piece: a job of N chunks costs O(N) to build,
    where N chained ``dask.delayed`` calls, each merging its inputs' graphs, cost O(N**2)."""
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    return Delayed(key, HighLevelGraph.from_collections(name, tasks, dependencies=list(collections)), layer=name)
