"""The self-tuning proposal (seed segB §5.4 `decide`, §5.5 guards), with the seed's bugs fixed:

- it looks at signal levels against `targets` over the last `observe_window_s` (seed: never), needing
  `min_samples` rows there (seed: never enforced);
- the Δ it reads is the newest *complete* effect, and a missing Δ is unknown, not "not good";
- the warning gate works: d_phase >= phase_bad and d_entropy >= 0.03 holds every change (seed: dead code);
- per-rule cooldown, one change at a time, and a rule whose last tuner change is still being observed
  (its effect not complete yet) is left alone (seed: stepped every 120 s on stale data);
- values are clamped to bounds and rounded (seed: 0.32999999999999996) and every proposal carries `old`.
Priority as in the seed: risk first (lower risk_max), then phase (raise creative_min), then creative
(raise creative_min by half a step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lumen_assets.tuning.gate import evaluate_gate
from lumen_assets.tuning.settings import TuningSettings


@dataclass(frozen=True)
class LevelWindow:
    """Mean signal levels over the observation window and how many rows had all values."""

    means: dict[str, float]
    samples: int


@dataclass
class Proposal:
    kind: str
    rule: str
    old: float | None
    new: float | None
    step: float
    reason: str
    p_improve: dict[str, float] = field(default_factory=dict)
    expected_gain: dict[str, float] = field(default_factory=dict)
    weighted_p_improve: float | None = None
    weighted_gain: float | None = None
    gate_passed: bool = False
    blocked: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def applicable(self) -> bool:
        return not self.blocked and self.gate_passed and self.new is not None and self.old is not None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        out.update(self.extra)
        out["applicable"] = self.applicable
        return out


def current_value(events: list[Any], rule: str, init: float) -> tuple[float, Any | None]:
    """The rule's value now: `new` of its newest event (seed current_value), else `init`."""
    mine = [e for e in events if e.rule == rule]
    if not mine:
        return init, None
    last = max(mine, key=lambda e: e.ts)
    return float(last.new), last


def _misses(level: float | None, target: Any) -> bool:
    if level is None or math.isnan(level):
        return False
    return (target.max is not None and level > target.max) or (target.min is not None and level < target.min)


def rhythm_targets(settings: TuningSettings, rhythm_blend: float | None) -> dict[str, Any]:
    """The targets, with phase_diff's max scaled by (1 + rhythm_weight·blend) (blend clipped to [-1, 1])."""
    targets = dict(settings.targets)
    phase = targets.get("phase_diff")
    weight = settings.rhythm_weight
    if not weight or rhythm_blend is None or math.isnan(rhythm_blend) or phase is None or phase.max is None:
        return targets
    factor = 1.0 + weight * max(-1.0, min(1.0, rhythm_blend))
    targets["phase_diff"] = phase.model_copy(update={"max": round(phase.max * factor, 6)})
    return targets


def _rhythm_note(settings: TuningSettings, rhythm_blend: float, targets: dict[str, Any]) -> dict[str, Any]:
    """What a proposal records of the rhythm: the blend read, its weight, the phase_diff target it gave."""
    phase = targets.get("phase_diff")
    return {"blend": rhythm_blend, "weight": settings.rhythm_weight, "phase_diff_target": phase.max if phase else None}


