"""The seed's closed-form update (seed segB §6.4) against its own published test vectors."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumen_assets.posteriors.conjugate import normal_interval, p_improve, update_norm_norm


@pytest.mark.parametrize(
    ("args", "mu", "sd", "p_below", "p_above"),
    [
        ((-0.002, 0.02, -0.01, 0.02, 10), -0.0093, 0.0060, 0.938, 0.062),
        ((-0.010, 0.02, -0.004, 0.02, 4), -0.0052, 0.0089, 0.720, 0.280),
        ((0.006, 0.02, 0.012, 0.02, 1), 0.009, 0.0141, 0.262, 0.738),
    ],
)
def test_seed_vectors(args, mu, sd, p_below, p_above):
    post = update_norm_norm(*args)
    assert round(post.mu, 4) == pytest.approx(mu, abs=1e-4)
    assert round(post.sigma, 4) == pytest.approx(sd, abs=1e-4)
    assert round(p_improve("phase_diff", post.mu, post.sigma), 3) == pytest.approx(p_below, abs=1e-3)
    assert round(p_improve("creative_band", post.mu, post.sigma), 3) == pytest.approx(p_above, abs=1e-3)


def test_no_data_returns_the_prior_not_an_invented_datum():
    post = update_norm_norm(0.004, 0.02, 0.0, 0.02, 0)
    assert (post.mu, post.sigma) == (0.004, 0.02)


@given(
    mu0=st.floats(-0.1, 0.1), s0=st.floats(0.001, 0.1), ybar=st.floats(-0.1, 0.1),
    sn=st.floats(0.001, 0.1), n=st.integers(1, 10_000),
)
def test_posterior_is_between_prior_and_data_and_narrower(mu0, s0, ybar, sn, n):
    post = update_norm_norm(mu0, s0, ybar, sn, n)
    assert min(mu0, ybar) - 1e-12 <= post.mu <= max(mu0, ybar) + 1e-12
    assert 0 < post.sigma <= s0
    assert post.sigma <= sn / math.sqrt(n) + 1e-15


def test_entropy_and_risk_improve_downwards():
    assert p_improve("entropy_rate", -0.01, 0.001) > 0.99
    assert p_improve("risk_band", 0.01, 0.001) < 0.01
    lo, hi = normal_interval(0.0, 1.0, 0.95)
    assert lo == pytest.approx(-1.959964, abs=1e-5) and hi == pytest.approx(1.959964, abs=1e-5)
