"""One posterior set for the workspace: the seed-shaped record for logs/bayes_posterior.jsonl, cached.

Sampling is expensive, so a fit is stored under the workspace's state dir keyed by the evidence version
(sha256 of the complete effect rows) plus the settings and model version; the same inputs never sample
twice. The conjugate path (seed segB §6.4) is always computed: it is the cross-check and the fast path.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from lumen_assets.atomic import atomic_write_text
from lumen_assets.posteriors.conjugate import normal_interval, p_improve, update_norm_norm
from lumen_assets.posteriors.model import MODEL_VERSION, EffectEstimate, FitResult
from lumen_assets.posteriors.observations import Observations
from lumen_assets.posteriors.settings import PosteriorsSettings
from lumen_assets.signals import SIGNALS

Method = Literal["pymc", "conjugate"]


def conjugate_estimates(obs: Observations, settings: PosteriorsSettings) -> dict[tuple[str, str], EffectEstimate]:
    """The seed's normal-normal update for every rule x signal with evidence (entropy too; the seed skipped it)."""
    out: dict[tuple[str, str], EffectEstimate] = {}
    for rule in obs.rules:
        for signal in SIGNALS:
            values = obs.values(rule, signal)
            if len(values) == 0:
                continue
            prior = settings.prior_for(rule, signal)
            post = update_norm_norm(prior.mu, prior.sigma, float(values.mean()), settings.noise_sigma, len(values))
            out[(rule, signal)] = EffectEstimate(
                rule=rule, signal=signal, mu=post.mu, sigma=post.sigma,
                hdi=normal_interval(post.mu, post.sigma, settings.hdi_prob),
                p_improve=p_improve(signal, post.mu, post.sigma), n=len(values),
                obs_mean=float(values.mean()), r_hat=1.0, ess=float("inf"),
            )
    return out


def agreement(
    fit: dict[tuple[str, str], EffectEstimate], exact: dict[tuple[str, str], EffectEstimate], settings: PosteriorsSettings
) -> list[dict[str, Any]]:
    """Per cell: is the sampled posterior the exact one (|Δμ| ≤ 0.1·sd, sd within 10%, seed segB §12.5)?"""
    rows = []
    for key, reference in sorted(exact.items()):
        sampled = fit.get(key)
        if sampled is None:
            continue
        mean_sds = abs(sampled.mu - reference.mu) / reference.sigma
        sd_rel = abs(sampled.sigma / reference.sigma - 1.0)
        rows.append({
            "rule": key[0], "signal": key[1], "mean_sds": mean_sds, "sd_rel": sd_rel,
            "ok": mean_sds <= settings.checks.agreement_mean_sds and sd_rel <= settings.checks.agreement_sd_rel,
        })
    return rows


