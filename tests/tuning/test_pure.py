"""Tuning logic: the gate, self-tuning guards, the bandit (seed vectors), A/B, rollback."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from lumen_assets.tuning.ab_bracket import bracket_plan, compare_states
from lumen_assets.tuning.bandit import ArmState, BanditState, choose_arm, window_reward
from lumen_assets.tuning.changes import RollbackError, compensating_event
from lumen_assets.tuning.gate import evaluate_gate
from lumen_assets.tuning.proposals import evaluate, select_changes
from lumen_assets.tuning.self_tuning import LevelWindow, propose_self_tuning
from lumen_assets.tuning.settings import TuningSettings

NOW = datetime(2025, 10, 23, 12, 0, tzinfo=UTC)


@dataclass
class Event:
    event_id: str
    ts: datetime
    actor: str
    rule: str
    old: float | None
    new: float
    note: str = ""
    line_no: int = 1

    @property
    def ts_text(self) -> str:
        return self.ts.isoformat()


def post(**cells):
    """signal -> (mu, p_improve) as the bayes_posterior shape."""
    return {s: {"posterior": {"mu": mu, "sigma": 0.001}, "p_improve": p} for s, (mu, p) in cells.items()}


GOOD_RISK_POSTERIOR = {"risk_max": post(phase_diff=(-0.004, 0.9), risk_band=(-0.01, 0.99), creative_band=(0.001, 0.6))}
OFF_TARGET = LevelWindow({"phase_diff": 0.04, "entropy_rate": 0.2, "creative_band": 0.3, "risk_band": 0.33}, 450)


def test_gate_is_normalised_and_weighted():
    gate = evaluate_gate(GOOD_RISK_POSTERIOR["risk_max"], -0.02, -1, {"phase_diff": 1.2, "risk_band": 1.0,
                                                                      "creative_band": 0.8}, 0.62)
    assert gate.weighted_p_improve == pytest.approx((1.2 * 0.9 + 0.99 + 0.8 * 0.6) / 3.0)
    assert gate.passed
    # a step against the rule's direction flips P(improve) and the gain
    flipped = evaluate_gate(GOOD_RISK_POSTERIOR["risk_max"], +0.02, -1, {"risk_band": 1.0}, 0.62)
    assert flipped.p_improve["risk_band"] == pytest.approx(0.01) and not flipped.passed
    assert flipped.expected_gain["risk_band"] == pytest.approx(-0.01)
    assert not evaluate_gate(None, -0.02, -1, {"risk_band": 1.0}, 0.62).passed


def test_self_tuning_lowers_risk_max_with_old_and_rounding():
    events = [Event("e1", NOW - timedelta(minutes=10), "Lubit", "risk_max", 0.35, 0.33)]
    [p] = propose_self_tuning(TuningSettings(), events, {"d_risk": 0.0, "d_phase": 0.0}, OFF_TARGET,
                              GOOD_RISK_POSTERIOR, {"e1"}, NOW)
    assert (p.rule, p.old, p.new, p.step) == ("risk_max", 0.33, 0.31, -0.02)
    assert p.applicable, p.blocked
    assert "risk_band level 0.3300 misses target max 0.3" in p.reason


def test_missing_delta_is_unknown_not_bad_and_on_target_means_no_change():
    on_target = LevelWindow({"phase_diff": 0.04, "entropy_rate": 0.2, "creative_band": 0.3, "risk_band": 0.2}, 450)
    [p] = propose_self_tuning(TuningSettings(), [], None, on_target, {}, set(), NOW)
    assert p.new is None and "no change" in p.reason


def test_guards_warning_cooldown_observing_bounds_and_samples():
    settings = TuningSettings()
    recent = [Event("t1", NOW - timedelta(seconds=30), "lumen-tuner", "risk_max", 0.22, 0.20)]
    [p] = propose_self_tuning(settings, recent, {"d_phase": 0.04, "d_entropy": 0.05, "d_risk": 0.01},
                              OFF_TARGET, GOOD_RISK_POSTERIOR, set(), NOW)
    text = " | ".join(p.blocked)
    assert "co-rise" in text and "cooldown" in text and "observing" in text and "already at its bound" in text
    assert not p.applicable
    [few] = propose_self_tuning(settings, [], None, LevelWindow(OFF_TARGET.means, 299), {}, set(), NOW)
    assert few.blocked == ["insufficient samples"]


def test_bandit_seed_vectors_and_persisted_state_roundtrip():
    arm = ArmState(0.0, 0.05)
    arm.update(-0.06, 0.05)
    assert (round(arm.mu, 6), round(arm.sigma, 6)) == (-0.03, 0.035355)
    arm.update(-0.05, 0.05)
    assert (round(arm.mu, 6), round(arm.sigma, 6)) == (-0.036667, 0.028868)
    state = BanditState.fresh("risk_max", [0.34, 0.32], 0.0, 0.05)
    state.arms["0.34"].update(-0.06, 0.05)
    assert BanditState.from_json(state.to_json()).arms["0.34"].n == 1
    choice = choose_arm(state, np.random.default_rng(0))
    assert set(choice["p_best"]) == {"0.34", "0.32"} and sum(choice["p_best"].values()) == pytest.approx(1.0)


def test_reward_needs_rows_and_ignores_missing_cells():
    weights = {"phase_diff": 0.5, "risk_band": 0.3, "creative_band": 0.2}
    values = {"phase_diff": np.full(12, 0.4), "risk_band": np.full(12, 0.3), "creative_band": np.full(12, 0.2)}
    assert window_reward(values, weights, 10) == pytest.approx(-0.5 * 0.4 - 0.3 * 0.3 + 0.2 * 0.2)
    values["phase_diff"][:5] = np.nan
    assert window_reward(values, weights, 10) is None  # 7 full rows < 10: no reward, not 0.0


def _metrics(events_effect, minutes=40):
    """5 Hz series where each bandit arm shifts phase by a known amount after its switch."""
    n = minutes * 60 * 5
    t0 = NOW - timedelta(minutes=minutes)
    ts = np.array([int((t0 + timedelta(seconds=i / 5)).timestamp() * 1e9) for i in range(n)], dtype=np.int64)
    phase = np.full(n, 0.4)
    for start, level in events_effect:
        phase[ts >= int(start.timestamp() * 1e9)] = level
    series = {"phase_diff": phase, "entropy_rate": np.full(n, 0.2), "creative_band": np.full(n, 0.25),
              "risk_band": np.full(n, 0.25)}
    return ts, series


def test_bandit_rounds_update_arms_once_and_washout_is_cut_after_the_switch():
    settings = TuningSettings(ab_bracket={"enabled": False})
    t = NOW - timedelta(minutes=30)
    events = [Event("b1", t, "Lumen", "risk_max", 0.35, 0.34, "bandit round 1"),
              Event("b2", t + timedelta(seconds=150), "Lumen", "risk_max", 0.34, 0.30, "bandit round 2")]
    # the transient (first 20 s after each switch) is wild; a washout at the wrong end would see it
    ts, series = _metrics([(t, 0.9), (t + timedelta(seconds=20), 0.40), (events[1].ts, 0.9),
                           (events[1].ts + timedelta(seconds=20), 0.20)])
    first = evaluate(settings, events, pd.DataFrame(), ts, series, {}, None, NOW)
    arms = first.bandit_state.arms
    assert arms["0.34"].n == 1 and arms["0.3"].n == 1 and arms["0.32"].n == 0
    assert arms["0.3"].total == pytest.approx(-0.5 * 0.2 - 0.3 * 0.25 + 0.2 * 0.25)
    again = evaluate(settings, events, pd.DataFrame(), ts, series, {}, first.bandit_state, NOW)
    assert again.bandit_state.arms["0.3"].n == 1  # persisted state: the same round is never counted twice


def test_ab_plan_restores_and_comparison():
    plan = bracket_plan(0.34, 0.30, 2, 0.35, 120)
    assert [p["label"] for p in plan] == ["A", "B", "A", "B", "restore"] and plan[-1]["value"] == 0.35
    result = compare_states([("A", {"risk_band": 0.30}), ("B", {"risk_band": 0.27}), ("A", {"risk_band": 0.31}),
                             ("B", {"risk_band": 0.28})], ["risk_band"])
    assert result["risk_band"]["diff"] == pytest.approx(-0.03)


def test_select_changes_one_at_a_time_and_rechecks_cooldown():
    settings = TuningSettings()
    events = [Event("e1", NOW - timedelta(minutes=10), "Lubit", "risk_max", 0.35, 0.33)]
    [p] = propose_self_tuning(settings, events, {"d_risk": 0.0}, OFF_TARGET, GOOD_RISK_POSTERIOR, {"e1"}, NOW)
    assert select_changes([p, p], settings, events, NOW) == [p]
    just_now = [*events, Event("e2", NOW - timedelta(seconds=5), "Sena", "risk_max", 0.33, 0.32)]
    assert select_changes([p], settings, just_now, NOW) == []


def test_rollback_compensates_and_refuses_what_it_cannot_undo():
    events = [Event("aaa111", NOW - timedelta(minutes=5), "Lubit", "creative_min", 0.22, 0.24),
              Event("bbb222", NOW - timedelta(minutes=4), "Lumen", "risk_max", None, 0.32),
              Event("ccc333", NOW - timedelta(minutes=3), "Sena", "creative_min", 0.24, 0.26)]
    record = compensating_event(events, None, NOW, "lumen-rollback")
    assert (record["rule"], record["old"], record["new"]) == ("creative_min", 0.26, 0.24)
    assert "rollback of event ccc333" in record["note"]
    with pytest.raises(RollbackError, match="no numeric `old`"):
        compensating_event(events, "bbb", NOW, "x")
    with pytest.raises(RollbackError, match="1 later creative_min change"):
        compensating_event(events, "aaa", NOW, "x")
    forced = compensating_event(events, "aaa", NOW, "x", force=True)
    assert (forced["old"], forced["new"]) == (0.26, 0.22)
    with pytest.raises(RollbackError, match="no rule event with id"):
        compensating_event(events, "zzz", NOW, "x")
