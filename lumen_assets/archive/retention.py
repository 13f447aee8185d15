"""Grandfather-father-son retention over daily bundles (seed segC C2 `retention_policy.py`).

The seed printed a count and deleted nothing; `keep_weekly` and `keep_monthly` were never read. Here, with
`today` the reporting day: keep every bundle of the last `keep_days` days; keep the newest bundle of each of
the last `keep_weekly` ISO weeks and of each of the last `keep_monthly` calendar months; never remove the
newest bundle; everything else is a removal candidate. Callers apply it only when asked (dry-run default).
Pure module: no dagster import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class RetentionPlan:
    keep: dict[date, tuple[str, ...]]  # day -> why it is kept
    remove: list[date]


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())  # ISO week starts on Monday


def plan_retention(days: Iterable[date], today: date, keep_days: int, keep_weekly: int, keep_monthly: int) -> RetentionPlan:
    """Which bundles to keep (with reasons) and which to remove, for bundles dated `days`."""
    all_days = sorted(set(days))
    reasons: dict[date, list[str]] = {d: [] for d in all_days}
    if not all_days:
        return RetentionPlan({}, [])
    reasons[all_days[-1]].append("newest")
    first_daily = today - timedelta(days=keep_days - 1)
    this_week, this_month = _week_start(today), _month_index(today)
    newest_in_week: dict[date, date] = {}
    newest_in_month: dict[int, date] = {}
    for day in all_days:
        if day > today:
            reasons[day].append("future")
        elif day >= first_daily:
            reasons[day].append("daily")
        newest_in_week[_week_start(day)] = day  # ascending order: the last one seen is the newest
        newest_in_month[_month_index(day)] = day
    for week, day in newest_in_week.items():
        if day <= today and 0 <= (this_week - week).days // 7 < keep_weekly:
            reasons[day].append("weekly")
    for month, day in newest_in_month.items():
        if day <= today and 0 <= this_month - month < keep_monthly:
            reasons[day].append("monthly")
    keep = {d: tuple(r) for d, r in reasons.items() if r}
    return RetentionPlan(keep, [d for d in all_days if d not in keep])
