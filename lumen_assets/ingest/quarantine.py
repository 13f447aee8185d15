"""Quarantine files: every input line Lumen could not use, with where it was and why (nothing is lost)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lumen_assets.atomic import atomic_write_jsonl


def write_quarantine(path: Path, source: Path | str, entries: Iterable[tuple[int, str, str]]) -> int:
    """Rewrite `path` with one JSON record per bad line of `source` (as the caller names it: workspace-relative
    in what Lumen writes); returns how many."""
    return atomic_write_jsonl(
        path,
        ({"source": str(source), "line": line_no, "reason": reason, "text": text} for line_no, reason, text in entries),
    )
