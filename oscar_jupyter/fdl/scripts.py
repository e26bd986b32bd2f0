"""The rule deciding whether an FDL `script` value names a file or is the script itself."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

_SHELL_CHARS = re.compile(r"""[\s;|&$<>(){}`'"*?\[\]=!#~]""")


def script_is_path(value: str, base_dir: Optional[Path] = None) -> bool:
    """The rule deciding whether a `script` value names a file (see the module doc)."""
    text = value.strip()
    if not text or "\n" in text:
        return False
    base = base_dir if base_dir is not None else Path.cwd()
    try:
        if (base / text).is_file():
            return True
    except OSError:
        return False
    if _SHELL_CHARS.search(text):
        return False
    return "/" in text or re.search(r"\.[A-Za-z0-9]{1,5}$", text) is not None
