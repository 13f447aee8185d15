"""Window effects (seed segA C17/C21): the seed's verified example, windows and guard, pending and
insufficient, and agreement with a per-event re-implementation of the seed algorithm."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumen_assets.effects.window import (
    EFFECT_COLUMNS,
    SHORT,
    SIGNALS,
    WindowSpec,
    compute_window_effects,
    effects_for_events,
)
from tests.effects.seed_reference import none_if_nan, seed_mean_window

KST = timezone(timedelta(hours=9))
T0 = datetime(2025, 10, 23, 13, 10, 0, tzinfo=KST)
NS = 1_000_000_000


@dataclass(frozen=True)
class Event:
    """Duck-typed RuleEvent (effects_for_events reads only these attributes)."""

    ts: datetime
    event_id: str = "e1"
    ts_text: str = "2025-10-23T13:10:00+09:00"
    actor: str = "Lubit"
    rule: str = "creative_min"
    old: float | None = 0.2
    new: float = 0.25


def _frame(seconds: np.ndarray, columns: dict[str, np.ndarray], t0: datetime = T0) -> pd.DataFrame:
    ts = pd.Timestamp(t0).value + np.round(seconds * NS).astype(np.int64)
    frame = pd.DataFrame({"ts": pd.to_datetime(ts, unit="ns", utc=True)})
    for signal in SIGNALS:
        frame[signal] = columns[signal].astype(np.float64)
    return frame


def _step_frame(before: dict[str, float], after: dict[str, float], span_s: float = 60.0) -> pd.DataFrame:
    seconds = np.arange(-span_s, span_s + 0.1, 0.2)
    return _frame(seconds, {s: np.where(seconds < 0, before[s], after[s]) for s in SIGNALS})


NOW = pd.Timestamp(T0 + timedelta(days=1)).value


@pytest.mark.parametrize("spec", [WindowSpec(), WindowSpec(use_iqr=False, use_ema=False)])
def test_seed_verified_example(spec: WindowSpec) -> None:
    """segA C21: phase 0.1->0.05, creative 0.2->0.25, risk 0.3->0.25, entropy constant at 5 Hz."""
    frame = _step_frame({"phase_diff": 0.1, "entropy_rate": 0.3, "creative_band": 0.2, "risk_band": 0.3},
                        {"phase_diff": 0.05, "entropy_rate": 0.3, "creative_band": 0.25, "risk_band": 0.25})
    row = effects_for_events(frame, [Event(T0)], spec, NOW).iloc[0]
    assert row["status"] == "complete"
    for column, expected in (("d_phase", -0.05), ("d_entropy", 0.0), ("d_creative", 0.05), ("d_risk", -0.05)):
        assert row[column] == pytest.approx(expected, abs=1e-12)
        assert row[f"raw_{column}"] == pytest.approx(expected, abs=1e-12)
    assert row["pre_phase"] == pytest.approx(0.1) and row["post_phase"] == pytest.approx(0.05)
    assert (row["n_pre"], row["n_post"]) == (146, 146)  # [-30, -1] and [1, 30] at 5 Hz, inclusive
    assert list(effects_for_events(frame, [Event(T0)], spec, NOW).columns) == list(EFFECT_COLUMNS)
    assert (row["rule_ts"], row["actor"], row["rule"], row["old"], row["new"], row["pre_s"], row["post_s"],
            row["event_id"]) == ("2025-10-23T13:10:00+09:00", "Lubit", "creative_min", 0.2, 0.25, 30.0, 30.0, "e1")


def test_window_bounds_are_inclusive_and_guard_is_excluded() -> None:
    points = {-30.2: 1.0, -30.0: 0.1, -15.0: 0.2, -1.0: 0.3, -0.8: 1.0, 0.0: 1.0,
              0.8: 1.0, 1.0: 0.5, 20.0: 0.6, 30.0: 0.7, 30.2: 1.0}
    seconds = np.array(sorted(points))
    values = np.array([points[s] for s in seconds])
    frame = _frame(seconds, {s: values for s in SIGNALS})
    spec = WindowSpec(use_iqr=False, use_ema=False, min_samples=1)
    row = effects_for_events(frame, [Event(T0)], spec, NOW).iloc[0]
    assert (row["n_pre"], row["n_post"]) == (3, 3)
    assert row["pre_phase"] == pytest.approx(0.2)
    assert row["post_phase"] == pytest.approx(0.6)
    assert row["d_risk"] == pytest.approx(0.4)
    assert row["status"] == "complete"


def test_pending_when_the_post_window_is_not_covered() -> None:
    seconds = np.arange(-40, 29.9, 0.2)  # the newest sample is at t0 + 29.8 s
    frame = _frame(seconds, {s: np.full(len(seconds), 0.5) for s in SIGNALS})
    row = effects_for_events(frame, [Event(T0)], WindowSpec(), NOW).iloc[0]
    assert row["status"] == "pending"
    for short in SHORT.values():
        assert math.isnan(row[f"d_{short}"]) and math.isnan(row[f"raw_d_{short}"]) and math.isnan(row[f"post_{short}"])
    assert row["pre_phase"] == pytest.approx(0.5)  # the pre window is final and kept


def test_pending_when_now_is_before_the_post_window_end_even_if_data_claims_more() -> None:
    frame = _step_frame({s: 0.5 for s in SIGNALS}, {s: 0.5 for s in SIGNALS})
    now = pd.Timestamp(T0 + timedelta(seconds=29)).value
    assert effects_for_events(frame, [Event(T0)], WindowSpec(), now).iloc[0]["status"] == "pending"
    now = pd.Timestamp(T0 + timedelta(seconds=30)).value
    assert effects_for_events(frame, [Event(T0)], WindowSpec(), now).iloc[0]["status"] == "complete"


def test_complete_exactly_when_coverage_reaches_the_post_window_end() -> None:
    seconds = np.arange(-40, 30.1, 0.2)  # newest sample at t0 + 30.0 s
    frame = _frame(seconds, {s: np.full(len(seconds), 0.5) for s in SIGNALS})
    assert effects_for_events(frame, [Event(T0)], WindowSpec(), NOW).iloc[0]["status"] == "complete"


@pytest.mark.parametrize(("min_samples", "status"), [(146, "complete"), (147, "insufficient")])
def test_insufficient_below_min_samples(min_samples: int, status: str) -> None:
    frame = _step_frame({s: 0.4 for s in SIGNALS}, {s: 0.5 for s in SIGNALS})
    row = effects_for_events(frame, [Event(T0)], WindowSpec(min_samples=min_samples), NOW).iloc[0]
    assert row["status"] == status
    assert row["d_phase"] == pytest.approx(0.1)  # numbers are still reported, the status says how far to trust them


def test_missing_cells_do_not_count_towards_min_samples() -> None:
    frame = _step_frame({s: 0.4 for s in SIGNALS}, {s: 0.5 for s in SIGNALS})
    seconds = (frame["ts"] - pd.Timestamp(T0)).dt.total_seconds()
    frame.loc[(seconds > 1) & (seconds < 5), "risk_band"] = np.nan  # 19 post samples of one signal missing
    row = effects_for_events(frame, [Event(T0)], WindowSpec(min_samples=130), NOW).iloc[0]
    assert (row["n_pre"], row["n_post"]) == (146, 127)
    assert row["status"] == "insufficient"
    assert row["d_risk"] == pytest.approx(0.1)  # missing is skipped, never read as 0.0


def test_no_metrics_at_all_is_pending() -> None:
    empty = pd.DataFrame({"ts": pd.to_datetime(np.array([], dtype=np.int64), unit="ns", utc=True),
                          **{s: np.array([], dtype=np.float64) for s in SIGNALS}})
    rows = effects_for_events(empty, [Event(T0)], WindowSpec(), NOW)
    assert list(rows["status"]) == ["pending"]


def test_no_events_gives_empty_table_with_the_columns() -> None:
    frame = _step_frame({s: 0.4 for s in SIGNALS}, {s: 0.5 for s in SIGNALS})
    rows = effects_for_events(frame, [], WindowSpec(), NOW)
    assert len(rows) == 0 and list(rows.columns) == list(EFFECT_COLUMNS)


def test_events_are_independent_of_each_other_and_of_order() -> None:
    frame = _step_frame({s: 0.4 for s in SIGNALS}, {s: 0.5 for s in SIGNALS}, span_s=200)
    early = Event(T0 - timedelta(seconds=100), event_id="a")
    step = Event(T0, event_id="b")
    forward = effects_for_events(frame, [early, step], WindowSpec(), NOW)
    backward = effects_for_events(frame, [step, early], WindowSpec(), NOW)
    assert forward["d_phase"].tolist() == pytest.approx([0.0, 0.1])
    pd.testing.assert_frame_equal(forward.iloc[::-1].reset_index(drop=True), backward)


# --- against the seed's per-event algorithm ---------------------------------------------------------------

def _seed_effects(frame: pd.DataFrame, t0: datetime, spec: WindowSpec) -> dict[str, float | None]:
    series_time = [ts.to_pydatetime() for ts in frame["ts"]]
    out: dict[str, float | None] = {}
    counts_pre, counts_post = [], []
    for signal in SIGNALS:
        series = [(t, none_if_nan(float(v))) for t, v in zip(series_time, frame[signal], strict=True)]
        args = (spec.use_iqr, spec.iqr_k, spec.use_ema, spec.ema_alpha)
        pre, n_pre = seed_mean_window(series, t0, -spec.pre_s, -spec.guard_s, *args)
        post, n_post = seed_mean_window(series, t0, spec.guard_s, spec.post_s, *args)
        raw_pre, _ = seed_mean_window(series, t0, -spec.pre_s, -spec.guard_s, False, 0, False, 0)
        raw_post, _ = seed_mean_window(series, t0, spec.guard_s, spec.post_s, False, 0, False, 0)
        short = SHORT[signal]
        out[f"pre_{short}"], out[f"post_{short}"] = pre, post
        out[f"d_{short}"] = None if pre is None or post is None else post - pre
        out[f"raw_d_{short}"] = None if raw_pre is None or raw_post is None else raw_post - raw_pre
        counts_pre.append(n_pre)
        counts_post.append(n_post)
    out["n_pre"], out["n_post"] = min(counts_pre), min(counts_post)
    return out


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    filters=st.sampled_from([(False, False), (True, False), (False, True), (True, True)]),
    pre_post_guard=st.sampled_from([(30, 30, 1), (20, 45, 1), (5, 7, 0.5), (10, 10, 0)]),
    missing=st.sampled_from([0.0, 0.05, 0.5]),
)
def test_matches_a_naive_per_event_seed_reimplementation(
    seed: int, filters: tuple[bool, bool], pre_post_guard: tuple[float, float, float], missing: float
) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 900))
    steps_ms = rng.choice([200, 200, 200, 200, 400, 1000, 3000], size=n)  # 5 Hz with jitter and gaps
    seconds = np.cumsum(steps_ms) / 1000.0
    columns = {}
    for signal in SIGNALS:
        values = np.round(rng.uniform(0.1, 0.9, n) + rng.normal(0, 0.01, n), 3)
        values[rng.random(n) < 0.01] = 1.0  # spikes for the IQR filter
        values[rng.random(n) < missing] = np.nan
        columns[signal] = np.clip(values, 0, 1)
    frame = _frame(seconds, columns)
    event_ms = rng.integers(-20_000, int(seconds[-1] * 1000) + 20_000, size=6)
    event_ms[0] = int(steps_ms[:10].sum())  # one event exactly on a sample
    events = [Event(T0 + timedelta(milliseconds=int(ms)), event_id=f"e{i}") for i, ms in enumerate(event_ms)]
    pre_s, post_s, guard_s = pre_post_guard
    spec = WindowSpec(pre_s=pre_s, post_s=post_s, guard_s=guard_s, use_iqr=filters[0], use_ema=filters[1],
                      ema_alpha=0.25, min_samples=3)
    ours = effects_for_events(frame, events, spec, NOW)
    for event, (_, row) in zip(events, ours.iterrows(), strict=True):
        expected = _seed_effects(frame, event.ts, spec)
        assert (row["n_pre"], row["n_post"]) == (expected["n_pre"], expected["n_post"])
        pending = row["status"] == "pending"
        for key, value in expected.items():
            if key.startswith("n_") or (pending and key.startswith(("post_", "d_", "raw_d_"))):
                continue
            if value is None:
                assert math.isnan(row[key]), key
            else:
                assert row[key] == pytest.approx(value, abs=1e-9), key
        covered = (event.ts + timedelta(seconds=post_s)) <= frame["ts"].iloc[-1].to_pydatetime()
        assert pending == (not covered)
        if not pending:
            enough = min(expected["n_pre"], expected["n_post"]) >= spec.min_samples
            assert row["status"] == ("complete" if enough else "insufficient")


def test_compute_window_effects_handles_more_events_than_one_chunk() -> None:
    from lumen_assets.effects import window

    seconds = np.arange(0, 3000, 0.2)
    rng = np.random.default_rng(1)
    values = {s: np.round(rng.uniform(0, 1, len(seconds)), 3) for s in SIGNALS}
    ts_ns = pd.Timestamp(T0).value + np.round(seconds * NS).astype(np.int64)
    event_ts = ts_ns[::2][: window.CHUNK_EVENTS + 10] + 7 * NS
    spec = WindowSpec()
    whole = compute_window_effects(ts_ns, values, event_ts, spec, int(ts_ns[-1]))
    parts = pd.concat([compute_window_effects(ts_ns, values, event_ts[i:i + 1000], spec, int(ts_ns[-1]))
                       for i in range(0, len(event_ts), 1000)], ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)


def test_delta_interval_covers_the_true_step_about_95_percent_of_the_time() -> None:
    """se_d_*: over 300 events with i.i.d. noise and a known step of +0.05, Δ ± 1.96 se covers +0.05 in
    roughly 95 % of events (EMA and IQR on, the defaults), and a constant signal has se 0."""
    rng = np.random.default_rng(7)
    seconds = np.arange(0, 300 * 80, 0.2)
    event_s = np.arange(40, 300 * 80, 80.0)
    step = np.zeros_like(seconds)
    for t in event_s:
        step[(seconds >= t) & (seconds < t + 40)] = 0.05
    noisy = 0.3 + step + rng.normal(0, 0.02, len(seconds))
    ts_ns = (seconds * NS).astype(np.int64)
    values = {"phase_diff": noisy, "entropy_rate": np.full(len(seconds), 0.3),
              "creative_band": noisy, "risk_band": noisy}
    frame = compute_window_effects(ts_ns, values, (event_s * NS).astype(np.int64), WindowSpec(), int(ts_ns[-1]))
    half = 1.959964 * frame["se_d_phase"]
    covered = ((frame["d_phase"] - half <= 0.05) & (0.05 <= frame["d_phase"] + half)).mean()
    assert 0.85 <= covered <= 1.0, covered
    assert (frame["se_d_entropy"] == 0).all()
    with_se = effects_for_events(_step_frame({s: 0.2 for s in SIGNALS}, {s: 0.3 for s in SIGNALS}), [Event(T0)],
                                 WindowSpec(), NOW, with_standard_errors=True)
    assert list(with_se.columns)[-4:] == ["se_d_phase", "se_d_entropy", "se_d_creative", "se_d_risk"]
