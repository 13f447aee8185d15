"""Why the rule-event sensor is not launching a run yet, in words an operator reads in the tick history.

Plain Python: the sensor passes what it knows (its waiting events, now, how far the metrics reach) and
shows the sentence as its `SkipReason`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from lumen_assets.humanize import clock, duration

NS = 1_000_000_000


@dataclass(frozen=True)
class WaitingEvent:
    key: str  # the event's partition key
    rule: str
    due_ns: int  # when its post window closes


def _at(ns: int, tz: tzinfo) -> str:
    """`14:05:48 KST`: the clock in the reporting timezone, named (the Dagster UI shows its own timezone)."""
    moment = datetime.fromtimestamp(ns / NS, tz)
    return f"{clock(moment)} {moment.tzname()}"


def waiting_reason(
    waiting: Sequence[WaitingEvent], now_ns: int, coverage_ns: int | None, tz: tzinfo, source: str,
    new_lines: int = 0,
) -> str:
    """One sentence on the first event still waiting and, if more, how many; or that nothing is new."""
    if not waiting:
        seen = f"{new_lines} new line(s) read, all already computed" if new_lines else "no new rule events"
        return f"{seen} in {source}; nothing waits"
    first = min(waiting, key=lambda w: w.due_ns)
    more = f" ({len(waiting) - 1} more event(s) waiting)" if len(waiting) > 1 else ""
    if first.due_ns > now_ns:
        return (f"event {first.key} ({first.rule}) waits for its post window until "
                f"{_at(first.due_ns, tz)} (in {duration((first.due_ns - now_ns) / NS)}){more}")
    if coverage_ns is None:
        return f"event {first.key} ({first.rule}): the metrics file has no readable sample yet{more}"
    return (f"metrics do not cover event {first.key} ({first.rule}) until {_at(first.due_ns, tz)} yet: "
            f"the newest sample is from {_at(coverage_ns, tz)} "
            f"({duration((first.due_ns - coverage_ns) / NS)} short){more}")
