"""Display settings shared by every renderer (the magics' traitlets write them)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Options:
    """Limits that keep a notebook small whatever a result holds."""

    preview_size: int = 512          # longest side of an inline image preview, px
    preview_bytes: int = 110_000     # byte budget of one encoded preview
    thumb_size: int = 128            # gallery and batch thumbnails, px
    thumb_bytes: int = 12_000        # byte budget of one thumbnail
    max_thumbs: int = 24             # thumbnails per gallery or batch grid
    max_text: int = 20_000           # characters of text shown before truncating
    max_rows: int = 200              # table rows shown before truncating
    max_json_nodes: int = 2_000      # JSON tree nodes shown before truncating
    top_k: int = 5                   # classes in a prediction bar chart
    log_excerpt: int = 1_500         # characters of a failure's log shown


options = Options()
