"""Window effects of rule events: pre/post means and deltas for the four signals (seed segA C17/C21).

pre window  = [t0 - pre_s, t0 - guard_s], post window = [t0 + guard_s, t0 + post_s], both inclusive.
Delta = post mean - pre mean, after the seed's optional IQR filter then EMA (both on by default), with the
raw (unfiltered) delta kept alongside. Fixed from the seed: a blank cell is missing, not 0.0; an event whose
post window is not yet covered is `pending` (recomputed later) instead of frozen with partial data; a window
with fewer than `min_samples` present samples is `insufficient` (the seed recommended 50, never enforced).

Windows are located with binary search on the sorted timestamps and all events are filtered together on
NaN-padded (events x samples) arrays, so the cost is O(events x window + rows), not the seed's
O(events x rows) scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lumen_assets.effects.filters import ema_filter, iqr_filter
from lumen_assets.signals import SIGNALS

SHORT = {"phase_diff": "phase", "entropy_rate": "entropy", "creative_band": "creative", "risk_band": "risk"}
CHUNK_EVENTS = 4096


@dataclass(frozen=True)
class WindowSpec:
    pre_s: float = 30.0
    post_s: float = 30.0
    guard_s: float = 1.0
    use_iqr: bool = True
    iqr_k: float = 1.5
    use_ema: bool = True
    ema_alpha: float = 0.2
    min_samples: int = 50


def _mean_standard_error(filtered: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Standard error of each row's mean, allowing for serial correlation: the sample variance over an
    effective sample size n (1 - rho) / (1 + rho), rho the lag-1 autocorrelation (AR(1); clipped to
    [0, 0.95]). The EMA smooths the series and raises rho, so the error stays near the raw samples' one."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(filtered, axis=1) / kept
        deviation = filtered - mean[:, None]
        variance = np.nansum(deviation**2, axis=1) / (kept - 1)
        products = deviation[:, 1:] * deviation[:, :-1]
        pairs = np.sum(~np.isnan(products), axis=1)
        rho = np.where(variance > 0, np.nansum(products, axis=1) / pairs / variance, 0.0)
        rho = np.clip(np.nan_to_num(rho, nan=0.0), 0.0, 0.95)
        effective = np.maximum(kept * (1 - rho) / (1 + rho), 1.0)
        return np.where(kept > 1, np.sqrt(variance / effective), np.nan)


def _window_means(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, spec: WindowSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(filtered mean, raw mean, present count, standard error of the filtered mean) per event for one
    signal and one window side."""
    lengths = hi - lo
    width = int(lengths.max()) if len(lengths) else 0
    events = len(lo)
    if width == 0:
        nan = np.full(events, np.nan)
        return nan, nan.copy(), np.zeros(events, dtype=np.int64), nan.copy()
    offsets = np.arange(width)
    index = lo[:, None] + offsets[None, :]
    inside = offsets[None, :] < lengths[:, None]
    windows = np.where(inside, values[np.minimum(index, len(values) - 1)], np.nan)
    present = np.sum(~np.isnan(windows), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw_mean = np.nansum(windows, axis=1) / present
    filtered = windows
    if spec.use_iqr:
        filtered = iqr_filter(filtered, spec.iqr_k)
    if spec.use_ema:
        filtered = ema_filter(filtered, lengths, spec.ema_alpha)
    kept = np.sum(~np.isnan(filtered), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        filtered_mean = np.nansum(filtered, axis=1) / kept
    raw_mean = np.where(present > 0, raw_mean, np.nan)
    filtered_mean = np.where(kept > 0, filtered_mean, np.nan)
    return filtered_mean, raw_mean, present, _mean_standard_error(filtered, kept)


def compute_window_effects(
    ts_ns: np.ndarray,
    values: dict[str, np.ndarray],
    event_ts_ns: np.ndarray,
    spec: WindowSpec,
    coverage_end_ns: int,
) -> pd.DataFrame:
    """Effects for each event (rows in event order): pre_*, post_*, d_*, raw_d_*, n_pre, n_post, status.

    `ts_ns` must be sorted; `values[signal]` aligned with it (NaN = missing). `coverage_end_ns` is the
    instant up to which the record is complete (min of now and the newest sample): an event whose post
    window ends after it is pending. `se_d_*` is the standard error of each Δ (see _mean_standard_error).
    """
    event_ts_ns = np.asarray(event_ts_ns, dtype=np.int64)
    seconds = 1_000_000_000
    pre_lo = np.searchsorted(ts_ns, event_ts_ns - int(spec.pre_s * seconds), side="left")
    pre_hi = np.searchsorted(ts_ns, event_ts_ns - int(spec.guard_s * seconds), side="right")
    post_lo = np.searchsorted(ts_ns, event_ts_ns + int(spec.guard_s * seconds), side="left")
    post_hi = np.searchsorted(ts_ns, event_ts_ns + int(spec.post_s * seconds), side="right")
    columns: dict[str, np.ndarray] = {}
    n_pre = np.full(len(event_ts_ns), np.iinfo(np.int64).max)
    n_post = n_pre.copy()
    for signal in SIGNALS:
        short = SHORT[signal]
        parts: dict[str, list[np.ndarray]] = {
            "pre": [], "post": [], "raw_pre": [], "raw_post": [], "n_pre": [], "n_post": [], "se_pre": [], "se_post": []
        }
        for start in range(0, len(event_ts_ns), CHUNK_EVENTS):
            chunk = slice(start, start + CHUNK_EVENTS)
            pre, raw_pre, count_pre, se_pre = _window_means(values[signal], pre_lo[chunk], pre_hi[chunk], spec)
            post, raw_post, count_post, se_post = _window_means(values[signal], post_lo[chunk], post_hi[chunk], spec)
            for key, part in (("pre", pre), ("post", post), ("raw_pre", raw_pre), ("raw_post", raw_post),
                              ("n_pre", count_pre), ("n_post", count_post), ("se_pre", se_pre), ("se_post", se_post)):
                parts[key].append(part)
        joined = {key: np.concatenate(chunks) if chunks else np.array([]) for key, chunks in parts.items()}
        columns[f"pre_{short}"] = joined["pre"]
        columns[f"post_{short}"] = joined["post"]
        columns[f"d_{short}"] = joined["post"] - joined["pre"]
        columns[f"raw_d_{short}"] = joined["raw_post"] - joined["raw_pre"]
        columns[f"se_d_{short}"] = np.sqrt(joined["se_pre"] ** 2 + joined["se_post"] ** 2)
        n_pre = np.minimum(n_pre, joined["n_pre"].astype(np.int64))
        n_post = np.minimum(n_post, joined["n_post"].astype(np.int64))
    frame = pd.DataFrame(columns)
    frame["n_pre"] = n_pre if len(event_ts_ns) else np.array([], dtype=np.int64)
    frame["n_post"] = n_post if len(event_ts_ns) else np.array([], dtype=np.int64)
    pending = event_ts_ns + int(spec.post_s * seconds) > coverage_end_ns
    insufficient = (frame["n_pre"].to_numpy() < spec.min_samples) | (frame["n_post"].to_numpy() < spec.min_samples)
    frame["status"] = np.where(pending, "pending", np.where(insufficient, "insufficient", "complete"))
    delta_columns = [c for c in frame.columns if c.startswith(("d_", "raw_d_", "se_d_", "post_"))]
    frame.loc[pending, delta_columns] = np.nan  # never freeze a partial post window (seed bug)
    return frame


def effects_for_events(
    metrics: pd.DataFrame,
    events: Sequence[object],
    spec: WindowSpec,
    now_ns: int,
    with_standard_errors: bool = False,
    coverage_ns: int | None = None,
) -> pd.DataFrame:
    """Effects table rows for RuleEvents (seed columns first), given the cleaned metrics frame (or the part
    of it around the events; then `coverage_ns`, the newest stored sample, says how far the data reaches);
    with `with_standard_errors`, also `se_d_*` (the standard error of each Δ, not stored in the CSV)."""
    ts_ns = metrics["ts"].to_numpy(dtype="datetime64[ns]").view("int64") if len(metrics) else np.array([], dtype=np.int64)
    values = {signal: metrics[signal].to_numpy(dtype="float64") for signal in SIGNALS}
    event_ts_ns = np.array([pd.Timestamp(e.ts).value for e in events], dtype=np.int64)  # type: ignore[attr-defined]
    newest = coverage_ns if coverage_ns is not None else (int(ts_ns[-1]) if len(ts_ns) else None)
    coverage_end = min(now_ns, newest) if newest is not None else -(2**62)
    effects = compute_window_effects(ts_ns, values, event_ts_ns, spec, coverage_end)
    head = pd.DataFrame(
        {
            "rule_ts": [e.ts_text for e in events],  # type: ignore[attr-defined]
            "actor": [e.actor for e in events],  # type: ignore[attr-defined]
            "rule": [e.rule for e in events],  # type: ignore[attr-defined]
            "old": [e.old for e in events],  # type: ignore[attr-defined]
            "new": [e.new for e in events],  # type: ignore[attr-defined]
            "pre_s": spec.pre_s,
            "post_s": spec.post_s,
        }
    )
    table = pd.concat([head, effects], axis=1)
    table["event_id"] = [e.event_id for e in events]  # type: ignore[attr-defined]
    return table[list(EFFECT_COLUMNS) + (list(SE_COLUMNS) if with_standard_errors else [])]


EFFECT_COLUMNS = (
    "rule_ts", "actor", "rule", "old", "new", "pre_s", "post_s",
    "d_phase", "d_entropy", "d_creative", "d_risk",
    "pre_phase", "pre_entropy", "pre_creative", "pre_risk",
    "post_phase", "post_entropy", "post_creative", "post_risk",
    "raw_d_phase", "raw_d_entropy", "raw_d_creative", "raw_d_risk",
    "n_pre", "n_post", "status", "event_id",
)
SE_COLUMNS = ("se_d_phase", "se_d_entropy", "se_d_creative", "se_d_risk")
