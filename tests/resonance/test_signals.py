"""Signal-side resonance inputs from a metrics frame: gaps, per-minute deltas, window means."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from lumen_assets.resonance.signals import gap_minutes, minute_deltas, summarise_window, window_frame


def frame(n: int = 5 * 600, start: str = "2025-10-23T00:00:00Z", hz: float = 5.0) -> pd.DataFrame:
    ts = pd.date_range(start, periods=n, freq=pd.Timedelta(seconds=1 / hz)).as_unit("ns")
    t = np.arange(n)
    return pd.DataFrame(
        {
            "ts": ts,
            "phase_diff": 0.1 + 0.01 * np.sin(t / 50),
            "entropy_rate": 0.5,
            "creative_band": 0.25,
            "risk_band": 0.3,
        }
    )


def test_no_gaps_in_a_regular_stream():
    f = frame()
    assert gap_minutes(f["ts"], 5.0, 2.5) == (0.0, 0)


def test_a_missing_stretch_counts_its_minutes():
    f = frame()
    f = pd.concat([f.iloc[:1000], f.iloc[1000 + 5 * 120 :]])  # drop 2 minutes of rows
    lost, count = gap_minutes(f["ts"], 5.0, 2.5)
    assert count == 1
    assert lost == pytest.approx(2.0, abs=0.01)


def test_blank_cells_are_skipped_not_zero():
    f = frame()
    f.loc[f.index[:100], "creative_band"] = np.nan
    summary = summarise_window(f, f["ts"].iloc[-1].to_pydatetime(), timedelta(hours=1), sample_rate_hz=5, gap_factor=2.5)
    assert summary.means["creative_band"] == pytest.approx(0.25)
    assert summary.gap_minutes == 0.0


def test_minute_deltas_are_signed_changes_of_minute_means():
    f = frame(n=5 * 60 * 3)
    f["risk_band"] = np.repeat([0.3, 0.2, 0.4], 300)
    assert minute_deltas(f, "risk_band") == pytest.approx([-0.1, 0.2])


def test_window_bounds():
    f = frame()
    end = f["ts"].iloc[-1].to_pydatetime()
    rows = window_frame(f, end, timedelta(seconds=60))
    assert len(rows) == 300
    summary = summarise_window(f, end, timedelta(hours=24), sample_rate_hz=5, gap_factor=2.5)
    assert summary.samples == len(f)
    assert 0 < summary.coverage < 0.01


def test_empty_window_is_unknown():
    f = frame()
    end = f["ts"].iloc[0].to_pydatetime() - timedelta(days=2)
    summary = summarise_window(f, end, timedelta(hours=1), sample_rate_hz=5, gap_factor=2.5)
    assert summary.samples == 0 and summary.gap_minutes is None and summary.means["risk_band"] is None
