"""The synchronizer's formulas on known answers (seed segC §C1 mapping table, constants from config)."""

from __future__ import annotations

import math
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from lumen_assets.rhythm.settings import BlendWeights, RhythmSettings, TimeCycleSettings
from lumen_assets.rhythm.sync import (
    blend_at,
    light_delta,
    read_sync_records,
    seconds_since_midnight,
    sound_delta,
    synchronize,
    temperature_delta,
    time_delta,
)

KST = ZoneInfo("Asia/Seoul")
DEFAULTS = RhythmSettings()


def _env(start: str, seconds: int, lux=1000.0, temp=20.0, sound=40.0) -> pd.DataFrame:
    ts = pd.date_range(pd.Timestamp(start), periods=seconds, freq="1s").tz_convert("UTC")
    full = lambda v: np.broadcast_to(np.asarray(v, dtype="float64"), (seconds,)).copy()  # noqa: E731
    return pd.DataFrame({"ts": ts, "light_intensity": full(lux), "ambient_temp": full(temp), "sound_level": full(sound)})


def test_sound_delta_is_level_difference_over_ten_not_a_log_of_a_log() -> None:
    # log10(I/I_ref) with I/I_ref = 10**((L - L_ref)/10): 50 dB over a 40 dB reference is exactly 1
    assert sound_delta(np.array([50.0, 40.0, 0.0]), DEFAULTS).tolist() == [1.0, 0.0, -4.0]  # 0 dB is finite


def test_light_delta_is_zero_for_a_day_night_cycle_in_step_with_the_clock() -> None:
    full = DEFAULTS.light.lux_max
    half = 10 ** (math.log10(1 + full) / 2) - 1  # lux whose log-normalised value is 0.5
    lux = np.array([0.0, half, full, half])
    t_s = np.array([0.0, 6 * 3600, 12 * 3600, 18 * 3600])
    assert np.allclose(light_delta(lux, t_s, DEFAULTS), 0.0, atol=1e-9)
    assert light_delta(np.array([full]), np.array([0.0]), DEFAULTS)[0] == pytest.approx(0.0, abs=1e-9)  # sin(π)
    assert light_delta(np.array([half]), np.array([0.0]), DEFAULTS)[0] == pytest.approx(1.0)  # light at midnight


def test_linear_lux_norm_and_the_clip_at_lux_max() -> None:
    from lumen_assets.rhythm.sync import lux_norm

    linear = RhythmSettings(light={"norm": "linear", "lux_max": 1000.0})
    assert lux_norm(np.array([0.0, 250.0, 1000.0, 5000.0]), linear).tolist() == [0.0, 0.25, 1.0, 1.0]
    assert lux_norm(np.array([10 ** (math.log10(1 + 100_000) / 2) - 1]), DEFAULTS)[0] == pytest.approx(0.5)  # log
    assert light_delta(np.array([500.0]), np.array([0.0]), linear)[0] == pytest.approx(1.0)  # sin(π/2 − 0)


def test_time_delta_is_one_at_midnight_and_zero_at_noon() -> None:
    assert time_delta(np.array([0.0, 43200.0, 21600.0])).tolist() == pytest.approx([1.0, 0.0, 0.5])


def test_t_origin_is_local_or_utc_midnight() -> None:
    ts = pd.Series(pd.to_datetime(["2025-10-23T00:00:00+09:00"], utc=True))
    assert seconds_since_midnight(ts, DEFAULTS, KST)[0] == 0.0
    utc = RhythmSettings(t_origin="utc_midnight")
    assert seconds_since_midnight(ts, utc, KST)[0] == 15 * 3600.0


def test_steady_temperature_gives_zero_not_a_division_by_zero() -> None:
    frame = _env("2025-10-23T09:00:00+09:00", 300)
    delta = temperature_delta(frame, DEFAULTS)
    assert np.isnan(delta[: DEFAULTS.temperature.min_samples - 1]).all()
    assert np.allclose(delta[DEFAULTS.temperature.min_samples:], 0.0)


