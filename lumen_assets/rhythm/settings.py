"""Config section `rhythm` of config/lumen.yaml: the rhythm sensors and the resonance synchronizer (seed segC §C1).

The seed gives the mapping table (four transforms) but leaves every constant unset; each one is a key here
with a documented default, and a value the seed got wrong is fixed (see `lumen_assets/rhythm/sync.py`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from lumen_assets.section import Section, WorkspacePath


class RangeSettings(Section):
    """Plausible physical range of one environment column; a value outside is quarantined with its line."""

    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> RangeSettings:
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class EnvironmentSettings(Section):
    """Ingest of logs/environment.csv (1 Hz: ts, light_intensity [lux], ambient_temp [°C], sound_level [dB])."""

    sample_rate_hz: float = Field(1.0, gt=0, le=1000, description="seed: sensors sampled at 1 Hz")
    light_intensity: RangeSettings = RangeSettings(min=0.0, max=200_000.0)  # direct sunlight ~100 klx
    ambient_temp: RangeSettings = RangeSettings(min=-60.0, max=70.0)
    sound_level: RangeSettings = RangeSettings(min=0.0, max=194.0)  # 194 dB SPL: the undistorted maximum
    quarantine_max_fraction: float = Field(0.01, ge=0, le=1)
    freshness_max_age_s: float = Field(3600.0, gt=0)
    gap_factor: float = Field(2.5, gt=1)


class LightSettings(Section):
    """light_intensity -> phase_diff: Δ = sin(π·lux_norm − radians_per_day·t/day)."""

    norm: Literal["log", "linear"] = Field(
        "log", description="lux_norm = log10(1+lux)/log10(1+lux_max) (log: lux spans 5 decades) or lux/lux_max"
    )
    lux_max: float = Field(100_000.0, gt=0, description="lux that normalises to 1 (direct sunlight); clipped above")
    radians_per_day: float = Field(
        2 * math.pi,
        ge=0,
        description="the seed's t/day has no unit; 2π makes the term one turn per day like time_cycle, so dark "
        "midnight, half light at 06/18 h and full light at noon all give Δ = 0",
    )


class TemperatureSettings(Section):
    """ambient_temp -> entropy_rate: Δ = (temp − mean) / σ over a trailing window."""

    window_s: float = Field(3600.0, gt=0, description="trailing window of the mean and σ (seed: unset)")
    min_samples: int = Field(60, ge=2, description="fewer present samples in the window: Δ is missing")
    sigma_floor: float = Field(0.05, gt=0, description="°C; σ below this is taken as this (no division by ~0)")


class SoundSettings(Section):
    """sound_level -> creative_band: Δ = (dB − ref_db) / 10, i.e. log10(I / I_ref).

    The seed wrote log10(dB / ref), a log of a value that is already logarithmic (and undefined at 0 dB).
    The ratio of intensities is 10**((L − L_ref)/10), so its log10 is simply (L − L_ref)/10.
    """

    ref_db: float = Field(40.0, description="reference level: a quiet room (seed: unset)")


class TimeCycleSettings(Section):
    """time_cycle -> one band: Δ = 0.5·(1 + cos(2π·t/86400)).

    The seed contradicts itself: the table maps time_cycle to risk_band, the bullet list calls it the
    phase_diff reference. Default risk_band: the table is the only place with a formula, and phase_diff
    already carries the time of day through the light term (−t/day), so a second time term there would count
    the clock twice.
    """

    band: Literal["risk_band", "phase_diff"] = "risk_band"


class BlendWeights(Section):
    """Weight of each input's Δ in the blend; they must sum to 1 (seed: "weighted blend", weights unset).

    Equal by default: the seed gives no reason to prefer one rhythm. A step where an input is missing blends
    the others, re-weighted, and records how much weight was present."""

    light: float = Field(0.25, ge=0, le=1)
    temperature: float = Field(0.25, ge=0, le=1)
    sound: float = Field(0.25, ge=0, le=1)
    time_cycle: float = Field(0.25, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> BlendWeights:
        total = self.light + self.temperature + self.sound + self.time_cycle
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"blend weights must sum to 1.0, got {total:g}")
        return self


class RhythmSettings(Section):
    """The rhythm synchronizer: environment -> four band corrections -> one blend per step."""

    environment: EnvironmentSettings = EnvironmentSettings()
    output: WorkspacePath = "logs/rhythm_sync.jsonl"
    effects_output: WorkspacePath = Field(
        "logs/rhythm_effects.csv",
        description="each rule event's Δ with and without the rhythm (d_<band>, d_<band>_without_rhythm, the gain)",
    )
    gain_min_steps: int = Field(
        30, ge=3, description="steps with both a correction and a metrics mean needed to estimate a band's gain"
    )
    sensor_interval_s: int = Field(300, ge=1, description="environment_sensor: at most one run per interval")
    step_s: float = Field(60.0, ge=1, description="one record per step (seed: 1 Hz loop, pushed every 5 s)")
    min_coverage: float = Field(
        0.5, ge=0, le=1, description="share of a step's expected samples a signal needs for its Δ (else missing)"
    )
    t_origin: Literal["local_midnight", "utc_midnight"] = Field(
        "local_midnight", description="t = seconds since midnight in loop.timezone (seed: KST) or UTC"
    )
    light: LightSettings = LightSettings()
    temperature: TemperatureSettings = TemperatureSettings()
    sound: SoundSettings = SoundSettings()
    time_cycle: TimeCycleSettings = TimeCycleSettings()
    weights: BlendWeights = BlendWeights()

    def bands(self) -> dict[str, str]:
        """Which band each input drives: the seed's table, with time_cycle's band the config's choice."""
        return {"light": "phase_diff", "temperature": "entropy_rate", "sound": "creative_band",
                "time_cycle": self.time_cycle.band}
