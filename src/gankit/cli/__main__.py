"""``python -m gankit.cli``, as ``python -m gankit``."""

import sys

from gankit.cli import main

sys.exit(main())