def propose_self_tuning(
    settings: TuningSettings,
    events: list[Any],
    latest_effect: dict[str, Any] | None,
    levels: LevelWindow | None,
    posteriors: dict[str, Any],
    complete_event_ids: set[str],
    now: datetime,
    rhythm_blend: float | None = None,
) -> list[Proposal]:
    """At most one self-tuning proposal per rule considered; guards recorded as `blocked` reasons.

    `rhythm_blend` (the synchronizer's mean blend over the observation window) moves the phase_diff target
    by `rhythm_weight` as the seed intended (segC §C1); with the default weight 0 it changes nothing."""
    if levels is None or levels.samples < settings.min_samples:
        got = 0 if levels is None else levels.samples
        return [Proposal("self_tuning", "-", None, None, 0.0,
                         f"hold: {got} samples in the last {settings.observe_window_s:g} s < min_samples "
                         f"{settings.min_samples}", blocked=["insufficient samples"])]
    deltas = {k: latest_effect.get(k) for k in ("d_phase", "d_entropy", "d_creative", "d_risk")} if latest_effect else {}
    deltas = {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)) for k, v in deltas.items()}
    safety = settings.safety
    good = {
        "risk_band": deltas.get("d_risk") is not None and deltas["d_risk"] <= safety.good_risk_max,
        "phase_diff": deltas.get("d_phase") is not None and deltas["d_phase"] <= safety.good_phase_max,
        "creative_band": deltas.get("d_creative") is not None and deltas["d_creative"] >= safety.good_creative_min,
    }
    warn = (deltas.get("d_phase") is not None and deltas.get("d_entropy") is not None
            and deltas["d_phase"] >= safety.warn_phase_min and deltas["d_entropy"] >= safety.warn_entropy_min)
    targets = rhythm_targets(settings, rhythm_blend)
    chain = [("risk_band", "risk_max", -1.0), ("phase_diff", "creative_min", 1.0), ("creative_band", "creative_min", 0.5)]
    chosen = None
    for signal, rule, step_factor in chain:
        target = targets.get(signal)
        if target is None or rule not in settings.rules:
            continue
        if _misses(levels.means.get(signal), target) and not good[signal]:
            chosen = (signal, rule, step_factor)
            break
    if chosen is None:
        unchanged = Proposal("self_tuning", "-", None, None, 0.0,
                             "no change: every targeted signal is on target or already improving")
        if settings.rhythm_weight and rhythm_blend is not None:  # say which phase target "on target" was read against
            unchanged.extra["rhythm"] = _rhythm_note(settings, rhythm_blend, targets)
        return [unchanged]
    signal, rule, step_factor = chosen
    bounds = settings.rules[rule]
    old, last_event = current_value(events, rule, bounds.init)
    new = round(min(max(old + step_factor * bounds.lr, bounds.min), bounds.max), 4)
    step = round(new - old, 4)
    target = targets[signal]
    bound_text = f"max {target.max}" if target.max is not None else f"min {target.min}"
    reason = (f"{signal} level {levels.means[signal]:.4f} misses target {bound_text} and the last Δ is not good: "
              f"{'lower' if step_factor < 0 else 'raise'} {rule}")
    gate = evaluate_gate(posteriors.get(rule), step if step else step_factor, bounds.direction,
                         settings.objective_weights, settings.decision_threshold)
    proposal = Proposal("self_tuning", rule, old, new, step, reason, gate.p_improve, gate.expected_gain,
                        gate.weighted_p_improve, gate.weighted_gain, gate.passed,
                        extra={"gate": gate.reason, "deltas": deltas, "levels": levels.means})
    if settings.rhythm_weight and rhythm_blend is not None:
        proposal.extra["rhythm"] = _rhythm_note(settings, rhythm_blend, targets)
    if warn:
        proposal.blocked.append(f"warning: d_phase {deltas['d_phase']} and d_entropy {deltas['d_entropy']} co-rise")
    if step == 0:
        proposal.blocked.append(f"{rule} already at its bound {old}")
    if last_event is not None:
        age_s = (now - last_event.ts).total_seconds()
        if age_s < settings.cooldown_s:
            proposal.blocked.append(f"cooldown: last {rule} change {age_s:.0f} s ago < {settings.cooldown_s:g} s")
        if last_event.actor == settings.actor and last_event.event_id not in complete_event_ids:
            proposal.blocked.append(f"observing: the tuner's last {rule} change has no complete effect yet")
    if not gate.passed:
        proposal.blocked.append(gate.reason)
    return [proposal]