@dataclass
class PosteriorSet:
    """What one materialisation produced: estimates per method, diagnostics, the evidence version."""

    data_version: str
    method: Method
    estimates: dict[tuple[str, str], EffectEstimate]
    conjugate: dict[tuple[str, str], EffectEstimate]
    divergences: int = 0
    max_r_hat: float = 1.0
    min_ess: float = float("inf")
    seconds: float = 0.0
    diagnostics: dict[str, Any] = field(default_factory=dict)
    cross_check: list[dict[str, Any]] = field(default_factory=list)  # fixed-noise PyMC vs conjugate
    cache_hit: bool = False
    converged: bool = True  # the PyMC convergence criteria held (always True for the conjugate method)
    evidence_version: str = ""  # sha256 of the evidence alone: equal for a PyMC and a conjugate set of the same data
    twin: dict[tuple[str, str], EffectEstimate] = field(default_factory=dict)  # fixed-noise PyMC fit

    def to_json(self) -> dict[str, Any]:
        def cells(table: dict[tuple[str, str], EffectEstimate]) -> list[dict[str, Any]]:
            return [asdict(e) for e in table.values()]

        return {
            "data_version": self.data_version, "method": self.method, "estimates": cells(self.estimates),
            "conjugate": cells(self.conjugate), "divergences": self.divergences, "max_r_hat": self.max_r_hat,
            "min_ess": self.min_ess if self.min_ess != float("inf") else None, "seconds": self.seconds,
            "diagnostics": self.diagnostics, "cross_check": self.cross_check, "converged": self.converged,
            "evidence_version": self.evidence_version, "twin": cells(self.twin),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PosteriorSet:
        def cells(items: list[dict[str, Any]]) -> dict[tuple[str, str], EffectEstimate]:
            out = {}
            for item in items:
                item = dict(item, hdi=tuple(item["hdi"]))
                if item["ess"] is None:
                    item["ess"] = float("inf")
                out[(item["rule"], item["signal"])] = EffectEstimate(**item)
            return out

        return cls(
            data_version=data["data_version"], method=data["method"], estimates=cells(data["estimates"]),
            conjugate=cells(data["conjugate"]), divergences=data["divergences"], max_r_hat=data["max_r_hat"],
            min_ess=data["min_ess"] if data["min_ess"] is not None else float("inf"), seconds=data["seconds"],
            diagnostics=data["diagnostics"], cross_check=data["cross_check"], cache_hit=True,
            converged=data.get("converged", True), evidence_version=data.get("evidence_version", ""),
            twin=cells(data.get("twin", [])),
        )

    def record(self, settings: PosteriorsSettings, ts: datetime) -> dict[str, Any]:
        """The seed-shaped line of logs/bayes_posterior.jsonl (seed segB §6.4), plus hdi/method/r_hat/ess."""
        rules: dict[str, dict[str, Any]] = {}
        method_name = self.diagnostics.get("method_name", self.method)
        for (rule, signal), e in sorted(self.estimates.items()):
            prior = settings.prior_for(rule, signal)
            rules.setdefault(rule, {})[signal] = {
                "prior": {"mu": prior.mu, "sigma": prior.sigma},
                "posterior": {"mu": round(e.mu, 6), "sigma": round(e.sigma, 6)},
                "obs_mean": round(e.obs_mean, 6),
                "n": e.n,
                "p_improve": round(e.p_improve, 4),
                "hdi": [round(e.hdi[0], 6), round(e.hdi[1], 6)],
                "method": method_name,
                "r_hat": None if e.r_hat != e.r_hat else round(e.r_hat, 4),
                "ess": None if e.ess == float("inf") else round(e.ess, 1),
            }
        return {"ts": ts.isoformat(), "rules": rules, "data_version": self.data_version,
                "evidence_version": self.evidence_version, "hdi_prob": settings.hdi_prob,
                "fit": self.method, "method": method_name, "converged": self.converged,
                "divergences": self.divergences,
                "max_r_hat": None if self.max_r_hat != self.max_r_hat else round(self.max_r_hat, 4),
                "min_ess": None if self.min_ess == float("inf") else round(self.min_ess, 1),
                "attempts": self.diagnostics.get("attempts", [])}


def _cache_key(obs: Observations, settings: PosteriorsSettings, method: Method) -> str:
    extra = json.dumps({"settings": settings.model_dump(mode="json", exclude={"impact", "schedule_cron"}),
                        "model": MODEL_VERSION, "method": method}, sort_keys=True)
    return obs.version(extra)


def compute_posteriors(
    obs: Observations,
    settings: PosteriorsSettings,
    method: Method = "pymc",
    cache_dir: Path | None = None,
    cross_check: bool = True,
) -> PosteriorSet:
    """Estimate every rule x signal with evidence; reuse a cached fit of the same evidence and settings."""
    data_version = _cache_key(obs, settings, method)
    cache_path = cache_dir / f"{method}-{data_version[:32]}.json" if cache_dir else None
    if cache_path is not None and cache_path.exists():
        return PosteriorSet.from_json(json.loads(cache_path.read_text(encoding="utf-8")))
    exact = conjugate_estimates(obs, settings)
    evidence_version = obs.version()
    if method == "conjugate" or len(obs) == 0:
        result = PosteriorSet(data_version, method, exact, exact,
                              diagnostics={"method_name": "conjugate-normal-fixed-noise"},
                              evidence_version=evidence_version)
    else:
        from lumen_assets.posteriors.model import fit_fixed_noise, fit_pooled

        fit: FitResult = fit_pooled(obs, settings)
        checks: list[dict[str, Any]] = []
        twin: dict[tuple[str, str], EffectEstimate] = {}
        if cross_check:
            # The twin has to reproduce a known posterior to 0.1 sd in every cell at once: with 40 cells, 600
            # draws a chain left the largest Monte Carlo error at ~0.1 sd (one family workspace missed); 2,000
            # keep it near 0.05. The model is trivial, so this costs under a second with nutpie.
            fixed = fit_fixed_noise(obs, settings, draws=2000, tune=min(settings.sampler.tune, 500))
            twin = fixed.estimates
            checks = agreement(fixed.estimates, exact, settings)
            fit.diagnostics["cross_check_fit"] = {"max_r_hat": fixed.max_r_hat, "min_ess": fixed.min_ess,
                                                  "divergences": fixed.divergences, "seconds": fixed.seconds}
        result = PosteriorSet(data_version, method, fit.estimates, exact, fit.divergences, fit.max_r_hat,
                              fit.min_ess, fit.seconds, dict(fit.diagnostics, method_name=fit.method), checks,
                              converged=fit.converged, evidence_version=evidence_version, twin=twin)
    if cache_path is not None:
        atomic_write_text(cache_path, json.dumps(result.to_json(), default=str))
    return result
