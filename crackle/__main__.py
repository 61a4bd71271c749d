"""``python -m crackle``: the ``crackle`` command."""

import sys

from .cli import main

sys.exit(main())
