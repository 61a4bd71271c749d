"""Child Python processes started by tests and benchmarks: the paths they need, given explicitly."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child_env(**extra) -> dict:
    """The environment for a child Python process: this project's root first on PYTHONPATH, so that
    ``tests``, ``benchmarks`` and ``crackle`` import whatever the working folder is, and with
    PYTHONSAFEPATH set (which stops ``-c`` and ``-m`` from putting it on sys.path); ``extra`` adds
    variables."""
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), **extra)