def test_temperature_delta_is_a_trailing_z_score() -> None:
    temp = np.r_[np.full(200, 20.0) + np.tile([-0.5, 0.5], 100), [22.0]]
    frame = _env("2025-10-23T09:00:00+09:00", 201, temp=temp)
    settings = RhythmSettings(temperature={"window_s": 3600, "min_samples": 60, "sigma_floor": 0.05})
    window = temp  # all samples are within the hour
    expected = (22.0 - window.mean()) / window.std(ddof=1)
    assert temperature_delta(frame, settings)[-1] == pytest.approx(expected)


def test_one_record_per_step_with_blend_coverage_and_corrections() -> None:
    frame = _env("2025-10-23T12:00:00+09:00", 180, lux=DEFAULTS.light.lux_max, sound=50.0)
    sync = synchronize(frame, DEFAULTS, KST)
    assert [r["ts"] for r in sync.records] == [
        "2025-10-23T12:00:00+09:00", "2025-10-23T12:01:00+09:00", "2025-10-23T12:02:00+09:00"]
    first = sync.records[1]
    assert first["d_sound"] == pytest.approx(1.0)
    assert first["coverage"] == {"light_intensity": 1.0, "ambient_temp": 1.0, "sound_level": 1.0}
    assert first["corrections"]["creative_band"] == first["d_sound"]
    assert first["corrections"]["risk_band"] == first["d_time"]
    parts = [first["d_light"], first["d_temp"], first["d_sound"], first["d_time"]]
    assert first["blend"] == pytest.approx(sum(0.25 * p for p in parts), abs=1e-5)


def test_an_input_under_min_coverage_is_missing_and_the_blend_reweights() -> None:
    sound = np.full(60, 50.0)
    sound[20:] = np.nan  # a third of the minute
    frame = _env("2025-10-23T12:00:00+09:00", 60, sound=sound)
    weights = BlendWeights(light=0.5, temperature=0.0, sound=0.25, time_cycle=0.25)
    settings = RhythmSettings(weights=weights, temperature={"window_s": 3600, "min_samples": 1000})
    [record] = synchronize(frame, settings, KST).records
    assert record["d_sound"] is None and record["d_temp"] is None
    assert record["coverage"]["sound_level"] == pytest.approx(20 / 60, abs=1e-4)
    assert record["blend_weight_present"] == pytest.approx(0.75)
    assert record["blend"] == pytest.approx((0.5 * record["d_light"] + 0.25 * record["d_time"]) / 0.75, abs=1e-5)


def test_time_cycle_can_drive_phase_diff_instead() -> None:
    settings = RhythmSettings(time_cycle=TimeCycleSettings(band="phase_diff"))
    [record] = synchronize(_env("2025-10-23T12:00:00+09:00", 60), settings, KST).records
    assert record["corrections"]["risk_band"] is None
    assert record["corrections"]["phase_diff"] == pytest.approx(record["d_light"] + record["d_time"], abs=1e-5)


def test_metrics_means_are_aligned_to_the_same_step_and_blend_maps_back_to_5hz() -> None:
    frame = _env("2025-10-23T12:00:00+09:00", 120)
    ts = pd.date_range(pd.Timestamp("2025-10-23T12:00:00+09:00"), periods=600, freq="200ms").tz_convert("UTC")
    metrics = pd.DataFrame({"ts": ts, "phase_diff": np.r_[np.full(300, 0.4), np.full(300, 0.6)],
                            "entropy_rate": 0.2, "creative_band": 0.3, "risk_band": 0.1})
    sync = synchronize(frame, DEFAULTS, KST, metrics)
    assert [r["metrics"]["phase_diff"] for r in sync.records] == [0.4, 0.6]
    assert [r["metrics"]["n"] for r in sync.records] == [300, 300]
    back = read_sync_records(sync.records)
    at = blend_at(metrics["ts"], back)
    assert at[0] == sync.records[0]["blend"] and at[-1] == sync.records[1]["blend"]
    outside = blend_at(pd.Series(pd.to_datetime(["2025-10-23T12:05:00+09:00"], utc=True)), back)
    assert np.isnan(outside[0])


