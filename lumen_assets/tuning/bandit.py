"""Thompson-sampling bandit over a rule's candidate values (seed segB §7.3-7.4), state kept across runs.

Each arm's mean window reward has a normal prior (mu0, sigma0) and a normal likelihood (noise_sigma):
a conjugate update per round. Fixed from the seed: the washout is cut from the start of each round (just
after the switch, where the transient is), not from its end; a window without enough rows gives no
reward (seed: 0.0, a fake observation); arm state persists (seed: restarted from the prior every run).
Reward = 0.5·(−phase) + 0.3·(−risk) + 0.2·creative with the seed weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

HIGHER_IS_BETTER = {"phase_diff": False, "entropy_rate": False, "creative_band": True, "risk_band": False}


@dataclass
class ArmState:
    mu: float
    sigma: float
    n: int = 0
    total: float = 0.0

    def update(self, reward: float, noise_sigma: float) -> None:
        """Seed ArmState.update: one window mean as one observation with variance noise²."""
        v = noise_sigma**2
        post_var = 1.0 / (1.0 / self.sigma**2 + 1.0 / v)
        self.mu = post_var * (self.mu / self.sigma**2 + reward / v)
        self.sigma = math.sqrt(post_var)
        self.n += 1
        self.total += reward


@dataclass
class BanditState:
    rule: str
    arms: dict[str, ArmState]
    rewarded: dict[str, float]  # event_id -> reward already counted (never twice)

    @classmethod
    def fresh(cls, rule: str, arms: list[float], mu0: float, sigma0: float) -> BanditState:
        return cls(rule, {arm_key(a): ArmState(mu0, sigma0) for a in arms}, {})

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "arms": {k: asdict(v) for k, v in self.arms.items()}, "rewarded": self.rewarded}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BanditState:
        return cls(data["rule"], {k: ArmState(**v) for k, v in data["arms"].items()}, dict(data["rewarded"]))


def arm_key(value: float) -> str:
    return f"{value:.6g}"


def window_reward(values: dict[str, np.ndarray], weights: dict[str, float], min_rows: int) -> float | None:
    """Weighted reward of one window's rows (rows with a missing weighted signal are left out)."""
    matrix = np.column_stack([values[s] for s in weights])
    rows = matrix[~np.isnan(matrix).any(axis=1)]
    if len(rows) < min_rows:
        return None
    means = rows.mean(axis=0)
    return float(sum(w * (m if HIGHER_IS_BETTER[s] else -m) for (s, w), m in zip(weights.items(), means, strict=True)))


def choose_arm(state: BanditState, rng: np.random.Generator, draws: int = 4000) -> dict[str, Any]:
    """One Thompson draw picks the next arm; P(best) and the best posterior mean are reported too."""
    keys = list(state.arms)
    sampled = {k: rng.normal(state.arms[k].mu, state.arms[k].sigma) for k in keys}
    chosen = max(keys, key=lambda k: sampled[k])  # ties: first in `arms` order, as the seed
    mus = np.array([state.arms[k].mu for k in keys])
    sigmas = np.array([state.arms[k].sigma for k in keys])
    samples = rng.normal(mus, sigmas, size=(draws, len(keys)))
    p_best = np.bincount(samples.argmax(axis=1), minlength=len(keys)) / draws
    best = keys[int(mus.argmax())]
    return {"chosen": chosen, "best_by_mean": best, "p_best": {k: float(p) for k, p in zip(keys, p_best, strict=True)}}
