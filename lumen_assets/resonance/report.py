"""Assemble `logs/resonance.json`: scores per window and observer channel, with the inputs that made them.

Signal windows end at the newest metrics sample (the data's own clock; staleness is the freshness SLO's
job), run-history windows end at `now`. The SLO window's rounded scores are also written at the top level
in the seed's shape (`{"symmetry", ..., "coherence"}`), so `jq .coherence logs/resonance.json` still works.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from lumen_assets.resonance.mapper import ResonanceInputs, map_resonance
from lumen_assets.resonance.settings import ResonanceSettings
from lumen_assets.resonance.signals import SignalWindow, summarise_window
from lumen_assets.resonance.sli import (
    BurnWindow,
    RunOutcome,
    evaluate_burn,
    logical_outcomes,
    p95,
    window_counts,
)

SCHEMA = "lumen.resonance/v1"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def run_inputs(outcomes: Sequence[RunOutcome], now: datetime, span: timedelta) -> dict[str, Any]:
    """Failure histogram, failure rate and p95 duration of the logical runs that ended in the window."""
    start = now - span
    inside = [r for r in outcomes if start < r.end <= now]
    failures = Counter(r.failure_class or "unknown" for r in inside if not r.success)
    durations = [r.duration_s for r in inside if r.duration_s is not None]
    return {
        "runs": len(inside),
        "failed": sum(failures.values()),
        "failure_hist": dict(sorted(failures.items())),
        "fail_rate": None if not inside else sum(failures.values()) / len(inside),
        "duration_p95_s": p95(durations),
    }


def _signal_summary(window: SignalWindow) -> dict[str, Any]:
    return {
        "start": _iso(window.start),
        "end": _iso(window.end),
        "samples": window.samples,
        "first_ts": _iso(window.first_ts),
        "last_ts": _iso(window.last_ts),
        "coverage": _r(window.coverage, 4),
        "gap_minutes": _r(window.gap_minutes, 3),
        "gap_count": window.gap_count,
        "minute_deltas": {s: len(v) for s, v in window.minute_deltas.items()},
        "means": {s: _r(v) for s, v in window.means.items()},
    }


def build_report(
    settings: ResonanceSettings,
    *,
    metrics: pd.DataFrame | None,
    runs: Sequence[RunOutcome],
    proofs: Mapping[str, bool | None],
    proof_details: Mapping[str, Any] | None = None,
    custody_age_d: float | None,
    now: datetime,
    sample_rate_hz: float,
    gap_factor: float,
) -> dict[str, Any]:
    """The whole resonance document for every configured window and channel."""
    outcomes = logical_outcomes(runs)
    data_end = None
    if metrics is not None and not metrics.empty:
        data_end = metrics["ts"].iloc[-1].to_pydatetime()
    windows: dict[str, Any] = {}
    for window in settings.windows:
        span = timedelta(seconds=window.span_s)
        signal = (
            summarise_window(metrics, data_end, span, sample_rate_hz=sample_rate_hz, gap_factor=gap_factor)
            if data_end is not None
            else None
        )
        run_side = run_inputs(outcomes, now, span)
        inputs = ResonanceInputs(
            series_deltas=signal.minute_deltas if signal is not None else {},
            series_scales={k: v for k, v in signal.means.items() if v is not None} if signal is not None else None,
            gap_minutes=signal.gap_minutes if signal is not None else None,
            failure_hist=run_side["failure_hist"],
            proofs=dict(proofs),
            custody_age_d=custody_age_d,
            duration_p95_s=run_side["duration_p95_s"],
            fail_rate=run_side["fail_rate"],
        )
        scores = map_resonance(
            inputs,
            tau_minutes=settings.tau_minutes,
            custody_max_age_d=settings.custody_max_age_d,
            duration_scale_s=settings.duration_scale_s,
        )
        channels = {
            name: _r(scores.channel_coherence(weights.model_dump()), 6) for name, weights in settings.channels.items()
        }
        windows[window.name] = {
            "span_s": window.span_s,
            "scores": {k: _r(v) for k, v in asdict(scores).items() if k != "unknown"},
            "unknown": list(scores.unknown),
            "channels": channels,
            "inputs": {
                "signals": _signal_summary(signal) if signal is not None else None,
                "runs": run_side,
                "proofs": dict(proofs),
                "custody_age_d": _r(custody_age_d, 3),
            },
        }
    run_success = settings.run_success
    sli_counts = window_counts(outcomes, now, timedelta(seconds=run_success.window_s))
    burn = evaluate_burn(
        outcomes,
        now,
        run_success.target,
        [BurnWindow(b.long_s, b.short_s, b.factor, b.severity) for b in run_success.burn_windows],
    )
    slo_scores = windows[settings.slo_window]["scores"]
    document: dict[str, Any] = {
        # the seed's flat shape, for the SLO window (segD §13.4 output)
        **{k: (None if v is None else round(v, 3)) for k, v in slo_scores.items()},
        "schema": SCHEMA,
        "generated_at": _iso(now),
        "data_end": _iso(data_end),
        "slo_window": settings.slo_window,
        "windows": windows,
        "sli": {
            "run_success": {
                "window_s": run_success.window_s,
                "target": run_success.target,
                "total": sli_counts.total,
                "success": sli_counts.success,
                "ratio": _r(sli_counts.success_ratio),
            },
            "burn": [
                {
                    "long_s": b.window.long_s,
                    "short_s": b.window.short_s,
                    "factor": b.window.factor,
                    "severity": b.window.severity,
                    "long_rate": _r(b.long_rate),
                    "short_rate": _r(b.short_rate),
                    "firing": b.firing,
                }
                for b in burn
            ],
        },
        "proof_checks": dict(proof_details or {}),
    }
    return document
