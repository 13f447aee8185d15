"""Lumen's own run-success SLI and multi-window burn rate (seed segC C8/C9), counted per logical run.

Seed counting bugs fixed (segC C9 §7, C10 §7):
- a run and its retries are one logical run whose outcome is the *last* attempt (the seed counted a failed
  attempt and the rerun's success separately, and its "winner election" summed regions);
- no runs in a window is "no data" (None), not a 100 % error rate (`clamp_min(total, 1)` made an idle
  window page forever);
- the burn-rate alert uses the same factor on both windows of a pair (Google SRE workbook: 14.4x on
  1h/5m pages, 6x on 6h/30m tickets); the seed mixed 14x and 2x.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RunOutcome:
    """One finished Dagster run: `logical_id` groups retries (Dagster's root run id)."""

    run_id: str
    logical_id: str
    end: datetime
    success: bool
    duration_s: float | None = None
    failure_class: str | None = None


def logical_outcomes(runs: Iterable[RunOutcome]) -> list[RunOutcome]:
    """One outcome per logical run: the attempt that ended last."""
    latest: dict[str, RunOutcome] = {}
    for run in runs:
        kept = latest.get(run.logical_id)
        if kept is None or run.end >= kept.end:
            latest[run.logical_id] = run
    return sorted(latest.values(), key=lambda r: r.end)


@dataclass(frozen=True)
class WindowCounts:
    total: int
    success: int

    @property
    def success_ratio(self) -> float | None:
        return None if self.total == 0 else self.success / self.total

    @property
    def error_rate(self) -> float | None:
        return None if self.total == 0 else 1.0 - self.success / self.total


def window_counts(outcomes: Sequence[RunOutcome], now: datetime, span: timedelta) -> WindowCounts:
    """Logical runs that ended in (now - span, now]."""
    start = now - span
    inside = [r for r in outcomes if start < r.end <= now]
    return WindowCounts(len(inside), sum(1 for r in inside if r.success))


def burn_rate(error_rate: float | None, target: float) -> float | None:
    """How fast the error budget (1 - target) burns: 1.0 spends it exactly over the SLO period."""
    if error_rate is None:
        return None
    budget = 1.0 - target
    return math.inf if budget <= 0 and error_rate > 0 else (0.0 if budget <= 0 else error_rate / budget)


@dataclass(frozen=True)
class BurnWindow:
    """A long/short window pair that alerts when both burn faster than `factor`."""

    long_s: float
    short_s: float
    factor: float
    severity: str


@dataclass(frozen=True)
class BurnResult:
    window: BurnWindow
    long_rate: float | None
    short_rate: float | None

    @property
    def firing(self) -> bool:
        return (
            self.long_rate is not None
            and self.short_rate is not None
            and self.long_rate > self.window.factor
            and self.short_rate > self.window.factor
        )


def evaluate_burn(
    outcomes: Sequence[RunOutcome], now: datetime, target: float, windows: Sequence[BurnWindow]
) -> list[BurnResult]:
    """Multi-window burn-rate evaluation for each configured pair."""
    results = []
    for window in windows:
        long_counts = window_counts(outcomes, now, timedelta(seconds=window.long_s))
        short_counts = window_counts(outcomes, now, timedelta(seconds=window.short_s))
        results.append(
            BurnResult(window, burn_rate(long_counts.error_rate, target), burn_rate(short_counts.error_rate, target))
        )
    return results


def p95(values: Sequence[float]) -> float | None:
    """95th percentile by linear interpolation (numpy's default), None for no values."""
    xs = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
    if not xs:
        return None
    position = 0.95 * (len(xs) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(xs) - 1)
    return xs[lower] + (xs[upper] - xs[lower]) * (position - lower)
