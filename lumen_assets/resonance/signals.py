"""Signal-side inputs of the resonance mapper, from the typed metrics frame (ts UTC + four signals).

- symmetry input: per-minute changes of each signal's one-minute mean (the seed's
  "1 - normalized_variation(diff(rate(metrics)))", segD §13.2; its collector was a stub), whose
  deviation is measured against the signal's level: spikes and drops lower symmetry, steady noise does not;
- continuity input: minutes lost to gaps, i.e. for every step longer than `gap_factor` sample periods, the
  time beyond one period (a blank cell is a missing value, not a gap: the row was still written);
- the SLO inputs: window means of creative_band and risk_band (blank cells skipped, never read as 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from lumen_assets.signals import SIGNALS


@dataclass(frozen=True)
class SignalWindow:
    """What one window of the metrics stream says, as plain numbers."""

    start: datetime
    end: datetime
    samples: int
    first_ts: datetime | None
    last_ts: datetime | None
    gap_minutes: float | None
    gap_count: int
    coverage: float  # share of the window between the first and last sample
    minute_deltas: dict[str, list[float]] = field(default_factory=dict)
    means: dict[str, float | None] = field(default_factory=dict)


def window_frame(frame: pd.DataFrame, end: datetime, span: timedelta) -> pd.DataFrame:
    """Rows with end - span < ts <= end (frame sorted by ts)."""
    ts = frame["ts"]
    start = pd.Timestamp(end - span)
    stop = pd.Timestamp(end)
    lo = ts.searchsorted(start, side="right")
    hi = ts.searchsorted(stop, side="right")
    return frame.iloc[lo:hi]


def gap_minutes(ts: pd.Series, sample_rate_hz: float, gap_factor: float) -> tuple[float, int]:
    """Minutes lost to gaps and how many gaps, for sorted UTC timestamps."""
    if len(ts) < 2:
        return 0.0, 0
    period_s = 1.0 / sample_rate_hz
    steps_s = np.diff(ts.to_numpy(dtype="datetime64[ns]").astype("int64")) / 1e9
    gaps = steps_s[steps_s > gap_factor * period_s]
    return float(np.sum(gaps - period_s) / 60.0), int(gaps.size)


def minute_deltas(frame: pd.DataFrame, signal: str) -> list[float]:
    """Signed Δ between consecutive one-minute means of a signal (minutes without data are skipped, not 0)."""
    series = frame.set_index("ts")[signal].dropna()
    if series.empty:
        return []
    per_minute = series.resample("1min").mean().dropna()
    return [float(d) for d in per_minute.diff().dropna().to_numpy()]


def summarise_window(
    frame: pd.DataFrame,
    end: datetime,
    span: timedelta,
    *,
    sample_rate_hz: float,
    gap_factor: float,
) -> SignalWindow:
    """All signal-side inputs for one window ending at `end`."""
    rows = window_frame(frame, end, span)
    start = end - span
    if rows.empty:
        return SignalWindow(start, end, 0, None, None, None, 0, 0.0, {s: [] for s in SIGNALS}, {s: None for s in SIGNALS})
    gaps, count = gap_minutes(rows["ts"], sample_rate_hz, gap_factor)
    first, last = rows["ts"].iloc[0].to_pydatetime(), rows["ts"].iloc[-1].to_pydatetime()
    coverage = min(1.0, (last - first).total_seconds() / span.total_seconds())
    means: dict[str, float | None] = {}
    for signal in SIGNALS:
        value = rows[signal].mean(skipna=True)
        means[signal] = None if value is None or not math.isfinite(value) else float(value)
    return SignalWindow(
        start=start,
        end=end,
        samples=len(rows),
        first_ts=first,
        last_ts=last,
        gap_minutes=gaps,
        gap_count=count,
        coverage=coverage,
        minute_deltas={s: minute_deltas(rows, s) for s in SIGNALS},
        means=means,
    )
