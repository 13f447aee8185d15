"""The four signals of the loop (defined here once), their short names in logs/rules_effects.csv and which
direction is an improvement.

Seed segB §0.2/§6.4: phase_diff, risk_band and entropy_rate are better lower (a rise in entropy is an
instability signal); creative_band is better higher. The effects table names the deltas d_phase, d_entropy,
d_creative, d_risk.
"""

from __future__ import annotations

SIGNALS: tuple[str, ...] = ("phase_diff", "entropy_rate", "creative_band", "risk_band")

DELTA_COLUMNS: dict[str, str] = {
    "phase_diff": "d_phase",
    "entropy_rate": "d_entropy",
    "creative_band": "d_creative",
    "risk_band": "d_risk",
}

HIGHER_IS_BETTER: dict[str, bool] = {
    "phase_diff": False,
    "entropy_rate": False,
    "creative_band": True,
    "risk_band": False,
}


def improvement_sign(signal: str) -> float:
    """+1 where a rise is an improvement, -1 where a fall is (so `sign * effect > 0` means better)."""
    return 1.0 if HIGHER_IS_BETTER[signal] else -1.0
