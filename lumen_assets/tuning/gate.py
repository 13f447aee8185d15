"""The decision gate (seed segB §6.3/§6.7): normalised weighted P(improve) of a proposed change.

The seed summed unweighted P(improve) (range 0..3) and never compared it with its 0.62 threshold. Here
score = Σ w_k·P_k / Σ w_k over the signals with a posterior, compared with `decision_threshold`.
[INTERP, seed §6.3] A rule's posterior is the effect of a change in the rule's configured `direction`;
a step the other way flips the sign (P -> 1 - P, gain -> -gain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HIGHER_IS_BETTER = {"phase_diff": False, "entropy_rate": False, "creative_band": True, "risk_band": False}


@dataclass(frozen=True)
class GateResult:
    p_improve: dict[str, float]
    expected_gain: dict[str, float]  # posterior mean change, signed so that positive is better
    weighted_p_improve: float | None
    weighted_gain: float | None
    passed: bool
    reason: str


def evaluate_gate(
    posterior_rule: dict[str, Any] | None,
    step: float,
    direction: int,
    weights: dict[str, float],
    threshold: float,
) -> GateResult:
    """`posterior_rule`: signal -> {"posterior": {"mu", "sigma"}, "p_improve"} (the bayes_posterior.jsonl shape)."""
    if not posterior_rule:
        return GateResult({}, {}, None, None, False, "no posterior for this rule (no complete events yet)")
    aligned = (step > 0) == (direction > 0)
    p_improve, gain = {}, {}
    for signal in weights:
        cell = posterior_rule.get(signal)
        if not cell:
            continue
        p = float(cell["p_improve"])
        mu = float(cell["posterior"]["mu"])
        better = mu if HIGHER_IS_BETTER[signal] else -mu
        p_improve[signal] = p if aligned else 1.0 - p
        gain[signal] = better if aligned else -better
    used = [s for s in weights if s in p_improve]
    if not used:
        return GateResult({}, {}, None, None, False, "posterior has none of the weighted signals")
    total = sum(weights[s] for s in used)
    score = sum(weights[s] * p_improve[s] for s in used) / total
    weighted_gain = sum(weights[s] * gain[s] for s in used) / total
    passed = score >= threshold
    reason = f"weighted P(improve) {score:.3f} {'>=' if passed else '<'} threshold {threshold}"
    return GateResult(p_improve, gain, score, weighted_gain, passed, reason)
