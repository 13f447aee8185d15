"""Reading and checking the evidence JSONL files (quotes bank, risk ledger) that the mapper upserts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lumen_assets.jsonl import iter_jsonl

QUOTE_KEYS = ("ts", "event_id", "by", "rule", "delta", "confidence", "quote")
RISK_KEYS = ("ts", "event_id", "severity", "rule", "signal", "note")
SEVERITIES = ("info", "warn", "crit")


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


def ledger_problems(path: Path | str, kind: str) -> list[str]:
    """Everything wrong with a ledger: unreadable lines, schema errors, duplicate event ids."""
    read = read_ledger(path)
    problems = [f"{path}:{line}: {reason}" for line, reason in read.bad_lines]
    for index, record in enumerate(read.records, start=1):
        problem = _schema_problem(record, kind)
        if problem:
            problems.append(f"{path}: record {index} ({record.get('event_id', '?')}): {problem}")
    counts = Counter(str(r.get("event_id")) for r in read.records)
    problems += [f"{path}: event {eid} appears {n} times" for eid, n in counts.items() if n > 1]
    return problems
