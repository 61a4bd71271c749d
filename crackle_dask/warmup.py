"""Dask workers that start warm: :class:`WarmupPlugin` compiles (or loads from Numba's cache) every
Crackle kernel for the dtypes it names, in the background, as soon as a worker starts."""

import logging
import threading

from distributed import WorkerPlugin

logger = logging.getLogger(__name__)


class WarmupPlugin(WorkerPlugin):
    """Warm each worker for ``dtypes`` (None: every dtype) in a background thread when it starts.

    Tasks that need a kernel before the thread reaches it wait for Numba's compiler lock rather
    than compiling it again, so a task never costs more than it would without the plugin. With the
    kernels in Numba's cache (``crackle warmup`` in the worker image) warming takes a second or two.

    Examples
    --------
    >>> client.register_plugin(crackle_dask.WarmupPlugin(dtypes=["uint32", "uint64"]))  # doctest: +SKIP
    """

    name = "crackle-warmup"

    def __init__(self, dtypes=None):
        from crackle.warmup import widths

        self.widths = widths(dtypes)  # (a bad dtype fails here, on the client)

    def setup(self, worker) -> None:
        """Start warming this worker (``self.done`` is set when it is warm)."""
        self.done = threading.Event()
        threading.Thread(target=self._warm, name="crackle-warmup", daemon=True).start()

    def _warm(self) -> None:
        from crackle.warmup import WIDTHS, exercise

        try:
            for width in self.widths:
                exercise(WIDTHS[width])
        except Exception:  # noqa: BLE001 - a failed warm-up must not take the worker down
            logger.exception("warming up Crackle's kernels failed")
        finally:
            self.done.set()
