"""``python -m oscar_jupyter.spec --regenerate SPEC...`` or ``--check FILE.json``."""
from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
