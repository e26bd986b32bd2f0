"""``python -m bench``: oscar-local's and the client's figures against their goals, as one table.

See bench/suite.py for what is measured and why each goal is what it is;
``python -m bench --help`` for the counts. The default run takes about a minute.
"""
from __future__ import annotations

import sys

from .suite import main

if __name__ == "__main__":
    sys.exit(main(None, "python -m bench"))
