"""Config section `posteriors` of config/lumen.yaml (seed segB §6.3 bayes_priors.yaml, §7.5 impact.yaml).

The seed's bayes_priors.yaml did not parse (`creative_band:{` with no space); the values are kept, the
syntax fixed. Its fixed noise_sigma stays for the closed-form cross-check; the PyMC model learns the noise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from lumen_assets.section import Section
from lumen_assets.signals import SIGNALS


class PriorSpec(Section):
    """A normal prior N(mu, sigma^2) on one rule's effect (Δ = post - pre) on one signal."""

    mu: float
    sigma: float = Field(gt=0)


def _seed_priors() -> dict[str, dict[str, PriorSpec]]:
    return {
        "creative_min": {
            "phase_diff": PriorSpec(mu=-0.002, sigma=0.02),
            "risk_band": PriorSpec(mu=0.002, sigma=0.02),
            "creative_band": PriorSpec(mu=0.006, sigma=0.02),
        },
        "risk_max": {
            "phase_diff": PriorSpec(mu=0.004, sigma=0.02),
            "risk_band": PriorSpec(mu=-0.010, sigma=0.02),
            "creative_band": PriorSpec(mu=-0.002, sigma=0.02),
        },
    }


class PopulationPrior(Section):
    """What rules share: the population mean effect per signal, the spread between rules, the noise scale."""

    mu: float = 0.0
    sigma: float = Field(0.02, gt=0, description="sd of the population mean effect (seed prior sigma)")
    tau_sigma: float = Field(0.02, gt=0, description="half-normal scale of the between-rule spread")
    noise_sigma: float = Field(0.02, gt=0, description="half-normal scale of the learned observation noise")


class SamplerSettings(Section):
    """NUTS settings for the pooled model (2 chains x 1,500 draws: ESS >= 400 with margin, and r-hat of the scale hyperparameters settles under 1.01; 1,000 left it at 1.0102). nutpie by default: Rust NUTS on the numba-compiled PyMC model, compiled once per process and size class."""

    draws: int = Field(1500, ge=10)
    tune: int = Field(1000, ge=10)
    chains: int = Field(2, ge=1)
    cores: int = Field(2, ge=1)
    target_accept: float = Field(0.9, gt=0.5, lt=1)
    random_seed: int = 20251023
    nuts_sampler: Literal["pymc", "nutpie"] = "nutpie"
    parameterization: Literal["auto", "centred", "non_centred"] = "auto"
    max_attempts: int = Field(3, ge=1, le=3, description="retry ladder: auto, cautious auto at 0.95, non-centred at 0.99")


class CheckSettings(Section):
    """Thresholds of the posterior checks (issue 3 §1)."""

    r_hat_max: float = Field(1.01, ge=1)
    ess_min: float = Field(400, gt=0)
    max_divergences: int = Field(0, ge=0)
    agreement_mean_sds: float = Field(0.1, gt=0, description="|mu_pymc - mu_conj| <= this x sd_conj")
    agreement_sd_rel: float = Field(0.1, gt=0, description="|sd_pymc/sd_conj - 1| <= this")


class ImpactSettings(Section):
    """Causal impact per rule event (seed segB §7.5), with the seed's two statistical bugs fixed.

    `controls` must be series the rule cannot move: the seed used entropy_rate, risk_band and creative_band,
    which are post-treatment (the rule changes them), so the default has none and the counterfactual is the
    metric's own pre-window level (plus a trend if `trend`).
    """

    metric: str = "phase_diff"
    controls: list[str] = Field(default_factory=list)
    trend: bool = False
    pre_s: float = Field(120.0, gt=0)
    post_s: float = Field(120.0, gt=0)
    guard_s: float = Field(1.0, ge=0, description="pre window ends guard_s before the event (seed: 1 s)")
    washout_s: float = Field(10.0, ge=0)
    ridge_lambda: float = Field(0.1, ge=0)
    min_samples: int = Field(150, ge=3)
    interval_prob: float = Field(0.95, gt=0, lt=1)
    autocorrelation: bool = Field(True, description="widen the interval for AR(1) residuals (seed: iid)")

    @model_validator(mode="after")
    def _valid_series(self) -> ImpactSettings:
        for name in [self.metric, *self.controls]:
            if name not in SIGNALS:
                raise ValueError(f"unknown signal {name!r}; expected one of {', '.join(SIGNALS)}")
        if self.metric in self.controls:
            raise ValueError(f"the metric {self.metric!r} cannot be its own control")
        if self.washout_s >= self.post_s:
            raise ValueError("washout_s must be smaller than post_s")
        return self


class PosteriorsSettings(Section):
    """Bayesian effect estimates per rule x signal: PyMC pooled model + the seed's conjugate cross-check."""

    priors: dict[str, dict[str, PriorSpec]] = Field(default_factory=_seed_priors)
    population: PopulationPrior = PopulationPrior()
    noise_sigma: float = Field(0.02, gt=0, description="seed's fixed noise sd of Δ (conjugate path)")
    student_t_nu: float = Field(4.0, gt=1, description="degrees of freedom of the robust likelihood")
    hdi_prob: float = Field(0.94, gt=0, lt=1)
    sampler: SamplerSettings = SamplerSettings()
    checks: CheckSettings = CheckSettings()
    schedule_cron: str = "15 * * * *"
    impact: ImpactSettings = ImpactSettings()

    @field_validator("priors")
    @classmethod
    def _known_signals(cls, value: dict[str, dict[str, PriorSpec]]) -> dict[str, dict[str, PriorSpec]]:
        for rule, per_signal in value.items():
            for signal in per_signal:
                if signal not in SIGNALS:
                    raise ValueError(f"priors.{rule}: unknown signal {signal!r}; expected one of {', '.join(SIGNALS)}")
        return value

    def prior_for(self, rule: str, signal: str) -> PriorSpec:
        """The configured prior for (rule, signal), else the population prior."""
        spec = self.priors.get(rule, {}).get(signal)
        return spec if spec is not None else PriorSpec(mu=self.population.mu, sigma=self.population.sigma)