def test_weights_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        BlendWeights(light=0.5, temperature=0.5, sound=0.5, time_cycle=0.0)


def test_day_summary_reads_only_its_local_day() -> None:
    from lumen_assets.rhythm.sync import day_summary

    frame = _env("2025-10-23T23:58:00+09:00", 240)
    records = synchronize(frame, DEFAULTS, KST).records
    assert day_summary(records, date(2025, 10, 23), KST)["steps"] == 2
    assert day_summary(records, date(2025, 10, 24), KST)["steps"] == 2
    assert day_summary(records, date(2025, 10, 25), KST) is None


def test_rhythm_across_a_rule_event_compares_its_effect_windows() -> None:
    from lumen_assets.rhythm.sync import rhythm_across_events

    records = [{"ts": f"2025-10-23T12:0{i}:00+09:00", "step_s": 60, "blend": b, "d_light": b / 2}
               for i, b in enumerate([0.1, 0.1, 0.9, 0.9])]
    events = pd.DataFrame({"event_id": ["e1", "e2"], "rule": ["risk_max", "risk_max"], "d_phase": [-0.01, 0.0],
                           "rule_ts": ["2025-10-23T12:02:00+09:00", "2025-10-23T12:01:25+0900"]})
    across = rhythm_across_events(events, read_sync_records(records), pre_s=30, post_s=30, guard_s=1)
    assert across.loc[0, "rhythm_d_blend"] == pytest.approx(0.8)  # the step changes exactly at the event
    assert across.loc[0, "rhythm_d_light"] == pytest.approx(0.4)
    assert across.loc[1, "rhythm_d_blend"] == pytest.approx(0.0)  # both windows inside the 12:01 step
    assert np.isnan(across.loc[0, "rhythm_d_sound"])  # no sound data: unknown, not zero


def test_an_effect_is_read_with_and_without_the_rhythm_correction() -> None:
    """The phase band follows its correction with a gain of 0.02 (read from the steps); a rule event falls on a
    step where the correction jumps by 0.5, so 0.01 of its measured Δphase of 0.02 is the rhythm's."""
    from lumen_assets.rhythm.sync import rhythm_across_events, rhythm_gains

    corrections = np.r_[np.sin(np.arange(40) / 3.0), [0.0, 0.5]]
    records = [{"ts": (pd.Timestamp("2025-10-23T12:00:00+09:00") + pd.Timedelta(minutes=i)).isoformat(), "step_s": 60,
                "blend": 0.1, "corrections": {"phase_diff": c, "risk_band": 0.7, "entropy_rate": None},
                "metrics": {"phase_diff": 0.3 + 0.02 * c, "risk_band": 0.2, "entropy_rate": 0.1}}
               for i, c in enumerate(corrections)]
    sync = read_sync_records(records)
    gains = rhythm_gains(sync)
    assert gains["phase_diff"] == pytest.approx(0.02)
    assert gains["risk_band"] is None  # a constant correction says nothing about its gain
    assert gains["entropy_rate"] is None and gains["creative_band"] is None  # no correction at all
    t0 = pd.Timestamp(records[-1]["ts"])  # the jump from 0.0 to 0.5
    events = pd.DataFrame({"event_id": ["e1"], "rule": ["risk_max"], "rule_ts": [t0.isoformat()],
                           "d_phase": [0.02], "d_risk": [-0.03], "d_entropy": [0.0], "d_creative": [0.01]})
    [row] = rhythm_across_events(events, sync, pre_s=30, post_s=30, guard_s=1).to_dict("records")
    assert row["rhythm_corr_d_phase"] == pytest.approx(0.5)
    assert row["d_phase"] == 0.02 and row["d_phase_without_rhythm"] == pytest.approx(0.01)
    assert row["d_risk"] == -0.03 and math.isnan(row["d_risk_without_rhythm"])  # gain unknown: not guessed
    forced = rhythm_across_events(events, sync, 30, 30, 1, gains={**gains, "risk_band": 0.0})
    assert forced.loc[0, "d_risk_without_rhythm"] == pytest.approx(-0.03)  # a band the rhythm does not move
