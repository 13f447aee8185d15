"""The resonance synchronizer (seed segC §C1): world rhythms -> four band corrections -> one blend per step.

The seed's mapping table, with every constant it leaves unset taken from `RhythmSettings`:

| input            | band (default)  | Δ                                                    |
|------------------|-----------------|------------------------------------------------------|
| light_intensity  | phase_diff      | sin(π·lux_norm − radians_per_day·t/86400)            |
| ambient_temp     | entropy_rate    | (temp − mean_w) / max(σ_w, sigma_floor), trailing w  |
| sound_level      | creative_band   | (dB − ref_db) / 10  (= log10 of the intensity ratio) |
| time_cycle       | risk_band       | 0.5·(1 + cos(2π·t/86400))                            |

t is seconds since midnight (local in the reporting timezone, or UTC; `t_origin`). Where the seed was wrong:
log10(dB/ref) took a log of a logarithm (fixed above); `t/day` had no unit; σ could be 0 (floored); the
blend's weights, the rates and the windows were unset (config). The seed's 200 ms blend loop is a control
loop and stays outside Dagster: this is the batch view of the same formulas, one record per `step_s`, with
the means of the 5 Hz metrics in the same step so a rule change's effect can be read with and without the
rhythm. Pure module: no dagster import.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from lumen_assets.ingest.environment import ENV_SIGNALS
from lumen_assets.rhythm.settings import RhythmSettings
from lumen_assets.signals import DELTA_COLUMNS, SIGNALS

METRIC_SIGNALS = SIGNALS
INPUTS = ("light", "temperature", "sound", "time_cycle")  # blend weight keys
DELTA_KEYS = {"light": "d_light", "temperature": "d_temp", "sound": "d_sound", "time_cycle": "d_time"}
SOURCE_OF = {"light": "light_intensity", "temperature": "ambient_temp", "sound": "sound_level"}


def lux_norm(lux: np.ndarray, settings: RhythmSettings) -> np.ndarray:
    """Illuminance mapped to [0, 1]: log10(1+lux)/log10(1+lux_max) or lux/lux_max, clipped."""
    light = settings.light
    lux = np.asarray(lux, dtype="float64")
    if light.norm == "log":
        scaled = np.log10(1.0 + np.clip(lux, 0, None)) / math.log10(1.0 + light.lux_max)
    else:
        scaled = lux / light.lux_max
    return np.clip(scaled, 0.0, 1.0)


def seconds_since_midnight(ts: pd.Series, settings: RhythmSettings, tz: ZoneInfo) -> np.ndarray:
    """t of the phase and time terms: seconds since local (reporting timezone) or UTC midnight."""
    moments = ts.dt.tz_convert(tz if settings.t_origin == "local_midnight" else "UTC")
    return (
        moments.dt.hour.to_numpy() * 3600.0 + moments.dt.minute.to_numpy() * 60.0
        + moments.dt.second.to_numpy() + moments.dt.microsecond.to_numpy() / 1e6
    )


def light_delta(lux: np.ndarray, t_s: np.ndarray, settings: RhythmSettings) -> np.ndarray:
    return np.sin(math.pi * lux_norm(lux, settings) - settings.light.radians_per_day * np.asarray(t_s) / 86400.0)


def sound_delta(sound_db: np.ndarray, settings: RhythmSettings) -> np.ndarray:
    """(L − L_ref)/10 = log10(I/I_ref): the seed's log10(dB/ref) took a log of a log."""
    return (np.asarray(sound_db, dtype="float64") - settings.sound.ref_db) / 10.0


def time_delta(t_s: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.cos(2.0 * math.pi * np.asarray(t_s) / 86400.0))


def temperature_delta(frame: pd.DataFrame, settings: RhythmSettings) -> np.ndarray:
    """z-score of each sample against the trailing window (causal: only the past and the sample itself)."""
    temp = settings.temperature
    rolling = frame.rolling(f"{int(temp.window_s * 1000)}ms", on="ts", min_periods=temp.min_samples)["ambient_temp"]
    mean = rolling.mean().to_numpy()
    sigma = np.maximum(np.nan_to_num(rolling.std().to_numpy(), nan=0.0), temp.sigma_floor)
    return (frame["ambient_temp"].to_numpy() - mean) / sigma


def bands_of(settings: RhythmSettings) -> dict[str, str]:
    """Which band each input drives (time_cycle's band is the config's choice)."""
    return settings.bands()


@dataclass(frozen=True)
class RhythmSync:
    records: list[dict[str, Any]]
    frame: pd.DataFrame  # one row per step: step_start (UTC), d_*, blend, coverage_*, metrics means

    @property
    def steps(self) -> int:
        return len(self.records)


