"""Run-success SLI and multi-window burn rate (segC C9), with the seed's counting bugs fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lumen_assets.resonance.sli import (
    BurnWindow,
    RunOutcome,
    burn_rate,
    evaluate_burn,
    logical_outcomes,
    p95,
    window_counts,
)

NOW = datetime(2025, 10, 23, 12, 0, tzinfo=UTC)
PAGE = BurnWindow(3600, 300, 14.4, "ERROR")


def run(minutes_ago: float, ok: bool, run_id: str, logical: str | None = None) -> RunOutcome:
    return RunOutcome(run_id, logical or run_id, NOW - timedelta(minutes=minutes_ago), ok, 10.0)


def test_retried_run_counts_once_with_its_last_outcome():
    runs = [run(30, False, "a1", "a"), run(20, True, "a2", "a"), run(10, True, "b")]
    outcomes = logical_outcomes(runs)
    assert [o.run_id for o in outcomes] == ["a2", "b"]
    counts = window_counts(outcomes, NOW, timedelta(days=7))
    assert (counts.total, counts.success, counts.success_ratio) == (2, 2, 1.0)


def test_no_runs_is_no_data_not_full_error():
    counts = window_counts([], NOW, timedelta(hours=1))
    assert counts.error_rate is None and counts.success_ratio is None
    assert burn_rate(counts.error_rate, 0.99) is None
    assert not evaluate_burn([], NOW, 0.99, [PAGE])[0].firing


def test_burn_rate_is_error_rate_over_budget():
    assert burn_rate(0.05, 0.99) == pytest.approx(5.0)


def test_burn_fires_only_when_both_windows_exceed_factor():
    # long window: 1 failure of 4 -> 25 % error = 25x; short window: the failure 2 min ago -> 100 % = 100x
    runs = [run(50, True, "a"), run(40, True, "b"), run(30, True, "c"), run(2, False, "d")]
    result = evaluate_burn(logical_outcomes(runs), NOW, 0.99, [PAGE])[0]
    assert result.long_rate == pytest.approx(25.0)
    assert result.short_rate == pytest.approx(100.0)
    assert result.firing
    # the same failure 20 minutes ago: short window empty -> not firing (recovered)
    runs[-1] = run(20, False, "d")
    assert not evaluate_burn(logical_outcomes(runs), NOW, 0.99, [PAGE])[0].firing


def test_window_is_half_open():
    runs = [run(60, False, "edge")]
    assert window_counts(runs, NOW, timedelta(hours=1)).total == 0
    assert window_counts(runs, NOW, timedelta(hours=1, seconds=1)).total == 1


def test_p95_matches_numpy():
    np = pytest.importorskip("numpy")
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    assert p95(values) == pytest.approx(float(np.percentile(values, 95)))
    assert p95([]) is None
