"""PyMC fits: the seed's fixed-noise model reproduces the conjugate posterior; the pooled model recovers
known effects; thin evidence gives wide, honest posteriors rather than crashes. Small draws, fixed seeds."""

import numpy as np
import pytest

from lumen_assets.posteriors.estimate import agreement, compute_posteriors, conjugate_estimates
from lumen_assets.posteriors.model import fit_fixed_noise, fit_pooled
from lumen_assets.posteriors.observations import observations_from_records
from lumen_assets.posteriors.settings import PosteriorsSettings

FAST = PosteriorsSettings(sampler={"draws": 500, "tune": 500, "cores": 1, "max_attempts": 1})


def synthetic(effects: dict[str, dict[str, float]], events_per_rule: int, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    records = []
    for rule, per_signal in effects.items():
        for e in range(events_per_rule):
            for signal, delta in per_signal.items():
                records.append({"event_id": f"{rule}-{e}", "rule": rule, "signal": signal,
                                "delta": delta + rng.normal(0, noise)})
    return observations_from_records(records)


def test_fixed_noise_pymc_reproduces_the_conjugate_posterior():
    obs = synthetic({"creative_min": {"phase_diff": -0.01, "creative_band": 0.02},
                     "risk_max": {"risk_band": -0.01}}, events_per_rule=6, noise=0.02)
    fit = fit_fixed_noise(obs, FAST)
    rows = agreement(fit.estimates, conjugate_estimates(obs, FAST), FAST)
    assert len(rows) == 3
    for row in rows:
        assert row["mean_sds"] <= 0.1, row
        assert row["sd_rel"] <= 0.1, row
    assert fit.divergences == 0


def test_pooled_model_recovers_rule_effects_with_learned_noise():
    truth = {"a": {"phase_diff": -0.01, "risk_band": 0.004},
             "b": {"phase_diff": 0.006, "risk_band": -0.012},
             "c": {"phase_diff": 0.0, "risk_band": 0.002}}
    obs = synthetic(truth, events_per_rule=12, noise=0.002)
    fit = fit_pooled(obs, FAST)
    for (rule, signal), estimate in fit.estimates.items():
        assert estimate.mu == pytest.approx(truth[rule][signal], abs=0.002)
        assert estimate.hdi[0] <= truth[rule][signal] <= estimate.hdi[1]
    assert fit.diagnostics["noise_sigma"]["phase_diff"] == pytest.approx(0.002, rel=0.5)
    assert fit.estimates[("b", "risk_band")].p_improve > 0.99
    assert fit.estimates[("a", "phase_diff")].p_improve > 0.99


def test_an_outlier_event_does_not_drag_the_robust_estimate():
    obs = synthetic({"a": {"phase_diff": -0.01}, "b": {"phase_diff": 0.01}, "c": {"phase_diff": 0.0}},
                    events_per_rule=10, noise=0.001)
    delta = obs.delta.copy()
    delta[0] = 0.5  # one wild event of rule a
    polluted = observations_from_records([
        {"event_id": e, "rule": r, "signal": s, "delta": d}
        for e, r, s, d in zip(obs.event_id, obs.rule, obs.signal, delta, strict=True)
    ])
    fit = fit_pooled(polluted, FAST)
    assert fit.estimates[("a", "phase_diff")].mu == pytest.approx(-0.01, abs=0.003)


def test_rule_with_one_event_and_signal_never_observed():
    obs = synthetic({"a": {"phase_diff": -0.01, "risk_band": 0.0}, "b": {"phase_diff": 0.01}},
                    events_per_rule=8, noise=0.002)
    one = observations_from_records([
        *({"event_id": e, "rule": r, "signal": s, "delta": d}
          for e, r, s, d in zip(obs.event_id, obs.rule, obs.signal, obs.delta, strict=True)),
        {"event_id": "lonely", "rule": "single", "signal": "phase_diff", "delta": 0.003},
    ])
    fit = fit_pooled(one, FAST, draws=300, tune=300)
    assert ("b", "risk_band") not in fit.estimates  # nothing invented for a signal with no evidence
    single = fit.estimates[("single", "phase_diff")]
    assert single.n == 1
    assert single.sigma > fit.estimates[("a", "phase_diff")].sigma


def test_no_evidence_is_a_clear_error():
    with pytest.raises(ValueError, match="no complete effect rows"):
        fit_pooled(observations_from_records([]), FAST)


def test_compute_posteriors_caches_by_evidence_version(tmp_path):
    obs = synthetic({"a": {"phase_diff": -0.01}}, events_per_rule=5, noise=0.002)
    first = compute_posteriors(obs, FAST, "conjugate", cache_dir=tmp_path)
    assert not first.cache_hit and len(list(tmp_path.iterdir())) == 1
    again = compute_posteriors(obs, FAST, "conjugate", cache_dir=tmp_path)
    assert again.cache_hit and again.estimates == first.estimates
    other = synthetic({"a": {"phase_diff": -0.01}}, events_per_rule=6, noise=0.002)
    assert compute_posteriors(other, FAST, "conjugate", cache_dir=tmp_path).data_version != first.data_version


def test_geometry_centres_rich_cells_and_non_centres_thin_or_null_ones():
    from lumen_assets.posteriors.model import choose_geometry

    rng = np.random.default_rng(0)
    rows = []
    # rules differ by ~2 noise sds: the lone event (se 1) is not pinned against the spread's plausible low end
    for rule, (n, effect) in {"rich": (200, 2.0), "other": (200, -2.0), "thin": (1, 0.0)}.items():
        rows += [(rule, effect + rng.normal()) for _ in range(n)]
    r_idx = np.array([["rich", "other", "thin"].index(r) for r, _ in rows])
    y = np.array([v for _, v in rows])
    geometry = choose_geometry(y, r_idx, np.zeros(len(y), dtype=int), 3, 1, "auto")
    assert geometry.centred[:, 0].tolist() == [True, True, False]
    # every rule's effect ~0 with rich data: the spread is noise, so nothing is centred
    null = rng.normal(size=600)
    geometry = choose_geometry(null, np.repeat([0, 1, 2], 200), np.zeros(600, dtype=int), 3, 1, "auto")
    assert not geometry.centred.any()
    # one rule alone: centred (with μ integrated out there is no funnel), and the choice is deterministic
    alone = choose_geometry(null[:5], np.zeros(5, dtype=int), np.zeros(5, dtype=int), 1, 1, "auto")
    assert alone.centred.tolist() == [[True]]
    assert choose_geometry(y, r_idx, np.zeros(len(y), dtype=int), 3, 1, "auto").label == "mixed (2/3 centred)"


def test_every_attempt_of_the_retry_ladder_is_recorded_and_failure_is_reported():
    obs = synthetic({"a": {"phase_diff": -0.01}, "b": {"phase_diff": 0.01}}, events_per_rule=3, noise=0.002)
    impossible = PosteriorsSettings(sampler={"draws": 30, "tune": 30, "cores": 1}, checks={"ess_min": 1e9})
    fit = fit_pooled(obs, impossible)
    attempts = fit.diagnostics["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert [a["target_accept"] for a in attempts] == [0.9, 0.95, 0.99]
    assert [a["centring_quantile"] for a in attempts] == [0.05, 0.01, 0.01]
    assert [a["draws"] for a in attempts] == [30, 60, 60]
    assert attempts[2]["parameterization"] == "non_centred"
    assert len({a["seed"] for a in attempts}) == 3 and not any(a["converged"] for a in attempts)
    assert fit.converged is False
    again = fit_pooled(obs, impossible)  # deterministic for the same evidence, settings and seed
    assert [e.mu for e in again.estimates.values()] == [e.mu for e in fit.estimates.values()]


@pytest.mark.slow
def test_a_fit_does_not_depend_on_which_workspace_compiled_the_model():
    """nutpie's compiled model is shared by every fit of a size class; the result is the data's and seed's alone."""
    from lumen_assets.posteriors import model

    first = synthetic({"a": {"phase_diff": -0.01}, "b": {"phase_diff": 0.01}}, events_per_rule=4, noise=0.002)
    other = synthetic({"x": {"risk_band": 0.02, "phase_diff": 0.0}}, events_per_rule=9, noise=0.01, seed=3)
    model._COMPILED.clear()
    fit_pooled(other, FAST)  # compiles the size class with another workspace's data
    after_other = fit_pooled(first, FAST)
    model._COMPILED.clear()
    fresh = fit_pooled(first, FAST)  # compiled with its own data
    assert [e.mu for e in after_other.estimates.values()] == [e.mu for e in fresh.estimates.values()]
