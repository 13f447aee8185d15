"""The resonance mapper: rhythm components and coherence from plain inputs (seed segD §13.4).

Same formulas and constants as the seed's `resonance_mapper.py`, with its bugs fixed (segD §13.9):

- entropy of a one-class failure histogram is 0, not a ZeroDivisionError (log2(1) = 0);
- symmetry uses max(|mean|, eps), so a non-positive mean can no longer blow it up to -1e8;
- every component is clamped to [0, 1] *before* it enters coherence, not only in the output;
- missing information is `None` ("unknown"), never a silent default (the seed read a missing custody age
  as 90 days, i.e. "half safe"). Coherence is then the weighted mean of the known components, and the
  result says which ones were unknown.

No dagster import here: this module takes and returns plain data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

COMPONENTS = ("symmetry", "continuity", "entropy", "safety")
SEED_WEIGHTS: Mapping[str, float] = {name: 0.25 for name in COMPONENTS}
EPS = 1e-9


def clamp01(value: float) -> float:
    return max(0.0, min(1.0, value))


def normalized_variation(values: Sequence[float], scale: float | None = None) -> float:
    """Mean absolute deviation over a scale: Σ|x-μ| / (n·max(|scale|, eps)); 0 for an empty or flat series.

    The seed's scale is the series' own mean μ (`max(μ, 1e-9)`), which explodes for a non-positive or
    near-zero mean; |μ| bounds it. Signal deltas pass the signal's level as the scale instead, because
    the mean of a balanced signal's changes is ~0 by construction.
    """
    xs = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    if not xs or max(xs) == min(xs):
        return 0.0
    mean = sum(xs) / len(xs)
    denominator = abs(mean) if scale is None else abs(scale)
    return sum(abs(x - mean) for x in xs) / (len(xs) * max(denominator, EPS))


def normalized_entropy(histogram: Mapping[str, int]) -> float:
    """Shannon entropy of the failure classes over log2(K); 0 when K <= 1 (seed divided by zero)."""
    counts = [int(v) for v in histogram.values() if int(v) > 0]
    total = sum(counts)
    if total == 0 or len(counts) <= 1:
        return 0.0
    entropy = -sum((c / total) * math.log2(c / total) for c in counts)
    # The seed divides by log2(len(hist)) including zero-count classes; zero counts carry no information.
    return entropy / math.log2(len(counts))


def symmetry_score(
    series_deltas: Sequence[float] | Mapping[str, Sequence[float]], scales: Mapping[str, float] | None = None
) -> float | None:
    """1 - normalized_variation(deltas), clamped; the mean over signals when given one series per signal
    (each scaled by `scales[signal]` when given, else by its own mean as in the seed).

    None when there is no series at all (the seed defaulted to `[0]`, i.e. "perfectly symmetric").
    """
    if isinstance(series_deltas, Mapping):
        scales = scales or {}
        per_signal = [_symmetry_one(deltas, scales.get(name)) for name, deltas in series_deltas.items()]
        known = [s for s in per_signal if s is not None]
        return sum(known) / len(known) if known else None
    return _symmetry_one(series_deltas, None)


def _symmetry_one(deltas: Sequence[float], scale: float | None) -> float | None:
    if len(deltas) == 0:
        return None
    return clamp01(1.0 - normalized_variation(deltas, scale))


def continuity_score(gap_minutes: float, tau_minutes: float = 120.0) -> float:
    """exp(-gap/τ), τ = 120 min in the seed."""
    return math.exp(-max(0.0, gap_minutes) / max(tau_minutes, EPS))


def custody_score(age_days: float | None, max_age_days: float = 180.0) -> float | None:
    """1 at a fresh ceremony, decaying linearly to 0 at 180 days; None when no custody record exists."""
    if age_days is None:
        return None
    return clamp01(1.0 - age_days / max_age_days)


def safety_score(proofs: Mapping[str, bool | None], custody: float | None) -> float | None:
    """min(chain_ok, dsse_ok, tlog_ok) · custody, with unknowns kept unknown.

    A proof known to fail makes safety 0 whatever else is unknown (min with 0 is 0); otherwise any unknown
    input makes safety unknown.
    """
    if any(ok is False for ok in proofs.values()):
        return 0.0
    if custody is None or any(ok is None for ok in proofs.values()):
        return None
    return clamp01(custody)


@dataclass(frozen=True)
class ResonanceInputs:
    """What the mapper needs (the seed's flat `metrics.json`, segD §13.3), None where unknown."""

    series_deltas: Sequence[float] | Mapping[str, Sequence[float]] = ()  # one series, or one per signal
    series_scales: Mapping[str, float] | None = None  # per signal: its level (window mean)
    gap_minutes: float | None = 0.0
    failure_hist: Mapping[str, int] = field(default_factory=dict)
    proofs: Mapping[str, bool | None] = field(default_factory=dict)  # signatures / chain / tlog
    custody_age_d: float | None = None
    duration_p95_s: float | None = None
    fail_rate: float | None = None


@dataclass(frozen=True)
class ResonanceScores:
    """Clamped components (None = unknown), phase (not clamped: > 1 is meaningful) and coherence."""

    symmetry: float | None
    continuity: float | None
    entropy: float | None
    safety: float | None
    phase: float | None
    coherence: float | None
    unknown: tuple[str, ...] = ()

    def channel_coherence(self, weights: Mapping[str, float]) -> float | None:
        """Σ w·c over known components / Σ w over them; entropy enters as (1 - entropy) (segD §13.5)."""
        parts = {
            "symmetry": self.symmetry,
            "continuity": self.continuity,
            "entropy": None if self.entropy is None else 1.0 - self.entropy,
            "safety": self.safety,
        }
        known = {k: v for k, v in parts.items() if v is not None and weights.get(k, 0.0) > 0}
        total_weight = sum(weights[k] for k in known)
        if total_weight <= 0:
            return None
        return clamp01(sum(weights[k] * v for k, v in known.items()) / total_weight)

    def rounded(self, digits: int = 3) -> dict[str, float | None]:
        """The seed's output shape (`r3`), None kept for unknowns."""
        out = {}
        for name in (*COMPONENTS, "phase", "coherence"):
            value = getattr(self, name)
            out[name] = None if value is None else round(value, digits)
        return out


def map_resonance(
    inputs: ResonanceInputs,
    *,
    tau_minutes: float = 120.0,
    custody_max_age_d: float = 180.0,
    duration_scale_s: float = 1.0,
) -> ResonanceScores:
    """The seed mapper, fixed. `duration_scale_s` is the seed's latency unit (1 s: phase = p95_ms/1000 + fail_rate)."""
    symmetry = symmetry_score(inputs.series_deltas, inputs.series_scales)
    continuity = None if inputs.gap_minutes is None else clamp01(continuity_score(inputs.gap_minutes, tau_minutes))
    entropy = clamp01(normalized_entropy(inputs.failure_hist))
    safety = safety_score(inputs.proofs, custody_score(inputs.custody_age_d, custody_max_age_d))
    if inputs.duration_p95_s is None and inputs.fail_rate is None:
        phase = None
    else:
        phase = (inputs.duration_p95_s or 0.0) / duration_scale_s + (inputs.fail_rate or 0.0)
    partial = ResonanceScores(symmetry, continuity, entropy, safety, phase, None)
    unknown = tuple(name for name in (*COMPONENTS, "phase") if getattr(partial, name) is None)
    coherence = partial.channel_coherence(SEED_WEIGHTS)
    return ResonanceScores(symmetry, continuity, entropy, safety, phase, coherence, unknown)
