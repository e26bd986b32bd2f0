"""``python -m bench.client``: the client's rows of the benchmark table only (``python -m bench --only client``)."""
from __future__ import annotations

import sys

from .suite import main

if __name__ == "__main__":
    sys.exit(main(None, "python -m bench.client", sections=("client",)))
