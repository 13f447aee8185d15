"""The alert state machine: one firing, one resolved, nothing in between; the rate limiter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lumen_assets.alerts.state import AlertState, CheckOutcome, RateLimiter, replay


def outcome(passed: bool, i: int = 0, severity: str = "WARN", partition: str | None = None, check: str = "c"):
    return CheckOutcome("asset", check, partition, passed, severity, f"run{i}", i, 1000.0 + i)


def test_one_alert_on_start_one_on_resolve_nothing_in_between():
    seq = [outcome(True, 0), outcome(False, 1), outcome(False, 2), outcome(False, 3, "ERROR"), outcome(True, 4), outcome(True, 5)]
    kinds = [(t.kind, t.outcome.storage_id) for t in replay(seq)]
    assert kinds == [("firing", 1), ("resolved", 4)]


def test_resolution_carries_when_it_started():
    transitions = replay([outcome(False, 1), outcome(True, 7)])
    assert transitions[1].since == 1001.0


def test_partitions_and_checks_are_separate_keys():
    seq = [outcome(False, 1, partition="a"), outcome(False, 2, partition="b"), outcome(False, 3, check="d")]
    assert len(replay(seq)) == 3


def test_below_min_severity_is_ignored():
    state = AlertState()
    assert state.observe(outcome(False, 1, "WARN"), min_severity="ERROR") is None
    assert state.observe(outcome(True, 2), min_severity="ERROR") is None
    assert state.observe(outcome(False, 3, "ERROR"), min_severity="ERROR").kind == "firing"


def test_unsent_firing_means_silent_resolution():
    state = AlertState()
    assert state.observe(outcome(False, 1)).kind == "firing"  # not marked sent (rate-limited)
    assert state.observe(outcome(True, 2)) is None


def test_state_roundtrips_through_json():
    state = AlertState()
    state.observe(outcome(False, 1))
    state.mark_sent("asset:c:")
    restored = AlertState.from_json(state.to_json())
    assert restored.observe(outcome(True, 2)).kind == "resolved"


def test_rate_limiter_sliding_window():
    limiter = RateLimiter(max_alerts=2, window_s=60)
    assert limiter.allow(0) and limiter.allow(1)
    assert not limiter.allow(2)
    assert limiter.suppressed == 1
    assert limiter.allow(61)
    restored = RateLimiter.from_json(limiter.to_json(), 2, 60)
    assert restored.allow(61.5)  # 0 and 1 have left the window; 61 is the only one in it
    assert not restored.allow(62) and restored.suppressed == 2


@given(st.lists(st.booleans(), max_size=40))
def test_transitions_alternate_and_match_state_changes(passes):
    transitions = replay([outcome(p, i) for i, p in enumerate(passes)])
    kinds = [t.kind for t in transitions]
    assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False))
    assert not kinds or kinds[0] == "firing"
    expected, failing = 0, False
    for p in passes:
        if failing == p:  # failing and passes, or passing and fails
            expected += 1
            failing = not p
    assert len(kinds) == expected
