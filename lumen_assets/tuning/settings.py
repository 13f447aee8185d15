"""Config section `tuning` of config/lumen.yaml (seed segB §5.3 self_tuning.yaml, §6.3 decision gate,
§6.5 ab_bracket.yaml, §7.3 bandit_rules.yaml), with the seed's YAML typo (`creative_band:{`) fixed and the
guard it forgot (`phase_bad`) added."""

from __future__ import annotations

from pydantic import Field, model_validator

from lumen_assets.section import Section
from lumen_assets.signals import SIGNALS

OBJECTIVE_SIGNALS = SIGNALS


class Target(Section):
    """A level target for one signal: `max` (lower is better) or `min` (higher is better)."""

    min: float | None = None
    max: float | None = None


class RuleBounds(Section):
    """A tunable rule: start value, hard bounds, step (learning rate) and which way improves creative/risk."""

    init: float
    min: float
    max: float
    lr: float = Field(gt=0)
    weight: float = Field(1.0, gt=0)
    direction: int = Field(description="+1: raising it is the rule's intended move; -1: lowering it")

    @model_validator(mode="after")
    def _ordered(self) -> RuleBounds:
        if not self.min <= self.init <= self.max:
            raise ValueError(f"need min <= init <= max, got {self.min} / {self.init} / {self.max}")
        if self.direction not in (1, -1):
            raise ValueError("direction must be +1 or -1")
        return self


class SafetySettings(Section):
    """Δ = post - pre criteria (seed safety.good / safety.warn) and the forgotten phase_bad."""

    good_phase_max: float = -0.005
    good_risk_max: float = -0.008
    good_creative_min: float = 0.008
    warn_entropy_min: float = 0.03
    warn_phase_min: float = Field(0.03, description="seed referenced safety.warn.phase_bad but never set it")


class AbBracketSettings(Section):
    """A/B bracket (seed segB §6.5): alternate A and B, restore the original at the end (seed forgot)."""

    enabled: bool = True
    rule: str = "risk_max"
    a: float = 0.34
    b: float = 0.30
    period_s: float = Field(120.0, gt=0)
    washout_s: float = Field(20.0, ge=0)
    rounds: int = Field(4, ge=1)
    note: str = "A/B bracket exploration"

    @model_validator(mode="after")
    def _washout_inside_period(self) -> AbBracketSettings:
        if self.washout_s >= self.period_s:
            raise ValueError("washout_s must be smaller than period_s (seed: negative sleep)")
        return self


class BanditSettings(Section):
    """Thompson-sampling bandit over rule values (seed segB §7.3); arm state persists across runs."""

    enabled: bool = True
    rule: str = "risk_max"
    arms: list[float] = Field(default_factory=lambda: [0.34, 0.32, 0.30], min_length=2)
    weights: dict[str, float] = Field(
        default_factory=lambda: {"phase_diff": 0.5, "risk_band": 0.3, "creative_band": 0.2})
    period_s: float = Field(150.0, gt=0)
    washout_s: float = Field(20.0, ge=0)
    rounds: int = Field(6, ge=1)
    mu0: float = 0.0
    sigma0: float = Field(0.05, gt=0)
    noise_sigma: float = Field(0.05, gt=0)
    min_rows: int = Field(10, ge=1)
    random_seed: int = 7
    note: str = "bandit exploration"


class TuningSettings(Section):
    """Proposals from posteriors and metrics; dry-run unless `dry_run: false` (seed default true)."""

    dry_run: bool = True
    actor: str = "lumen-tuner"
    decision_threshold: float = Field(0.62, ge=0, le=1)
    objective_weights: dict[str, float] = Field(
        default_factory=lambda: {"phase_diff": 1.2, "risk_band": 1.0, "creative_band": 0.8})
    targets: dict[str, Target] = Field(default_factory=lambda: {
        "phase_diff": Target(max=0.05), "creative_band": Target(min=0.24),
        "risk_band": Target(max=0.30), "entropy_rate": Target(max=0.28)})
    rules: dict[str, RuleBounds] = Field(default_factory=lambda: {
        "creative_min": RuleBounds(init=0.22, min=0.18, max=0.35, lr=0.02, weight=1.0, direction=1),
        "risk_max": RuleBounds(init=0.35, min=0.20, max=0.40, lr=0.02, weight=1.2, direction=-1)})
    observe_window_s: float = Field(90.0, gt=0)
    min_samples: int = Field(300, ge=1)
    cooldown_s: float = Field(120.0, ge=0)
    max_concurrent_changes: int = Field(1, ge=1)
    rhythm_weight: float = Field(
        0.0, ge=0, le=0.5,
        description="seed segC §C1: the rhythm blend moves the phase_diff target: max·(1 + w·blend), blend "
        "clipped to [-1, 1], so the target stays within ±w of itself; 0 (default) = off",
    )
    safety: SafetySettings = SafetySettings()
    ab_bracket: AbBracketSettings = AbBracketSettings()
    bandit: BanditSettings = BanditSettings()

    @model_validator(mode="after")
    def _known_names(self) -> TuningSettings:
        for group, names in (("objective_weights", self.objective_weights), ("targets", self.targets),
                             ("bandit.weights", self.bandit.weights)):
            for name in names:
                if name not in OBJECTIVE_SIGNALS:
                    raise ValueError(f"{group}: unknown signal {name!r}")
        return self
