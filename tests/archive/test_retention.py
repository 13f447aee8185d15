"""GFS retention (seed: 60 daily / 8 weekly / 12 monthly, and the seed deleted nothing)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from lumen_assets.archive.retention import plan_retention

TODAY = date(2025, 10, 23)  # a Thursday


def days_back(n: int) -> list[date]:
    return [TODAY - timedelta(days=i) for i in range(n)]


def test_a_year_of_dailies_keeps_60_days_8_weeks_12_months() -> None:
    plan = plan_retention(days_back(400), TODAY, 60, 8, 12)
    kept = set(plan.keep)
    assert all(d in kept for d in days_back(60))
    assert TODAY - timedelta(days=60) not in kept or "daily" not in plan.keep[TODAY - timedelta(days=60)]
    # newest of each of the last 12 months: month ends (or today for October)
    month_ends = [date(2025, m + 1, 1) - timedelta(days=1) for m in range(1, 10)] + [date(2024, 12, 31), date(2024, 11, 30)]
    assert all("monthly" in plan.keep[d] for d in month_ends)
    assert date(2024, 10, 31) not in kept
    # newest of each of the last 8 ISO weeks are Sundays (this week: today)
    assert all("weekly" in plan.keep[TODAY - timedelta(days=TODAY.weekday() + 1 + 7 * i)] for i in range(7))
    # the 8 weekly picks fall inside the 60-day window (Aug 25..Oct 23); monthly adds Nov 2024..Jul 2025
    assert len(kept) == 60 + 9
    assert len(plan.remove) == 400 - len(kept)


def test_newest_is_never_removed_even_when_very_old() -> None:
    plan = plan_retention([date(2020, 1, 1), date(2019, 6, 1)], TODAY, 60, 8, 12)
    assert plan.keep == {date(2020, 1, 1): ("newest",)} and plan.remove == [date(2019, 6, 1)]


def test_nothing_to_plan() -> None:
    plan = plan_retention([], TODAY, 60, 8, 12)
    assert plan.keep == {} and plan.remove == []


@given(st.sets(st.dates(date(2023, 1, 1), date(2025, 12, 31)), max_size=80), st.integers(1, 90), st.integers(0, 10), st.integers(0, 14))
def test_plan_properties(days: set[date], keep_days: int, weekly: int, monthly: int) -> None:
    plan = plan_retention(days, TODAY, keep_days, weekly, monthly)
    assert set(plan.keep) | set(plan.remove) == days and not set(plan.keep) & set(plan.remove)
    if days:
        assert max(days) in plan.keep
    assert all(d not in plan.remove for d in days if TODAY - timedelta(days=keep_days) < d <= TODAY)
    # applying the plan is stable: planning again over what is kept removes nothing more
    assert plan_retention(plan.keep, TODAY, keep_days, weekly, monthly).remove == []
