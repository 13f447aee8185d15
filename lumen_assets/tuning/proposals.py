"""All tuning proposals of one evaluation: self-tuning, bandit next arm, A/B bracket verdict or plan.

Plain data in, plain data out: the events (ingest RuleEvent-like objects), the effects table, the metrics
as sorted ns timestamps + signal arrays, the latest posterior record (seed bayes_posterior shape) and the
persisted bandit state. Nothing here writes files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from lumen_assets.signals import SIGNALS
from lumen_assets.tuning.ab_bracket import bracket_plan, compare_states
from lumen_assets.tuning.bandit import BanditState, arm_key, choose_arm, window_reward
from lumen_assets.tuning.gate import evaluate_gate
from lumen_assets.tuning.self_tuning import LevelWindow, Proposal, current_value, propose_self_tuning
from lumen_assets.tuning.settings import TuningSettings

SECOND = 1_000_000_000


@dataclass
class Evaluation:
    proposals: list[Proposal]
    bandit_state: BanditState | None
    notes: list[str]


def level_window(ts_ns: np.ndarray, series: dict[str, np.ndarray], window_s: float) -> LevelWindow | None:
    if len(ts_ns) == 0:
        return None
    start = np.searchsorted(ts_ns, ts_ns[-1] - int(window_s * SECOND), "left")
    block = np.column_stack([series[s][start:] for s in SIGNALS])
    full = block[~np.isnan(block).any(axis=1)]
    means = {s: float(np.nanmean(block[:, j])) if np.any(~np.isnan(block[:, j])) else float("nan")
             for j, s in enumerate(SIGNALS)}
    return LevelWindow(means, len(full))


def _window(ts_ns: np.ndarray, series: dict[str, np.ndarray], lo_ns: int, hi_ns: int) -> dict[str, np.ndarray]:
    lo, hi = np.searchsorted(ts_ns, lo_ns, "left"), np.searchsorted(ts_ns, hi_ns, "right")
    return {s: series[s][lo:hi] for s in series}


def _switches(events: list[Any], rule: str, values: set[str]) -> list[tuple[Any, int]]:
    """Events of `rule` setting one of `values`, with the ns time the state ended (next change of the rule)."""
    mine = sorted((e for e in events if e.rule == rule), key=lambda e: e.ts)
    out = []
    for i, event in enumerate(mine):
        if arm_key(event.new) in values:
            end = int(mine[i + 1].ts.timestamp() * SECOND) if i + 1 < len(mine) else None
            out.append((event, end))
    return out


def update_bandit(state: BanditState, events: list[Any], ts_ns: np.ndarray, series: dict[str, np.ndarray],
                  settings: TuningSettings) -> list[str]:
    """Fold every finished round not yet counted into the arm posteriors (idempotent by event id)."""
    cfg = settings.bandit
    notes = []
    last_ns = int(ts_ns[-1]) if len(ts_ns) else 0
    for event, end_ns in _switches(events, cfg.rule, set(state.arms)):
        if event.event_id in state.rewarded:
            continue
        t0 = int(event.ts.timestamp() * SECOND)
        round_end = t0 + int(cfg.period_s * SECOND)
        hi = min(round_end, end_ns) if end_ns is not None else round_end
        if end_ns is None and round_end > last_ns:
            continue  # round still running
        reward = window_reward(_window(ts_ns, series, t0 + int(cfg.washout_s * SECOND), hi), cfg.weights, cfg.min_rows)
        if reward is None:
            notes.append(f"bandit: event {event.event_id[:12]} has < {cfg.min_rows} rows after washout: no reward")
            state.rewarded[event.event_id] = float("nan")
            continue
        state.arms[arm_key(event.new)].update(reward, cfg.noise_sigma)
        state.rewarded[event.event_id] = reward
    return notes


def evaluate(
    settings: TuningSettings,
    events: list[Any],
    effects: pd.DataFrame,
    ts_ns: np.ndarray,
    series: dict[str, np.ndarray],
    posteriors: dict[str, Any],
    bandit_state: BanditState | None,
    now: datetime,
    rhythm_blend: float | None = None,
) -> Evaluation:
    notes: list[str] = []
    complete = effects[effects["status"] == "complete"] if len(effects) else effects
    complete_ids = set(complete["event_id"]) if len(complete) else set()
    latest = None
    if len(complete):
        latest = complete.sort_values("rule_ts").iloc[-1].to_dict() if "rule_ts" in complete else complete.iloc[-1].to_dict()
    proposals = propose_self_tuning(settings, events, latest, level_window(ts_ns, series, settings.observe_window_s),
                                    posteriors, complete_ids, now, rhythm_blend)

    if settings.bandit.enabled:
        cfg = settings.bandit
        if bandit_state is None or bandit_state.rule != cfg.rule or set(bandit_state.arms) != {arm_key(a) for a in cfg.arms}:
            bandit_state = BanditState.fresh(cfg.rule, cfg.arms, cfg.mu0, cfg.sigma0)
            notes.append("bandit: arm state started from the prior")
        notes += update_bandit(bandit_state, events, ts_ns, series, settings)
        rounds_done = sum(a.n for a in bandit_state.arms.values())
        rng = np.random.default_rng([cfg.random_seed, rounds_done])
        choice = choose_arm(bandit_state, rng)
        bounds = settings.rules.get(cfg.rule)
        old, _ = current_value(events, cfg.rule, bounds.init if bounds else float(cfg.arms[0]))
        new = float(choice["chosen"])
        step = round(new - old, 6)
        gate = evaluate_gate(posteriors.get(cfg.rule), step if step else 1.0, bounds.direction if bounds else 1,
                             settings.objective_weights, settings.decision_threshold)
        proposal = Proposal(
            "bandit", cfg.rule, old, new, step,
            f"Thompson draw picks arm {choice['chosen']} (round {rounds_done + 1}); best by mean "
            f"{choice['best_by_mean']} with P(best) {choice['p_best'][choice['best_by_mean']]:.2f}",
            gate.p_improve, gate.expected_gain, gate.weighted_p_improve, gate.weighted_gain, gate.passed,
            extra={"arms": {k: {"mu": a.mu, "sigma": a.sigma, "n": a.n} for k, a in bandit_state.arms.items()},
                   "p_best": choice["p_best"], "gate": gate.reason},
        )
        if step == 0:
            proposal.blocked.append("chosen arm is the current value")
        if rounds_done >= cfg.rounds:
            proposal.blocked.append(f"all {cfg.rounds} rounds done: adopt best arm {choice['best_by_mean']}")
        if not gate.passed:
            proposal.blocked.append(gate.reason)
        proposals.append(proposal)

    if settings.ab_bracket.enabled:
        cfg = settings.ab_bracket
        labels = {arm_key(cfg.a): "A", arm_key(cfg.b): "B"}
        states = []
        for event, end_ns in _switches(events, cfg.rule, set(labels)):
            if cfg.note not in (event.note or ""):
                continue
            t0 = int(event.ts.timestamp() * SECOND)
            hi = min(t0 + int(cfg.period_s * SECOND), end_ns or t0 + int(cfg.period_s * SECOND))
            window = _window(ts_ns, series, t0 + int(cfg.washout_s * SECOND), hi)
            states.append((labels[arm_key(event.new)],
                           {s: float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan") for s, v in window.items()}))
        bounds = settings.rules.get(cfg.rule)
        old, _ = current_value(events, cfg.rule, bounds.init if bounds else cfg.a)
        if states:
            comparison = compare_states(states, list(SIGNALS))
            weights = settings.objective_weights
            scored = [(s, c) for s, c in comparison.items() if c["diff"] is not None and s in weights]
            score = sum(weights[s] * (c["diff"] if s == "creative_band" else -c["diff"]) for s, c in scored)
            better = cfg.b if score > 0 else cfg.a
            proposal = Proposal("ab_bracket", cfg.rule, old, better, round(better - old, 6),
                                f"A/B bracket over {len(states)} states: B − A weighted gain {score:+.4f} -> keep "
                                f"{'B' if score > 0 else 'A'} ({better})", extra={"comparison": comparison})
            if not scored:
                proposal.blocked.append("fewer than 2 states of A or of B with data")
        else:
            plan = bracket_plan(cfg.a, cfg.b, cfg.rounds, old, cfg.period_s)
            proposal = Proposal("ab_bracket", cfg.rule, old, cfg.a, round(cfg.a - old, 6),
                                f"no bracket run yet: plan of {len(plan)} switches ({cfg.rounds} rounds, restore "
                                f"to {old} at the end)", extra={"plan": plan})
        gate = evaluate_gate(posteriors.get(cfg.rule), proposal.step or 1.0, bounds.direction if bounds else 1,
                             settings.objective_weights, settings.decision_threshold)
        proposal.p_improve, proposal.expected_gain = gate.p_improve, gate.expected_gain
        proposal.weighted_p_improve, proposal.weighted_gain, proposal.gate_passed = (
            gate.weighted_p_improve, gate.weighted_gain, gate.passed)
        if proposal.step == 0:
            proposal.blocked.append("already at that value")
        if not gate.passed:
            proposal.blocked.append(gate.reason)
        proposals.append(proposal)
    return Evaluation(proposals, bandit_state, notes)


def select_changes(proposals: list[Proposal], settings: TuningSettings, events: list[Any], now: datetime) -> list[Proposal]:
    """The changes to apply now: applicable proposals, one per rule, at most max_concurrent_changes, and
    none for a rule inside its cooldown (re-checked against the history as it is at apply time)."""
    chosen: list[Proposal] = []
    for proposal in proposals:
        if not proposal.applicable or any(p.rule == proposal.rule for p in chosen):
            continue
        recent = [e for e in events if e.rule == proposal.rule and (now - e.ts).total_seconds() < settings.cooldown_s]
        if recent:
            continue
        chosen.append(proposal)
        if len(chosen) >= settings.max_concurrent_changes:
            break
    return chosen
