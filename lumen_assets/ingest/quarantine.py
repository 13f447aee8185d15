"""Quarantine files: every input line Lumen could not use, with where it was and why (nothing is lost)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from lumen_assets.atomic import atomic_write_jsonl, upsert_jsonl


def _records(source: Path | str, entries: Iterable[tuple[int, str, str]]) -> Iterator[dict[str, object]]:
    for line_no, reason, text in entries:
        yield {"source": str(source), "line": line_no, "reason": reason, "text": text}


def write_quarantine(path: Path, source: Path | str, entries: Iterable[tuple[int, str, str]]) -> int:
    """Rewrite `path` with one JSON record per bad line of `source` (as the caller names it: workspace-relative
    in what Lumen writes); returns how many."""
    return atomic_write_jsonl(path, _records(source, entries))


def record_quarantine(path: Path, source: Path | str, entries: list[tuple[int, str, str]], rebuilt: bool) -> None:
    """An incremental ingest's bad lines: a rebuilt store rewrites the file, otherwise this run's lines are
    added to the earlier runs' (nothing lost; a line met again replaces its record)."""
    if rebuilt:
        write_quarantine(path, source, entries)
    elif entries:
        upsert_jsonl(path, _records(source, entries), key=lambda r: f"{r['line']}:{r['text']}")
