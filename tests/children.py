"""Child Python processes started by tests and benchmarks: the paths they need, given explicitly."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child_env(**extra) -> dict:
    """The environment for a child Python process: this project's root first on PYTHONPATH, so that
    ``tests``, ``benchmarks`` and ``crackle`` import whatever the working folder is; ``extra`` adds
    variables (``PYTHONSAFEPATH=1`` stops ``-c`` and ``-m`` from putting the working folder first on
    sys.path)."""
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), **extra)
