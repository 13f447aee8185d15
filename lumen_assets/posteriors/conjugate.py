"""The seed's closed-form normal-normal update (seed segB §6.4): cross-check and fast path for the sensor.

Model per (rule, signal): θ ~ N(mu0, s0²), Δ_i ~ N(θ, σn²) with σn fixed (seed: 0.02). The posterior is
N(post_mean, post_var) with post_var = 1/(1/s0² + n/σn²), post_mean = post_var·(mu0/s0² + n·ȳ/σn²).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from lumen_assets.signals import HIGHER_IS_BETTER


@dataclass(frozen=True)
class NormalPosterior:
    mu: float
    sigma: float


def update_norm_norm(mu0: float, s0: float, ybar: float, sn: float, n: int) -> NormalPosterior:
    """Exactly the seed's `update_norm_norm`; n < 1 returns the prior (the seed's max(1, n) invented a datum)."""
    if n < 1:
        return NormalPosterior(mu0, s0)
    v = sn**2 / n
    post_var = 1.0 / (1.0 / s0**2 + 1.0 / v)
    post_mean = post_var * (mu0 / s0**2 + ybar / v)
    return NormalPosterior(post_mean, math.sqrt(post_var))


def p_improve(signal: str, mu: float, sigma: float) -> float:
    """P(θ > 0) for creative_band, P(θ < 0) for the others (seed directions)."""
    below_zero = NormalDist(mu, sigma).cdf(0.0)
    return 1.0 - below_zero if HIGHER_IS_BETTER[signal] else below_zero


def normal_interval(mu: float, sigma: float, prob: float) -> tuple[float, float]:
    """Central interval of N(mu, sigma²) (for a normal the HDI is the central interval)."""
    z = NormalDist().inv_cdf(0.5 + prob / 2)
    return mu - z * sigma, mu + z * sigma
