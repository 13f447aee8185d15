"""The first reporting day a workspace's data covers: where the daily partitions start (issue 11 §2).

Read cheaply at code-location load: the first data row of the metrics CSV (the loop writes in time order)
and the rules history (through its parse cache: a year is 100,000 events). A fixed start such as 2025-01-01 made the UI list hundreds of empty days.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lumen_assets.ingest.rules import read_rule_events
from lumen_assets.ingest.timestamps import TimestampError, parse_timestamp


def first_metrics_timestamp(path: Path, max_lines: int = 50) -> datetime | None:
    """The timestamp of the first parseable data row of a metrics-shaped CSV (header skipped), or None."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            handle.readline()
            for _ in range(max_lines):
                line = handle.readline()
                if not line:
                    return None
                try:
                    return parse_timestamp(line.split(",", 1)[0].strip())
                except TimestampError:
                    continue
    except OSError:
        return None
    return None


def first_data_day(metrics_csv: Path, rules_history: Path, timezone: str, cache: Path | None = None) -> date | None:
    """The earliest reporting day (in `timezone`) of the metrics' first row and of any rule event (`cache`:
    the rules history's parse cache, so a year's 100,000 events are not parsed again at every load)."""
    stamps = [ts for ts in [first_metrics_timestamp(metrics_csv)] if ts is not None]
    stamps += [event.ts for event in read_rule_events(rules_history, cache=cache).events]
    if not stamps:
        return None
    tz = ZoneInfo(timezone)
    return min(ts.astimezone(tz).date() for ts in stamps)


def day_data_counts(metrics_store: Path, rules_history: Path, start: datetime, end: datetime) -> tuple[int, int]:
    """(metrics samples, rule events) with start <= ts < end: a reporting day with (0, 0) has no data, and
    its report and archive bundle are skipped rather than written empty (issue 11 §2)."""
    from lumen_assets.ingest.metrics_store import read_metrics  # the data stack, only when a run asks

    samples = len(read_metrics(metrics_store, start, end, columns=["ts"]))
    events = sum(1 for event in read_rule_events(rules_history).events if start <= event.ts < end)
    return samples, events


def no_data_reason(day: str, metrics_store: Path, rules_history: Path, start: datetime, end: datetime) -> str | None:
    """Why the reporting day `day` is skipped (no metrics and no rule events), or None when it has data or
    when metrics were never ingested (then nothing is known, and the assets report their own missing inputs)."""
    if not (metrics_store / "_ingest_state.json").exists():
        return None
    if day_data_counts(metrics_store, rules_history, start, end) != (0, 0):
        return None
    return (f"{day}: no metrics samples and no rule events in [{start.isoformat()}, {end.isoformat()}): "
            "nothing to report or archive, skipped (no files written)")
