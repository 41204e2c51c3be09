"""``python -m fe2``: the fe2 command (see :mod:`fe2.cli`)."""

import sys

from .cli import main

sys.exit(main())
