"""A copy of the checkout as a user has it, for tests that install it somewhere of their own."""
from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def copy_checkout(dest: Path) -> Path:
    """Copy the repository to ``dest`` without git data, caches and build output (an install
    writes its metadata into the copy, never into the checkout)."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "_build", ".ipynb_checkpoints", "test-artifacts", "build"))
    return dest
