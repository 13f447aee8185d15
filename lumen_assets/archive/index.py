"""`archive/index.jsonl`: one line per frozen day, never a duplicate (seed segC C2 appended one per freeze).

Each line keeps the seed's keys (`date`, `dir`) and anchors the day's manifest by its sha256, so a flipped
byte anywhere in the manifest (even in a field no other file repeats) is caught by verify.
Pure module: no dagster import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lumen_assets.atomic import atomic_write_jsonl, file_lock
from lumen_assets.jsonl import iter_jsonl


class ArchiveIndexError(ValueError):
    """A malformed index line; the message names the file and line."""


def read_index(path: Path) -> dict[str, dict[str, Any]]:
    """Records by date, in file order; a malformed line is an error naming its line number."""
    records: dict[str, dict[str, Any]] = {}
    for line in iter_jsonl(path):
        if line.record is None:
            raise ArchiveIndexError(f"{path}:{line.line_no}: {line.problem}")
        if not isinstance(line.record.get("date"), str):
            raise ArchiveIndexError(f"{path}:{line.line_no}: expected an object with a 'date'")
        records[line.record["date"]] = line.record
    return records


def upsert_index(path: Path, record: dict[str, Any]) -> None:
    """Replace the line for `record['date']` (a re-freeze supersedes) or append it; atomic and locked."""
    with file_lock(path):
        records = read_index(path)
        records[record["date"]] = record
        atomic_write_jsonl(path, sorted(records.values(), key=lambda r: r["date"]))


def record_remote(path: Path, day: str, remote: dict[str, Any]) -> None:
    """Add the remote copy (store, key, uri, stored sha256) to the day's line; nothing if the day has none."""
    with file_lock(path):
        records = read_index(path)
        if day not in records:
            return
        records[day] = {**records[day], "remote": remote}
        atomic_write_jsonl(path, sorted(records.values(), key=lambda r: r["date"]))


def remove_from_index(path: Path, dates: set[str]) -> None:
    with file_lock(path):
        records = read_index(path)
        atomic_write_jsonl(path, [r for d, r in sorted(records.items()) if d not in dates])
