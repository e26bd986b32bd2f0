"""``python -m oscar_jupyter.spec``: regenerate the packaged schema, or check one service file."""
from __future__ import annotations

import argparse
import json
from typing import Optional, Sequence

from .normalisation import normalise
from .problems import errors_of
from .regenerate import regenerate
from .schema import SCHEMA_PATH, SUPPLEMENT_PATH
from .validation import validate


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m oscar_jupyter.spec --regenerate SPEC...`` or ``--check FILE.json``."""
    parser = argparse.ArgumentParser(prog="python -m oscar_jupyter.spec",
                                     description="OSCAR service schema tools.")
    parser.add_argument("--regenerate", nargs="+", metavar="SPEC",
                        help="rebuild schema/service.json from Manager OpenAPI yaml files")
    parser.add_argument("--output", default=str(SCHEMA_PATH), help="where to write the schema")
    parser.add_argument("--supplement", default=str(SUPPLEMENT_PATH),
                        help="fields the Manager reads that the specs lack (JSON; 'none' for none)")
    parser.add_argument("--check", metavar="FILE", help="validate one service JSON file")
    args = parser.parse_args(argv)
    if args.regenerate:
        supplement = None if args.supplement.lower() == "none" else args.supplement
        result = regenerate(args.regenerate, args.output, supplement)
        print(f"wrote {args.output}: {len(result['definitions'])} definitions from "
              f"{', '.join(result['x-oscar-versions'])}")
        return 0
    if args.check:
        with open(args.check, encoding="utf-8") as fh:
            data, notices = normalise(json.load(fh), source="api")
        for notice in notices:
            print(f"note: {notice}")
        problems = validate(data)
        for problem in problems:
            print(f"{problem.severity}: {problem}")
        return 1 if errors_of(problems) else 0
    parser.print_help()
    return 2