def _clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def synchronize(
    environment: pd.DataFrame, settings: RhythmSettings, tz: ZoneInfo, metrics: pd.DataFrame | None = None
) -> RhythmSync:
    """Per step: the four Δs (means of the per-sample Δs), the blend, each input's coverage, and the means of
    the metrics in the same step. A Δ whose input covers less than `min_coverage` of the step is missing."""
    step_ns = int(settings.step_s * 1e9)
    if not len(environment):
        return RhythmSync([], pd.DataFrame())
    env = environment.sort_values("ts").reset_index(drop=True)
    t_s = seconds_since_midnight(env["ts"], settings, tz)
    samples = pd.DataFrame({
        "d_light": light_delta(env["light_intensity"].to_numpy(), t_s, settings),
        "d_temp": temperature_delta(env, settings),
        "d_sound": sound_delta(env["sound_level"].to_numpy(), settings),
    })
    for name in ENV_SIGNALS:
        samples[f"present_{name}"] = env[name].notna().to_numpy()
    ts_ns = env["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    samples["step"] = ts_ns // step_ns
    grouped = samples.groupby("step", sort=True)
    steps = grouped.mean(numeric_only=True)
    expected = settings.step_s * settings.environment.sample_rate_hz
    for name in ENV_SIGNALS:
        steps[f"coverage_{name}"] = np.minimum(grouped[f"present_{name}"].sum() / expected, 1.0)
    for key, source in SOURCE_OF.items():
        column = DELTA_KEYS[key]
        steps.loc[steps[f"coverage_{source}"] < settings.min_coverage, column] = np.nan
    step_start_ns = steps.index.to_numpy(dtype="int64") * step_ns
    mid = pd.Series(pd.to_datetime(step_start_ns + step_ns // 2, unit="ns", utc=True))
    steps["d_time"] = time_delta(seconds_since_midnight(mid, settings, tz))
    weights = settings.weights.model_dump()
    deltas = np.column_stack([steps[DELTA_KEYS[k]].to_numpy() for k in INPUTS])
    w = np.array([weights[k] for k in INPUTS])
    present = ~np.isnan(deltas)
    weight_present = (present * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        blend = np.where(weight_present > 0, (np.nan_to_num(deltas) * w).sum(axis=1) / weight_present, np.nan)
    steps["blend"] = blend
    steps["blend_weight_present"] = weight_present
    steps["step_start"] = pd.to_datetime(step_start_ns, unit="ns", utc=True)
    if metrics is not None:  # known metrics, even none in these steps: every record says n
        m_ns = metrics["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
        by_step = metrics[list(METRIC_SIGNALS)].assign(step=m_ns // step_ns).groupby("step")
        means = by_step.mean()
        counts = by_step.size()
        for signal in METRIC_SIGNALS:
            steps[f"metrics_{signal}"] = means[signal].reindex(steps.index).to_numpy()
        steps["metrics_n"] = counts.reindex(steps.index).fillna(0).astype("int64").to_numpy()
    steps = steps.reset_index(drop=True)
    bands = bands_of(settings)
    records = []
    for row in steps.itertuples(index=False):
        values = row._asdict()
        corrections: dict[str, float | None] = {band: None for band in METRIC_SIGNALS}
        for key in INPUTS:
            delta = _clean(values[DELTA_KEYS[key]])
            band = bands[key]
            if delta is not None:
                corrections[band] = round((corrections[band] or 0.0) + delta, 6)
        record: dict[str, Any] = {
            "ts": values["step_start"].tz_convert(tz).isoformat(),
            "step_s": settings.step_s,
            **{DELTA_KEYS[k]: _clean(values[DELTA_KEYS[k]]) for k in INPUTS},
            "corrections": corrections,
            "blend": _clean(values["blend"]),
            "blend_weight_present": round(float(values["blend_weight_present"]), 6),
            "coverage": {name: round(float(values[f"coverage_{name}"]), 4) for name in ENV_SIGNALS},
        }
        if "metrics_n" in values:
            record["metrics"] = {
                **{s: _clean(values[f"metrics_{s}"]) for s in METRIC_SIGNALS},
                "n": int(values["metrics_n"]),
            }
        records.append(record)
    return RhythmSync(records, steps)


SYNC_COLUMNS = ("step_s", "blend", *DELTA_KEYS.values(), *(f"corr_{b}" for b in METRIC_SIGNALS),
                *(f"metrics_{b}" for b in METRIC_SIGNALS))


def read_sync_records(lines: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """rhythm_sync.jsonl records back to a frame: step_start (UTC), d_*, blend, and per band `corr_<band>` (the
    correction) and `metrics_<band>` (the metrics' step mean); NaN = missing. The records are consumed one at a
    time into float columns (a year of minute steps never sits in memory as dicts)."""
    stamps: list[str] = []
    columns: dict[str, list[float]] = {name: [] for name in SYNC_COLUMNS}
    nan = np.nan
    for r in lines:
        stamps.append(r["ts"])
        corrections, metrics = r.get("corrections") or {}, r.get("metrics") or {}
        values = {"step_s": r.get("step_s", 60.0), "blend": r.get("blend"), **{k: r.get(k) for k in DELTA_KEYS.values()},
                  **{f"corr_{b}": corrections.get(b) for b in METRIC_SIGNALS},
                  **{f"metrics_{b}": metrics.get(b) for b in METRIC_SIGNALS}}
        for name, value in values.items():
            columns[name].append(nan if value is None else float(value))
    if not stamps:
        return pd.DataFrame(columns=["step_start", *SYNC_COLUMNS])
    frame = pd.DataFrame({"step_start": pd.to_datetime(stamps, utc=True, format="ISO8601"),
                          **{name: np.asarray(values, dtype="float64") for name, values in columns.items()}})
    return frame.sort_values("step_start").reset_index(drop=True)


def read_sync_file(path: Path) -> pd.DataFrame:
    """logs/rhythm_sync.jsonl as a frame (empty when the file is missing); a bad line names its number."""
    from lumen_assets.jsonl import iter_jsonl

    def records() -> Iterator[dict[str, Any]]:
        for line in iter_jsonl(path):
            if line.record is None:
                raise ValueError(f"{path}:{line.line_no}: {line.problem}")
            yield line.record

    return read_sync_records(records())


def blend_over(sync: pd.DataFrame, end_ns: int, span_s: float) -> float | None:
    """Mean blend of the steps overlapping [end − span, end] (None when none has a blend)."""
    if not len(sync):
        return None
    starts = sync["step_start"].to_numpy(dtype="datetime64[ns]").view("int64")
    ends = starts + (sync["step_s"].to_numpy() * 1e9).astype("int64")
    inside = (ends > end_ns - int(span_s * 1e9)) & (starts <= end_ns)
    values = sync.loc[inside, "blend"].dropna()
    return float(values.mean()) if len(values) else None


def blend_at(ts: pd.Series, sync: pd.DataFrame, column: str = "blend") -> np.ndarray:
    """The value of `column` for the step holding each timestamp (NaN where no step covers it): aligns the
    1-per-step record to the 5 Hz metrics."""
    if not len(sync) or not len(ts):
        return np.full(len(ts), np.nan)
    starts = sync["step_start"].to_numpy(dtype="datetime64[ns]").view("int64")
    ends = starts + (sync["step_s"].to_numpy() * 1e9).astype("int64")
    values = sync[column].to_numpy(dtype="float64")
    t = pd.Series(ts).to_numpy(dtype="datetime64[ns]").view("int64")
    index = np.searchsorted(starts, t, side="right") - 1
    inside = (index >= 0) & (t < ends[np.clip(index, 0, None)])
    return np.where(inside, values[np.clip(index, 0, None)], np.nan)


def rhythm_gains(sync: pd.DataFrame, min_steps: int = 30) -> dict[str, float | None]:
    """Per band, how much the band's step mean moves per unit of its rhythm correction: the least-squares slope
    of `metrics_<band>` on `corr_<band>` over the steps that have both (None with fewer than `min_steps` such
    steps or a constant correction). The seed never says how large a correction is in band units; this reads
    it from the data, so a band the rhythm does not move gets a slope near 0 and its effects stay as they are."""
    gains: dict[str, float | None] = {}
    for band in METRIC_SIGNALS:
        if f"corr_{band}" not in sync or f"metrics_{band}" not in sync:
            gains[band] = None
            continue
        x = sync[f"corr_{band}"].to_numpy(dtype="float64")
        y = sync[f"metrics_{band}"].to_numpy(dtype="float64")
        both = np.isfinite(x) & np.isfinite(y)
        x, y = x[both], y[both]
        if len(x) < min_steps or np.ptp(x) <= 1e-12:
            gains[band] = None
            continue
        x_centred = x - x.mean()
        gains[band] = float((x_centred * (y - y.mean())).sum() / (x_centred**2).sum())
    return gains


ACROSS_COLUMNS = (
    "event_id", "rule_ts", "rule",
    "rhythm_d_blend", "rhythm_d_light", "rhythm_d_temp", "rhythm_d_sound", "rhythm_d_time",
    *(f"rhythm_corr_{DELTA_COLUMNS[b]}" for b in METRIC_SIGNALS),
    *(f"gain_{DELTA_COLUMNS[b]}" for b in METRIC_SIGNALS),
    *(column for b in METRIC_SIGNALS for column in (DELTA_COLUMNS[b], f"{DELTA_COLUMNS[b]}_without_rhythm")),
)


def rhythm_across_events(
    events: pd.DataFrame, sync: pd.DataFrame, pre_s: float, post_s: float, guard_s: float,
    gains: dict[str, float | None] | None = None,
) -> pd.DataFrame:
    """For each rule event (columns `rule_ts`, `rule`, `event_id` and the effects' `d_*`), how much the rhythm
    moved between the effect's pre window [t0 − pre_s, t0 − guard_s] and post window [t0 + guard_s, t0 + post_s]:
    `rhythm_d_blend`, `rhythm_d_<input>` and, per band, `rhythm_corr_d_<band>` (the change of that band's
    correction). The effect with and without the rhythm: `d_<band>` as measured, and
    `d_<band>_without_rhythm` = d_<band> − gain·rhythm_corr_d_<band>, the part the rhythm explains taken out
    (gain from `rhythm_gains`, or given; NaN where the gain or the rhythm across the windows is unknown)."""
    gains = rhythm_gains(sync) if gains is None else gains
    if not len(events) or not len(sync):
        return pd.DataFrame(columns=list(ACROSS_COLUMNS))
    moved_columns = [("blend", "rhythm_d_blend"), ("d_light", "rhythm_d_light"), ("d_temp", "rhythm_d_temp"),
                     ("d_sound", "rhythm_d_sound"), ("d_time", "rhythm_d_time"),
                     *((f"corr_{b}", f"rhythm_corr_{DELTA_COLUMNS[b]}") for b in METRIC_SIGNALS)]
    rows = []
    for event in events.itertuples(index=False):
        t0 = pd.Timestamp(event.rule_ts)
        pre = pd.Series(pd.date_range(t0 - pd.Timedelta(seconds=pre_s), t0 - pd.Timedelta(seconds=guard_s), freq="1s"))
        post = pd.Series(pd.date_range(t0 + pd.Timedelta(seconds=guard_s), t0 + pd.Timedelta(seconds=post_s), freq="1s"))
        row: dict[str, Any] = {"event_id": event.event_id, "rule_ts": event.rule_ts, "rule": event.rule}
        for column, name in moved_columns:
            if column not in sync:
                row[name] = np.nan
                continue
            before, after = blend_at(pre, sync, column), blend_at(post, sync, column)
            with np.errstate(invalid="ignore"):
                row[name] = float(np.nanmean(after) - np.nanmean(before)) if (
                    np.isfinite(before).any() and np.isfinite(after).any()) else np.nan
        for band in METRIC_SIGNALS:
            short = DELTA_COLUMNS[band]
            measured = float(getattr(event, short, np.nan))
            gain = gains.get(band)
            moved = row[f"rhythm_corr_{short}"]
            row[f"gain_{short}"] = np.nan if gain is None else gain
            row[short] = measured
            row[f"{short}_without_rhythm"] = measured - gain * moved if gain is not None and np.isfinite(moved) else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=list(ACROSS_COLUMNS))


def day_summary(records: list[dict[str, Any]], day: date, tz: ZoneInfo) -> dict[str, Any] | None:
    """The day's rhythm in a few figures (for the quote bank's "today's rhythm message"); None: no data."""
    frame = read_sync_records(records)
    if not len(frame):
        return None
    local_days = frame["step_start"].dt.tz_convert(tz).dt.date
    today = frame[local_days == day]
    if not len(today) or today["blend"].isna().all():
        return None
    peak = today.loc[today["blend"].idxmax()]
    return {
        "day": day.isoformat(),
        "steps": int(len(today)),
        "blend_mean": round(float(today["blend"].mean()), 4),
        "blend_min": round(float(today["blend"].min()), 4),
        "blend_max": round(float(peak["blend"]), 4),
        "peak_at": peak["step_start"].tz_convert(tz).strftime("%H:%M"),
        "sound_mean": None if today["d_sound"].isna().all() else round(float(today["d_sound"].mean()), 4),
        "light_mean": None if today["d_light"].isna().all() else round(float(today["d_light"].mean()), 4),
    }


def rhythm_message(summary: dict[str, Any], language: str = "ko") -> str:
    """The seed's "today's rhythm message" (segC §C1 step 5), from a day summary."""
    mood_en = "calm" if abs(summary["blend_mean"]) < 0.15 else ("lively" if summary["blend_mean"] > 0 else "subdued")
    mood_ko = {"calm": "고요한", "lively": "활기찬", "subdued": "가라앉은"}[mood_en]
    if language == "ko":
        return (
            f"오늘의 리듬({summary['day']}): {mood_ko} 하루 — 리듬 블렌드 평균 {summary['blend_mean']:+.3f}, "
            f"최고 {summary['blend_max']:+.3f} ({summary['peak_at']}), {summary['steps']}개 구간."
        )
    return (
        f"Today's rhythm ({summary['day']}): a {mood_en} day — rhythm blend mean {summary['blend_mean']:+.3f}, "
        f"peak {summary['blend_max']:+.3f} at {summary['peak_at']}, {summary['steps']} steps."
    )
