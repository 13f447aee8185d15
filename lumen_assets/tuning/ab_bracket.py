"""A/B bracket (seed segB §6.5-6.6): the switching plan and the A-vs-B comparison the seed never made.

Plan: rounds × (A, B) then back to the value before the bracket (seed left B in force). Analysis: for
each switch to A or B, the mean of each signal over [switch + washout, next switch or switch + period];
the difference B − A per signal with a Welch standard error over the per-state means (states, not 5 Hz
samples, are the independent units).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def bracket_plan(a: float, b: float, rounds: int, original: float, period_s: float) -> list[dict[str, Any]]:
    """The switch schedule: offsets in seconds from the start, label and value; last entry restores."""
    plan = []
    for k in range(rounds):
        plan.append({"offset_s": 2 * k * period_s, "label": "A", "value": a})
        plan.append({"offset_s": (2 * k + 1) * period_s, "label": "B", "value": b})
    plan.append({"offset_s": 2 * rounds * period_s, "label": "restore", "value": original})
    return plan


def compare_states(state_means: list[tuple[str, dict[str, float]]], signals: list[str]) -> dict[str, Any]:
    """state_means: (label "A"/"B", signal -> window mean). Returns per-signal B − A, se, n."""
    out: dict[str, Any] = {}
    for signal in signals:
        a = np.array([m[signal] for label, m in state_means if label == "A" and not math.isnan(m.get(signal, math.nan))])
        b = np.array([m[signal] for label, m in state_means if label == "B" and not math.isnan(m.get(signal, math.nan))])
        if len(a) < 2 or len(b) < 2:
            out[signal] = {"n_a": len(a), "n_b": len(b), "diff": None, "se": None}
            continue
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        out[signal] = {"n_a": len(a), "n_b": len(b), "diff": float(b.mean() - a.mean()), "se": se}
    return out
