"""The resonance mapper: the seed's golden vector and its fixed bugs (segD §13.4, §13.9)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumen_assets.resonance.mapper import (
    ResonanceInputs,
    map_resonance,
    normalized_entropy,
    normalized_variation,
    symmetry_score,
)
from lumen_assets.resonance.settings import ResonanceSettings

ALL_OK = {"signatures": True, "chain": True, "tlog": True}


def seed_sample() -> ResonanceInputs:
    """collect_metrics.py's sample (segD §13.3)."""
    return ResonanceInputs(
        series_deltas=[0.1, 0.12, 0.09, 0.11, 0.1],
        gap_minutes=0,
        failure_hist={"network": 2, "external_api": 1},
        proofs=ALL_OK,
        custody_age_d=27,
        duration_p95_s=0.085,
        fail_rate=0.002,
    )


def test_golden_vector_reproduces_seed_output():
    scores = map_resonance(seed_sample(), duration_scale_s=1.0)
    assert scores.rounded() == {
        "symmetry": 0.915,
        "continuity": 1.0,
        "entropy": 0.918,
        "safety": 0.85,
        "phase": 0.087,
        "coherence": 0.712,
    }
    assert scores.coherence == pytest.approx(0.7117722, abs=1e-6)
    assert scores.unknown == ()


def test_equal_weight_channel_is_the_seed_coherence():
    scores = map_resonance(seed_sample())
    assert scores.channel_coherence({"symmetry": 0.25, "continuity": 0.25, "entropy": 0.25, "safety": 0.25}) == (
        pytest.approx(scores.coherence)
    )


def test_seed_channels_weigh_components_differently():
    scores = map_resonance(seed_sample())
    channels = ResonanceSettings().channels
    lumen = scores.channel_coherence(channels["lumen"].model_dump())
    expected = 0.3 * scores.symmetry + 0.3 * 1.0 + 0.2 * (1 - scores.entropy) + 0.2 * 0.85
    assert lumen == pytest.approx(expected)
    assert len({round(scores.channel_coherence(w.model_dump()), 6) for w in channels.values()}) == 4


def test_one_failure_class_is_zero_entropy_not_zero_division():
    assert normalized_entropy({"network": 5}) == 0.0
    assert map_resonance(ResonanceInputs(series_deltas=[0.1], failure_hist={"network": 3})).entropy == 0.0


def test_uniform_failures_are_full_entropy():
    assert normalized_entropy({"a": 3, "b": 3, "c": 3}) == pytest.approx(1.0)


def test_zero_count_classes_do_not_dilute_entropy():
    assert normalized_entropy({"a": 4, "b": 0}) == 0.0


def test_symmetry_bounded_for_non_positive_mean():
    # seed: max(mu, 1e-9) with mu = 0 gave symmetry = -99,999,999 and ruined coherence
    assert normalized_variation([0.1, -0.1]) > 1
    scores = map_resonance(ResonanceInputs(series_deltas=[0.1, -0.1], gap_minutes=0, proofs=ALL_OK, custody_age_d=0))
    assert scores.symmetry == 0.0
    assert 0.0 <= scores.coherence <= 1.0
    assert scores.coherence == pytest.approx((0 + 1 + 1 + 1) / 4)


def test_components_clamped_before_averaging():
    scores = map_resonance(ResonanceInputs(series_deltas=[0.0, 10.0, 0.0, 0.0], gap_minutes=0, proofs=ALL_OK, custody_age_d=0))
    assert scores.symmetry == 0.0
    assert scores.coherence == pytest.approx(0.75)


def test_custody_decays_to_zero_at_180_days():
    base = dict(series_deltas=[0.1], gap_minutes=0, proofs=ALL_OK)
    assert map_resonance(ResonanceInputs(**base, custody_age_d=90)).safety == pytest.approx(0.5)
    assert map_resonance(ResonanceInputs(**base, custody_age_d=180)).safety == 0.0
    assert map_resonance(ResonanceInputs(**base, custody_age_d=400)).safety == 0.0


def test_missing_custody_is_unknown_not_half_safe():
    scores = map_resonance(ResonanceInputs(series_deltas=[0.1, 0.1], gap_minutes=0, proofs=ALL_OK, custody_age_d=None))
    assert scores.safety is None
    assert "safety" in scores.unknown
    # coherence over the known components only
    assert scores.coherence == pytest.approx((1 + 1 + 1) / 3)


def test_a_failed_proof_is_zero_safety_even_with_unknowns():
    proofs = {"signatures": False, "chain": None, "tlog": None}
    assert map_resonance(ResonanceInputs(series_deltas=[0.1], proofs=proofs, custody_age_d=None)).safety == 0.0


def test_unknown_proof_makes_safety_unknown():
    proofs = {"signatures": True, "chain": None, "tlog": True}
    assert map_resonance(ResonanceInputs(series_deltas=[0.1], proofs=proofs, custody_age_d=1)).safety is None


def test_continuity_tau_120_minutes():
    scores = map_resonance(ResonanceInputs(series_deltas=[0.1], gap_minutes=120))
    assert scores.continuity == pytest.approx(math.exp(-1))


def test_phase_not_clamped_and_uses_duration_scale():
    scores = map_resonance(ResonanceInputs(duration_p95_s=900, fail_rate=0.5), duration_scale_s=600)
    assert scores.phase == pytest.approx(2.0)


def test_symmetry_per_signal_is_the_mean():
    assert symmetry_score({"a": [1.0, 1.0], "b": [0.0, 10.0, 0.0, 0.0]}) == pytest.approx(0.5)
    assert symmetry_score({"a": [], "b": []}) is None


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(
    deltas=st.lists(finite, max_size=30),
    gap=st.floats(min_value=0, max_value=1e5),
    hist=st.dictionaries(st.sampled_from(["network", "build", "unknown", "dependency"]), st.integers(0, 50)),
    age=st.one_of(st.none(), st.floats(min_value=0, max_value=1e4)),
    proofs=st.dictionaries(st.sampled_from(["signatures", "chain", "tlog"]), st.one_of(st.none(), st.booleans())),
)
def test_components_and_coherence_always_in_unit_interval(deltas, gap, hist, age, proofs):
    scores = map_resonance(
        ResonanceInputs(series_deltas=deltas, gap_minutes=gap, failure_hist=hist, proofs=proofs, custody_age_d=age)
    )
    for value in (scores.symmetry, scores.continuity, scores.entropy, scores.safety, scores.coherence):
        assert value is None or 0.0 <= value <= 1.0


def test_signal_deltas_scaled_by_level_noise_is_symmetric_spikes_are_not():
    calm = [0.001, -0.001, 0.0005, -0.0005] * 10
    spiky = calm + [0.2, -0.2]
    assert symmetry_score({"risk_band": calm}, {"risk_band": 0.3}) > 0.99
    assert symmetry_score({"risk_band": spiky}, {"risk_band": 0.3}) < symmetry_score({"risk_band": calm}, {"risk_band": 0.3}) - 0.02
    # without a scale the seed's own-mean denominator (~0 for balanced changes) bottoms out at 0
    assert symmetry_score({"risk_band": calm}) == 0.0
