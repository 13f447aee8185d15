"""Config section `evidence` of config/lumen.yaml: the seed's evidence mapper thresholds (segB §1.4)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lumen_assets.section import Section, WorkspacePath


class QuoteThresholds(Section):
    """A delta counts as "good" past these values (seed env LUMEN_QB_*_GOOD)."""

    phase_good: float = Field(-0.01, description="d_phase <= this is good (lower phase difference)")
    risk_good: float = Field(-0.01, description="d_risk <= this is good (lower risk band)")
    creative_good: float = Field(0.01, description="d_creative >= this is good (higher creative band)")


class RiskThresholds(Section):
    """When a rule change is an instability signal (seed env LUMEN_RL_*_BAD), and how severe.

    The seed wrote every record as `warn` and never used `info` or `crit` (segB §1.8); here `warn` is the
    seed's rule, `crit` the same rule at larger thresholds, and `info` (opt-in) a single signal crossing.
    """

    phase_bad: float = 0.03
    entropy_bad: float = 0.03
    crit_phase: float = 0.06
    crit_entropy: float = 0.06
    info_single_signal: bool = Field(
        False, description="also record `info` when only one of phase/entropy crosses its bad threshold"
    )

    @model_validator(mode="after")
    def _crit_above_warn(self) -> RiskThresholds:
        if self.crit_phase < self.phase_bad or self.crit_entropy < self.entropy_bad:
            raise ValueError("crit thresholds must be at least the warn (bad) thresholds")
        return self


class EvidenceSettings(Section):
    """Quote bank and risk ledger (seed segB §1)."""

    quotes_bank: WorkspacePath = "controls/quotes_bank.jsonl"
    risk_ledger: WorkspacePath = "controls/risk_ledger.jsonl"
    language: Literal["ko", "en"] = "ko"
    quote: QuoteThresholds = QuoteThresholds()
    confidence: tuple[float, float, float, float] = (0.4, 0.65, 0.8, 0.92)
    risk: RiskThresholds = RiskThresholds()

    @model_validator(mode="after")
    def _confidence_in_unit_interval(self) -> EvidenceSettings:
        if any(not 0.0 <= c <= 1.0 for c in self.confidence):
            raise ValueError("confidence values must lie in [0, 1]")
        return self
