"""Causal impact: the classic CausalImpact example, the seed's bugs, the PyMC twin."""

import numpy as np
import pytest

from lumen_assets.posteriors.impact import estimate_impact, impact_pymc


def causal_impact_example(seed: int):
    """Google CausalImpact vignette: x1 = 100 + AR(1, 0.999), y = 1.2·x1 + N(0,1), y[70:] += 10."""
    rng = np.random.default_rng(seed)
    ar = np.zeros(100)
    for t in range(1, 100):
        ar[t] = 0.999 * ar[t - 1] + rng.normal()
    x1 = 100 + ar
    y = 1.2 * x1 + rng.normal(size=100)
    y[70:] += 10
    return x1[:, None], y


def test_classic_example_recovers_plus_ten_and_covers_it():
    x, y = causal_impact_example(0)
    estimate = estimate_impact(y[:70], x[:70], y[70:], x[70:], interval_prob=0.95)
    assert estimate.effect_mean == pytest.approx(10, abs=1.0)
    assert estimate.interval[0] <= 10 <= estimate.interval[1]
    assert estimate.p_tail < 0.001


def test_interval_is_calibrated_over_many_draws():
    covered = 0
    for seed in range(200):
        x, y = causal_impact_example(seed)
        lo, hi = estimate_impact(y[:70], x[:70], y[70:], x[70:]).interval
        covered += lo <= 10 <= hi
    assert 0.90 <= covered / 200 <= 0.99


def test_autocorrelated_noise_widens_the_interval_the_seed_understated():
    rng = np.random.default_rng(3)
    noise = np.zeros(1200)
    for t in range(1, 1200):
        noise[t] = 0.9 * noise[t - 1] + rng.normal(0, 0.01)
    y = 0.4 + noise
    no_x = np.zeros((1200, 0))
    estimate = estimate_impact(y[:600], no_x[:600], y[600:], no_x[600:])
    naive_width = estimate.naive_interval[1] - estimate.naive_interval[0]
    width = estimate.interval[1] - estimate.interval[0]
    assert estimate.rho > 0.8
    assert width > 3 * naive_width
    # There is no effect: the honest interval covers zero far more often than the seed's (checked on one draw).
    assert estimate.interval[0] <= 0 <= estimate.interval[1]


def test_too_short_pre_window_is_a_clear_error():
    with pytest.raises(ValueError, match="pre window has 2 samples"):
        estimate_impact(np.ones(2), np.ones((2, 1)), np.ones(5), np.ones((5, 1)))


def test_pymc_twin_agrees_with_closed_form_on_the_classic_example():
    x, y = causal_impact_example(0)
    closed = estimate_impact(y[:70], x[:70], y[70:], x[70:], autocorrelation=False)
    sampled = impact_pymc(y[:70], x[:70], y[70:], x[70:], draws=500, tune=500)
    assert sampled["effect_mean"] == pytest.approx(10, abs=1.0)
    assert sampled["lo"] <= 10 <= sampled["hi"]
    assert sampled["effect_mean"] == pytest.approx(closed.effect_mean, abs=0.1)
    width_ratio = (sampled["hi"] - sampled["lo"]) / (closed.interval[1] - closed.interval[0])
    assert 0.8 <= width_ratio <= 1.25


def test_event_windows_pending_insufficient_and_missing_cells():
    from lumen_assets.posteriors.impact import EventWindowInput, event_impacts
    from lumen_assets.posteriors.settings import ImpactSettings

    second = 1_000_000_000
    ts = np.arange(0, 2000) * (second // 5)  # 400 s at 5 Hz
    rng = np.random.default_rng(1)
    phase = 0.4 + rng.normal(0, 0.01, len(ts))
    phase[ts >= 150 * second] -= 0.02
    phase[5] = np.nan  # outside any window
    phase[(ts > 100 * second) & (ts < 101 * second)] = np.nan  # inside the pre window: left out and counted
    series = {"phase_diff": phase}
    settings = ImpactSettings()
    out = event_impacts(ts, series, [
        EventWindowInput("e1", "r", 150 * second),
        EventWindowInput("late", "r", 350 * second),
        EventWindowInput("early", "r", 0),
    ], settings)
    by_id = {r["event_id"]: r for r in out}
    assert by_id["e1"]["status"] == "complete"
    assert by_id["e1"]["effect_mean"] == pytest.approx(-0.02, abs=0.005)
    assert by_id["e1"]["interval"][0] <= -0.02 <= by_id["e1"]["interval"][1]
    assert by_id["e1"]["n_missing"] == 4
    assert by_id["late"]["status"] == "pending"
    assert by_id["early"]["status"] == "insufficient"
