"""Reading and checking the evidence JSONL files (quotes bank, risk ledger) that the mapper upserts.

A year of history is ~100,000 records (40 MB) per file, and every rule event's run appends one or two. So the
file is scanned incrementally: `scan_ledger` keeps what it learnt (the event ids in file order, unreadable
lines, schema problems, severities) with the length and sha256 of the bytes it read, and the next scan parses
only what follows them, once those bytes still hash the same (hashing 40 MB costs ~25 ms, parsing it ~1 s).
Anything else (a line edited, removed or reordered) fails the hash and the file is scanned again whole.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from lumen_assets.atomic import append_jsonl, atomic_write_text, file_lock
from lumen_assets.digests import prefix_unchanged
from lumen_assets.jsonl import iter_jsonl, parse_jsonl_line

QUOTE_KEYS = ("ts", "event_id", "by", "rule", "delta", "confidence", "quote")
RISK_KEYS = ("ts", "event_id", "severity", "rule", "signal", "note")
SEVERITIES = ("info", "warn", "crit")
SCAN_VERSION = 1


@dataclass
class LedgerRead:
    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, reason)


def read_ledger(path: Path | str) -> LedgerRead:
    """All records of a JSONL file; a line that is not a JSON object is reported with its number."""
    result = LedgerRead()
    for line in iter_jsonl(path):
        if line.record is None:
            result.bad_lines.append((line.line_no, line.problem or "unreadable"))
        else:
            result.records.append(line.record)
    return result


def latest_records(path: Path | str, count: int) -> list[dict[str, Any]]:
    """The last `count` records of a JSONL file, newest first, reading only its end (unreadable lines skipped:
    the ledger checks name them)."""
    path = Path(path)
    if not path.exists() or count <= 0:
        return []
    size = path.stat().st_size
    window = 64 * 1024
    with open(path, "rb") as handle:
        while True:
            start = max(0, size - window)
            handle.seek(start)
            data = handle.read(size - start)
            lines = data.split(b"\n")
            if start > 0:
                lines = lines[1:]  # the first piece may be the end of a longer line
            lines = [line for line in lines if line.strip()]
            if len(lines) >= count or start == 0:
                break
            window *= 4
    records = []
    for raw in reversed(lines):
        record, _ = parse_jsonl_line(raw.decode("utf-8", errors="replace"))
        if record is not None:
            records.append(record)
            if len(records) == count:
                break
    return records


def _schema_problem(record: Mapping[str, Any], kind: str) -> str | None:
    keys = QUOTE_KEYS if kind == "quote" else RISK_KEYS
    missing = [k for k in keys if k not in record]
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        ts = datetime.fromisoformat(str(record["ts"]))
    except ValueError:
        return f"ts {record['ts']!r} is not ISO-8601"
    if ts.tzinfo is None:
        return f"ts {record['ts']!r} has no offset"
    if kind == "quote":
        conf = record["confidence"]
        if not isinstance(conf, int | float) or not 0 <= conf <= 1:
            return f"confidence {conf!r} outside [0, 1]"
        if not isinstance(record["quote"], str) or not record["quote"]:
            return "empty quote"
    elif record["severity"] not in SEVERITIES:
        return f"severity {record['severity']!r} not one of {SEVERITIES}"
    return None


@dataclass
class LedgerScan:
    """What a scan of a ledger found, and how far it read (`length` bytes, `line_no` lines, their sha256)."""

    kind: str
    length: int = 0
    sha256: str = hashlib.sha256(b"").hexdigest()
    line_no: int = 0
    ids: list[str] = field(default_factory=list)  # every record's event id, in file order
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, reason)
    schema_problems: list[tuple[int, str, str]] = field(default_factory=list)  # (record number, event id, why)
    severities: dict[str, int] = field(default_factory=dict)  # risk records per severity
    version: int = SCAN_VERSION

    @property
    def records(self) -> int:
        return len(self.ids)

    def problems(self, path: Path | str) -> list[str]:
        """Everything wrong with the ledger: unreadable lines, schema errors, duplicate event ids."""
        problems = [f"{path}:{line}: {reason}" for line, reason in self.bad_lines]
        problems += [f"{path}: record {index} ({event_id}): {why}" for index, event_id, why in self.schema_problems]
        counts = Counter(self.ids)
        problems += [f"{path}: event {eid} appears {n} times" for eid, n in counts.items() if n > 1]
        return problems

    def copy(self) -> LedgerScan:
        return replace(self, ids=list(self.ids), bad_lines=list(self.bad_lines),
                       schema_problems=list(self.schema_problems), severities=dict(self.severities))

    def as_json(self) -> str:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, ensure_ascii=False,
                          separators=(",", ":"))

    def _add(self, text: str, line_no: int) -> None:
        if not text.strip():
            return
        record, problem = parse_jsonl_line(text)
        if record is None:
            self.bad_lines.append((line_no, problem or "unreadable"))
            return
        event_id = str(record.get("event_id"))
        self.ids.append(event_id)
        why = _schema_problem(record, self.kind)
        if why:
            self.schema_problems.append((len(self.ids), record.get("event_id", "?"), why))
        if self.kind == "risk":
            severity = str(record.get("severity", "info"))
            self.severities[severity] = self.severities.get(severity, 0) + 1


def _load_scan(cache: Path, kind: str) -> LedgerScan | None:
    try:
        raw = json.loads(cache.read_text(encoding="utf-8"))
        scan = LedgerScan(**raw)
    except (OSError, ValueError, TypeError):
        return None  # none yet, or unreadable: scan the whole file
    if scan.version != SCAN_VERSION or scan.kind != kind:
        return None
    scan.bad_lines = [tuple(x) for x in scan.bad_lines]  # type: ignore[misc]
    scan.schema_problems = [tuple(x) for x in scan.schema_problems]  # type: ignore[misc]
    return scan


def scan_ledger(path: Path | str, kind: str, cache: Path | None = None) -> LedgerScan:
    """Scan a ledger; with `cache`, only the bytes after the ones an earlier scan read (when those still
    hash the same) are parsed, and the result is saved there for the next scan."""
    path = Path(path)
    data = path.read_bytes() if path.exists() else b""
    scan = _load_scan(cache, kind) if cache is not None else None
    if scan is None or not prefix_unchanged(data, scan.length, scan.sha256):
        scan = LedgerScan(kind=kind)
    tail = data[scan.length:]
    complete = tail.rfind(b"\n") + 1  # the scanned part ends after a newline
    for offset, line in enumerate(tail[:complete].decode("utf-8", errors="replace").split("\n")[:-1]):
        scan._add(line, scan.line_no + offset + 1)
    if complete:
        scan.line_no += tail[:complete].count(b"\n")
        scan.length += complete
        scan.sha256 = hashlib.sha256(memoryview(data)[: scan.length]).hexdigest()
        if cache is not None:
            atomic_write_text(cache, scan.as_json())
    result = scan.copy()
    if tail[complete:].strip():  # a last line without its newline: counted now, read again next time
        result._add(tail[complete:].decode("utf-8", errors="replace"), scan.line_no + 1)
    return result


def ledger_problems(path: Path | str, kind: str, cache: Path | None = None) -> list[str]:
    """Everything wrong with a ledger: unreadable lines, schema errors, duplicate event ids."""
    return scan_ledger(path, kind, cache).problems(path)


def upsert_ledger(path: Path | str, records: Iterable[dict[str, Any]], kind: str,
                  cache: Path | None = None) -> tuple[int, int]:
    """Append the records whose event id the ledger does not have yet (existing records win: evidence, once
    written, is not rewritten); the file is replaced atomically. Returns (added, total). A line that is not a
    JSON object stops it, naming the line (rewriting would lose it)."""
    path = Path(path)
    with file_lock(path):
        scan = scan_ledger(path, kind, cache)
        if scan.bad_lines:
            line, reason = scan.bad_lines[0]
            raise ValueError(f"{path}:{line}: {reason}; fix or remove it, then run again")
        seen = set(scan.ids)
        added = []
        for record in records:
            event_id = str(record["event_id"])
            if event_id not in seen:
                seen.add(event_id)
                added.append(record)
        if added or not path.exists():
            append_jsonl(path, added)
        return len(added), scan.records + len(added)
