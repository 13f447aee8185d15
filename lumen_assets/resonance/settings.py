"""Config section `resonance` of config/lumen.yaml: the seed's observer_field.yaml plus Lumen's SLOs.

observer_field.yaml (segD §13.5) gives the windows, the four persona channels and their weights, and the
coherence/phase thresholds; segC C8/C9 give the run-success SLO (99 %) and its burn-rate alerting.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from lumen_assets.section import Section, WorkspacePath

Severity = Literal["WARN", "ERROR"]


class WindowSettings(Section):
    """One observation window (seed: W24h, W7d)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    span_s: float = Field(gt=0)


class ChannelWeights(Section):
    """An observer channel's weights over the four components; they must sum to 1 (as in the seed)."""

    symmetry: float = Field(ge=0, le=1)
    continuity: float = Field(ge=0, le=1)
    entropy: float = Field(ge=0, le=1)
    safety: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> ChannelWeights:
        total = self.symmetry + self.continuity + self.entropy + self.safety
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"channel weights must sum to 1.0, got {total:g}")
        return self


def _seed_channels() -> dict[str, ChannelWeights]:
    return {
        "lumen": ChannelWeights(symmetry=0.3, continuity=0.3, entropy=0.2, safety=0.2),
        "lubit": ChannelWeights(symmetry=0.25, continuity=0.35, entropy=0.15, safety=0.25),
        "sena": ChannelWeights(symmetry=0.2, continuity=0.25, entropy=0.25, safety=0.3),
        "vinoce": ChannelWeights(symmetry=0.35, continuity=0.25, entropy=0.2, safety=0.2),
    }


class ResonanceThresholds(Section):
    """segD §13.9 point 4: coherence < 0.7 pages (ERROR), < 0.85 warns; phase > 1.2 ERROR, > 0.7 WARN."""

    coherence_page: float = Field(0.7, ge=0, le=1)
    coherence_ok: float = Field(0.85, ge=0, le=1)
    phase_warn: float = Field(0.7, ge=0)
    phase_crit: float = Field(1.2, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ResonanceThresholds:
        if self.coherence_page > self.coherence_ok:
            raise ValueError("coherence_page must not exceed coherence_ok")
        if self.phase_warn > self.phase_crit:
            raise ValueError("phase_warn must not exceed phase_crit")
        return self


class BurnWindowSettings(Section):
    """A multi-window burn-rate pair: alert when both windows burn faster than `factor`."""

    long_s: float = Field(gt=0)
    short_s: float = Field(gt=0)
    factor: float = Field(gt=0)
    severity: Severity

    @model_validator(mode="after")
    def _short_inside_long(self) -> BurnWindowSettings:
        if self.short_s >= self.long_s:
            raise ValueError("short_s must be shorter than long_s")
        return self


def _default_burn_windows() -> list[BurnWindowSettings]:
    return [
        BurnWindowSettings(long_s=3600, short_s=300, factor=14.4, severity="ERROR"),
        BurnWindowSettings(long_s=21600, short_s=1800, factor=6.0, severity="WARN"),
    ]


class RunSuccessSettings(Section):
    """Lumen's own run-success SLI (segC C9): successful logical runs / logical runs."""

    target: float = Field(0.99, gt=0, lt=1)
    window_s: float = Field(7 * 86400.0, gt=0)
    severity: Severity = "WARN"  # SLI below target; a firing burn pair uses its own severity
    burn_windows: list[BurnWindowSettings] = Field(default_factory=_default_burn_windows)
    max_runs: int = Field(5000, ge=10, description="run records read per materialisation")


class FreshnessSettings(Section):
    """Freshness SLOs: newest metrics sample, the effects table, the daily report."""

    metrics_max_age_s: float | None = Field(None, gt=0, description="null: metrics.freshness_max_age_s")
    effects_max_age_s: float = Field(86400.0, gt=0)
    report_max_age_days: int = Field(1, ge=0, description="the newest report's day may lag today by this")
    reports_dir: WorkspacePath = "controls/reports"
    severity: Severity = "WARN"


class SafetyChecksSettings(Section):
    """Which asset checks prove signatures, the trust chain and the transparency log (`asset:check`).

    The latest evaluation of each feeds `safety`; a check never evaluated is unknown, not ok.
    """

    # `lumen verify` over every attested artefact covers DSSE signatures and the chain/CRL together
    signatures: list[str] = Field(default_factory=lambda: ["transparency_log:attested_artefacts_verify"])
    chain: list[str] = Field(default_factory=lambda: ["transparency_log:attested_artefacts_verify"])
    tlog: list[str] = Field(
        default_factory=lambda: ["transparency_log:new_leaves_included", "transparency_log:checkpoint_consistent"]
    )

    @field_validator("signatures", "chain", "tlog")
    @classmethod
    def _check_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if key.count(":") != 1 or not all(key.split(":")):
                raise ValueError(f"expected 'asset_key:check_name', got {key!r}")
        return keys


class ResonanceSettings(Section):
    """Resonance scores (segD §13), their SLO checks and the Prometheus exporter."""

    windows: list[WindowSettings] = Field(
        default_factory=lambda: [WindowSettings(name="24h", span_s=86400), WindowSettings(name="7d", span_s=604800)]
    )
    channels: dict[str, ChannelWeights] = Field(default_factory=_seed_channels)
    tau_minutes: float = Field(120.0, gt=0)
    custody_max_age_d: float = Field(180.0, gt=0)
    custody_records: WorkspacePath = "attest/custody/records"
    duration_scale_s: float = Field(
        600.0, gt=0, description="phase = p95 run duration / this + failure rate (seed: latency in seconds)"
    )
    thresholds: ResonanceThresholds = ResonanceThresholds()
    slo_window: str = "24h"
    band_severity: Severity = "WARN"  # creative_band / risk_band window-mean SLOs
    run_success: RunSuccessSettings = RunSuccessSettings()
    freshness: FreshnessSettings = FreshnessSettings()
    safety_checks: SafetyChecksSettings = SafetyChecksSettings()
    output: WorkspacePath = "logs/resonance.json"
    schedule_cron: str | None = "*/10 * * * *"
    exporter_port: int = Field(9108, ge=1, le=65535)

    @model_validator(mode="after")
    def _known_slo_window(self) -> ResonanceSettings:
        names = [w.name for w in self.windows]
        if len(set(names)) != len(names):
            raise ValueError(f"window names must be unique, got {names}")
        if self.slo_window not in names:
            raise ValueError(f"slo_window {self.slo_window!r} is not one of the windows {names}")
        if not self.channels:
            raise ValueError("at least one observer channel is needed")
        return self
