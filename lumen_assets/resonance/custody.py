"""Custody age: days since the newest custody record (seed segD §4.5 `custody/records/*.json`, `ts_utc`).

The seed never defined "ceremony age" (segD §4.7 point 5); here it is the newest record of any event,
because every custody event (ceremony, audit, open/close) re-establishes who holds the root. No record
at all is *unknown* (the seed silently assumed 90 days). A record without a readable timestamp is
reported by file name and skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

TS_FIELDS = ("ts_utc", "ts", "timestamp")


@dataclass(frozen=True)
class CustodyAge:
    age_days: float | None
    newest_record: str | None
    records: int
    unreadable: list[str] = field(default_factory=list)


def _record_time(path: Path) -> datetime:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    for name in TS_FIELDS:
        if name in data:
            moment = datetime.fromisoformat(str(data[name]).replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError(f"{name} has no UTC offset")
            return moment
    raise ValueError(f"no timestamp field (one of {', '.join(TS_FIELDS)})")


def custody_age(records_dir: Path, now: datetime) -> CustodyAge:
    """Age in days of the newest readable record under `records_dir` (recursively)."""
    if not records_dir.is_dir():
        return CustodyAge(None, None, 0)
    newest: tuple[datetime, Path] | None = None
    unreadable: list[str] = []
    count = 0
    for path in sorted(records_dir.rglob("*.json")):
        try:
            moment = _record_time(path)
        except (OSError, ValueError) as exc:
            unreadable.append(f"{path.name}: {exc}")
            continue
        count += 1
        if newest is None or moment > newest[0]:
            newest = (moment, path)
    if newest is None:
        return CustodyAge(None, None, 0, unreadable)
    age = max(0.0, (now - newest[0]).total_seconds() / 86400.0)
    return CustodyAge(age, newest[1].name, count, unreadable)
