"""The pooled PyMC model of rule effects, and the seed's fixed-noise model in PyMC for the cross-check.

Pooled model (issue 3 §1; seed segB §12.5 "richer models"), per signal s, rule r, event i:
    μ_s ~ N(pop.mu, pop.sigma)                  population mean effect
    τ_s ~ HalfNormal(pop.tau_sigma)             spread of rule effects around it
    θ_rs ~ N(m_rs + μ_s, τ_s)                   rule-level effect; m_rs = configured prior mean - pop.mu
    σ_s ~ HalfNormal(pop.noise_sigma)           observation noise, learned (seed: fixed 0.02)
    Δ_i ~ StudentT(ν, θ_{r_i s_i}, σ_s)         robust to outlying events (seed: normal)
It is sampled on standardised data (Δ - c_s)/k_s with every prior scale divided by k_s: the same model,
but with unit-scale geometry NUTS handles in a few leapfrog steps (raw-scale effects of ~0.01 needed
~280 steps per draw here). Centred when each rule has enough events, non-centred otherwise.

PyMC is imported inside the functions: importing this module costs nothing, sampling happens on call.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lumen_assets.posteriors.observations import Observations
from lumen_assets.posteriors.settings import PosteriorsSettings
from lumen_assets.signals import SIGNALS, improvement_sign

MODEL_VERSION = "pooled-student-t-v2"


@dataclass(frozen=True)
class EffectEstimate:
    """Posterior summary of one rule's effect on one signal."""

    rule: str
    signal: str
    mu: float
    sigma: float
    hdi: tuple[float, float]
    p_improve: float
    n: int
    obs_mean: float
    r_hat: float
    ess: float


@dataclass(frozen=True)
class FitResult:
    """All estimates of one fit plus its sampler diagnostics."""

    method: str
    estimates: dict[tuple[str, str], EffectEstimate]
    divergences: int
    max_r_hat: float
    min_ess: float
    seconds: float
    diagnostics: dict[str, Any] = field(default_factory=dict)
    converged: bool = True


def _layout(obs: Observations) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    rules = obs.rules
    signals = [s for s in SIGNALS if np.any(obs.signal == s)]
    rule_pos = {r: i for i, r in enumerate(rules)}
    signal_pos = {s: j for j, s in enumerate(signals)}
    r_idx = np.fromiter((rule_pos[r] for r in obs.rule), dtype=np.int64, count=len(obs))
    s_idx = np.fromiter((signal_pos[s] for s in obs.signal), dtype=np.int64, count=len(obs))
    return rules, signals, r_idx, s_idx


_COMPILED: dict[tuple[Any, ...], Any] = {}
_COMPILED_LOCK = threading.Lock()


def padded_cells(n: int) -> int:
    """Rule x signal cells rounded up to a power of two, at least 64 (16 rules): nearly every workspace shares
    one compiled model, so a process compiles once however many workspaces or retries it fits. Padding cells
    have no evidence: independent standard-normal coordinates that nothing reads, never reported."""
    return max(64, 1 << max(0, n - 1).bit_length())


def _run_nuts(
    kind: str, build: Any, data: dict[str, np.ndarray], settings: PosteriorsSettings, draws: int | None,
    tune: int | None, target_accept: float | None = None, seed: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """NUTS on a model whose every input is a pm.Data: nutpie (Rust NUTS on the model's numba-compiled log
    density; the default) or PyMC's own sampler. nutpie's compiled model is cached per kind and parameter
    shape and fed each fit's data, so neither a retry nor the next workspace of the same size class compiles
    again. Returns the InferenceData-like trace and what was used (sampler, seconds spent compiling)."""
    sampler = settings.sampler
    draws = draws or sampler.draws
    tune = tune or sampler.tune
    target_accept = target_accept or sampler.target_accept
    seed = sampler.random_seed if seed is None else seed
    if sampler.nuts_sampler == "nutpie" and _nutpie_installed():
        import nutpie

        key = (kind, data["cell_signal"].shape[0])
        compile_s = 0.0
        with _COMPILED_LOCK:
            compiled = _COMPILED.get(key)
            if compiled is None:
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = build(data)
                    compiled = nutpie.compile_pymc_model(model, var_names=[v.name for v in model.free_RVs])
                compile_s = time.perf_counter() - started
                _COMPILED[key] = compiled
        used = {name: value for name, value in data.items() if name in compiled.shared_data}
        trace = nutpie.sample(compiled.with_data(**used), draws=draws, tune=tune, chains=sampler.chains,
                              cores=min(sampler.cores, sampler.chains), seed=seed, target_accept=target_accept,
                              progress_bar=False)
        return trace, {"sampler": "nutpie", "compile_seconds": round(compile_s, 2)}
    import pymc as pm

    with build(data), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        trace = pm.sample(
            draws=draws, tune=tune, chains=sampler.chains, cores=min(sampler.cores, sampler.chains),
            target_accept=target_accept, random_seed=seed, progressbar=False, compute_convergence_checks=False,
        )
    used = "pymc" if sampler.nuts_sampler == "pymc" else "pymc (nutpie is not installed: pip install nutpie)"
    return trace, {"sampler": used, "compile_seconds": None}


def _nutpie_installed() -> bool:
    """nutpie is a dependency of Lumen; an environment that lacks it still fits, with PyMC's own (slower) NUTS."""
    from importlib.util import find_spec

    return find_spec("nutpie") is not None


def _summaries(
    theta: np.ndarray, obs: Observations, rules: list[str], signals: list[str], settings: PosteriorsSettings
) -> tuple[dict[tuple[str, str], EffectEstimate], float, float]:
    """theta: (chain, draw, R, S) raw-scale draws; only cells with evidence are reported."""
    import arviz as az
    import xarray as xr

    data = xr.Dataset({"theta": (("chain", "draw", "rule", "signal"), theta)})
    chains = theta.shape[0]
    r_hat = az.rhat(data)["theta"].values if chains > 1 else np.full(theta.shape[2:], np.nan)
    ess = np.minimum(az.ess(data, method="bulk")["theta"].values, az.ess(data, method="tail")["theta"].values)
    hdi = az.hdi(data, hdi_prob=settings.hdi_prob)["theta"].values  # (R, S, 2)
    estimates: dict[tuple[str, str], EffectEstimate] = {}
    max_r_hat, min_ess = 1.0, float("inf")
    for i, rule in enumerate(rules):
        for j, signal in enumerate(signals):
            values = obs.values(rule, signal)
            if len(values) == 0:
                continue
            draws = theta[:, :, i, j]
            sign = improvement_sign(signal)
            estimates[(rule, signal)] = EffectEstimate(
                rule=rule,
                signal=signal,
                mu=float(draws.mean()),
                sigma=float(draws.std(ddof=1)),
                hdi=(float(hdi[i, j, 0]), float(hdi[i, j, 1])),
                p_improve=float(np.mean(sign * draws > 0)),
                n=len(values),
                obs_mean=float(values.mean()),
                r_hat=float(r_hat[i, j]),
                ess=float(ess[i, j]),
            )
            if not np.isnan(r_hat[i, j]):
                max_r_hat = max(max_r_hat, float(r_hat[i, j]))
            min_ess = min(min_ess, float(ess[i, j]))
    return estimates, max_r_hat, min_ess


@dataclass(frozen=True)
class Geometry:
    """Which rule x signal cells are sampled centred (θ itself) and which non-centred (θ = μ + m + τ·η)."""

    centred: np.ndarray  # bool (R, S): centred cells; cells without evidence are always non-centred
    within_sd: np.ndarray  # (S,) robust within-cell noise scale, standardised
    tau_hat: np.ndarray  # (S,) moment estimate of the between-rule spread, standardised
    noise_learned: np.ndarray | None = None  # (S,) bool: the signal has within-rule replicates to learn σ from

    @property
    def label(self) -> str:
        n_c = int(self.centred.sum())
        n = self.centred.size
        return "centred" if n_c == n else "non_centred" if n_c == 0 else f"mixed ({n_c}/{n} centred)"


def choose_geometry(
    y_z: np.ndarray, r_idx: np.ndarray, s_idx: np.ndarray, n_r: int, n_s: int, parameterization: str,
    low_quantile: float = 0.05,
) -> Geometry:
    """Centre a cell when its own evidence pins θ tighter than rules differ (standard error < low end of τ̂), else
    non-centre it: the centred funnel traps NUTS exactly where a cell is thin relative to the spread, and the
    non-centred one where a cell is rich. A signal observed for one rule only is centred (with μ integrated
    out there is no funnel at all). Robust (median/MAD) estimates, so an outlier cannot flip the choice;
    a pure function of the data: the same evidence always gives the same geometry.
    """
    from scipy.stats import chi2

    counts = np.zeros((n_r, n_s))
    np.add.at(counts, (r_idx, s_idx), 1)
    medians = np.zeros((n_r, n_s))
    residuals: list[list[float]] = [[] for _ in range(n_s)]
    for r in range(n_r):
        for s in range(n_s):
            cell = y_z[(r_idx == r) & (s_idx == s)]
            if len(cell):
                medians[r, s] = float(np.median(cell))
                if len(cell) > 1:
                    residuals[s].extend((cell - medians[r, s]).tolist())
    within = np.array([1.4826 * float(np.median(np.abs(res))) if len(res) >= 3 else 1.0 for res in residuals])
    within = np.where(within > 1e-9, within, 1.0)
    tau_hat = np.zeros(n_s)
    centred = np.zeros((n_r, n_s), dtype=bool)
    for s in range(n_s):
        have = counts[:, s] > 0
        if not have.any():
            continue
        se = within[s] / np.sqrt(np.maximum(counts[:, s], 1))
        if have.sum() == 1:
            centred[:, s] = have
            tau_hat[s] = np.nan
            continue
        spread = float(np.var(medians[have, s], ddof=1)) - float(np.mean(se[have] ** 2))
        tau_hat[s] = float(np.sqrt(max(spread, 0.0)))
        # With R rules τ is known only to within a factor: compare against its plausible low end (the
        # low_quantile of τ̂·sqrt(χ²_{R-1}/(R-1)); 5% first, 1% on retry), so a cell is centred only where even
        # a small spread leaves it pinned.
        groups = int(have.sum())
        low_end = float(np.sqrt(chi2.ppf(low_quantile, groups - 1) / (groups - 1)))
        centred[:, s] = have & (se < tau_hat[s] * low_end)
    if parameterization == "centred":
        centred = counts > 0
    elif parameterization == "non_centred":
        centred = np.zeros_like(centred)
    # σ is learned only from replicates (>= 2 within-rule residuals): with one event per rule there is nothing
    # to learn it from, and a free σ then makes a σ-θ funnel (θ pinned to the lone Δ as σ -> 0); such a
    # signal keeps σ at its prior scale, which makes its posterior wide and honest.
    noise_learned = np.array([len(res) >= 2 for res in residuals])
    return Geometry(centred=centred, within_sd=within, tau_hat=tau_hat, noise_learned=noise_learned)


def _pooled_data(
    y_z: np.ndarray, r_idx: np.ndarray, s_idx: np.ndarray, geometry: Geometry, prior_mu_z: np.ndarray,
    prior_sd_z: np.ndarray, tau_sd_z: np.ndarray, noise_sd_z: np.ndarray, offset_z: np.ndarray, nu: float,
) -> dict[str, np.ndarray]:
    """Everything the pooled model reads, as arrays: cell c = r·S + s of a padded cell vector, signals
    padded to all four (a padded signal or cell has no evidence and is never reported)."""
    n_r, n_s = geometry.centred.shape
    size = padded_cells(n_r * n_s)
    n_sig = len(SIGNALS)
    cell = r_idx * n_s + s_idx
    counts = np.bincount(cell, minlength=size).astype(float)
    centred = np.zeros(size)
    centred[: n_r * n_s] = geometry.centred.ravel()
    cell_signal = np.zeros(size, dtype=np.int64)
    cell_signal[: n_r * n_s] = np.tile(np.arange(n_s), n_r)
    loc, spread = np.zeros(size), np.ones(size)
    for c in np.nonzero(centred)[0]:  # centred cells start at their median, in units of their standard error
        loc[c] = float(np.median(y_z[cell == c]))
        spread[c] = float(geometry.within_sd[cell_signal[c]]) / np.sqrt(max(counts[c], 1.0))
    offset = np.zeros(size)
    offset[: n_r * n_s] = offset_z.ravel()
    onehot = np.zeros((size, n_sig))
    onehot[np.arange(size), cell_signal] = centred

    def signal_vector(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full(n_sig, fill)
        out[:n_s] = values
        return out

    learned = geometry.noise_learned if geometry.noise_learned is not None else np.ones(n_s, dtype=bool)
    return {
        "y": np.asarray(y_z, dtype=float), "cell": cell.astype(np.int64), "centred": centred,
        "cell_signal": cell_signal, "loc": loc, "spread": spread, "offset": offset, "centred_onehot": onehot,
        "prior_mu": signal_vector(prior_mu_z, 0.0), "b2": signal_vector(prior_sd_z**2, 1.0),
        "tau_sd": signal_vector(tau_sd_z, 1.0), "noise_sd": signal_vector(noise_sd_z, 1.0),
        "learned": signal_vector(learned.astype(float), 0.0), "nu": np.array(float(nu)),
    }


def _derived(xp: Any, d: dict[str, Any], z: Any, tau: Any, xi: Any, free: Any) -> dict[str, Any]:
    """θ, μ, σ and the centred cells' marginal log prior from the free coordinates; one formula for the model
    (xp = pytensor.tensor, 1-D coordinates) and for the draws afterwards (xp = numpy, leading chain and draw
    axes), so what is sampled and what is reported cannot drift apart."""
    where = xp.switch if hasattr(xp, "switch") else xp.where
    centred, cs, b2, prior_mu, onehot = d["centred"], d["cell_signal"], d["b2"], d["prior_mu"], d["centred_onehot"]
    theta_c = d["loc"] + d["spread"] * z
    x = centred * (theta_c - prior_mu[cs] - d["offset"])
    k = onehot.sum(axis=0)
    sum_x, sum_x2 = x @ onehot, (x**2) @ onehot
    tau2 = tau**2
    total = tau2 + k * b2
    logp = -0.5 * ((k - 1) * xp.log(tau2) + xp.log(total)) - 0.5 / tau2 * (sum_x2 - b2 * sum_x**2 / total)
    v_star = 1.0 / (1.0 / b2 + k / tau2)
    mu = v_star * (prior_mu / b2 + (sum_x + k * prior_mu) / tau2) + xp.sqrt(v_star) * xi
    theta = where(centred > 0, theta_c, mu[..., cs] + d["offset"] + tau[..., cs] * z)
    sigma = where(d["learned"] > 0, free, d["noise_sd"])
    return {"theta": theta, "mu": mu, "sigma": sigma, "prior_logp": where(k > 0, logp, 0.0)}


def _pooled_model(data: dict[str, np.ndarray]) -> Any:
    """The pooled model in standardised units with μ_s integrated out of the centred cells' prior.

    One free coordinate z_c per cell. Centred cells C of signal s: θ_c = loc_c + spread_c·z_c (a fixed affine
    map: θ itself, at unit scale), θ_C ~ MVN(a + m_C, τ²·I + b²·11ᵀ) (μ ~ N(a, b²) marginalised: no μ-τ
    funnel however few rules there are); then μ | θ_C, τ ~ N(μ*, v*) drawn as μ = μ* + √v*·ξ, and the
    non-centred cells N: θ_N = μ + m_N + τ·z_N, z_N ~ N(0, 1). The joint density is exactly the model in
    the module docstring. Which cells are centred is data, not structure: a retry with another geometry
    or another workspace of the same size class reuses the compiled model.
    """
    import pymc as pm
    import pytensor.tensor as pt

    size, n_sig = data["centred_onehot"].shape
    with pm.Model() as model:
        d = {name: pm.Data(name, value) for name, value in data.items()}
        # unit-scale coordinates whose priors and initial points do not depend on the data: the compiled model
        # (and its initial-point function) is shared by every fit of the size class, so a fit's result
        # depends on its own data and seed only, never on which workspace compiled the model first
        tau_u = pm.HalfNormal("tau_u", sigma=1.0, shape=n_sig)
        sigma_u = pm.HalfNormal("sigma_u", sigma=1.0, shape=n_sig)
        z = pm.Flat("z", shape=size)
        xi = pm.Normal("xi", 0.0, 1.0, shape=n_sig)
        derived = _derived(pt, d, z, d["tau_sd"] * tau_u, xi, d["noise_sd"] * sigma_u)
        pm.Potential("cell_prior", pt.sum(derived["prior_logp"]) - 0.5 * pt.sum((1 - d["centred"]) * z**2))
        pm.StudentT("obs", nu=d["nu"], mu=derived["theta"][d["cell"]],
                    sigma=derived["sigma"][d["cell_signal"][d["cell"]]], observed=d["y"])
    return model


FREE_VARIABLES = ("z", "tau_u", "xi", "sigma_u")


def _attempt_plan(settings: PosteriorsSettings) -> list[dict[str, Any]]:
    """The retry ladder: the configured geometry first (auto: centre a cell below the 5% plausible low end of
    the between-rule spread); then a more cautious auto (1% low end: fewer cells centred) with a smaller step
    and twice the draws (a short ESS is the commonest miss on thin evidence); then all non-centred with the
    smallest step, twice the draws and a doubled warm-up. Every attempt is recorded. With nutpie a retry reuses
    the compiled model: geometry is data, so a retry costs sampling time only."""
    sampler = settings.sampler
    first = {"parameterization": sampler.parameterization, "target_accept": sampler.target_accept, "tune_factor": 1,
             "draws_factor": 1, "low_quantile": 0.05}
    if sampler.max_attempts <= 1:
        return [first]
    ladder = [
        first,
        {"parameterization": sampler.parameterization, "target_accept": max(sampler.target_accept, 0.95),
         "tune_factor": 1, "draws_factor": 2, "low_quantile": 0.01},
        {"parameterization": "non_centred", "target_accept": max(sampler.target_accept, 0.99), "tune_factor": 2,
         "draws_factor": 2, "low_quantile": 0.01},
    ]
    return ladder[: sampler.max_attempts]


def converged(fit: FitResult, settings: PosteriorsSettings) -> bool:
    """The posterior_convergence criteria: r̂, bulk and tail ESS of every parameter, divergences."""
    checks = settings.checks
    return (
        fit.divergences <= checks.max_divergences
        and not fit.max_r_hat > checks.r_hat_max
        and fit.min_ess >= checks.ess_min
    )


def fit_pooled(
    obs: Observations, settings: PosteriorsSettings, draws: int | None = None, tune: int | None = None
) -> FitResult:
    """Sample the pooled Student-t model, climbing the retry ladder until a fit converges.

    Returns the first converged attempt, else the last one (its `converged` is False); every attempt's
    geometry, target_accept, seed and diagnostics are in `diagnostics["attempts"]`. Deterministic for a
    given evidence, settings and seed. Raises ValueError when there is no evidence at all.
    """
    if len(obs) == 0:
        raise ValueError("no complete effect rows: nothing to estimate")
    started = time.perf_counter()
    attempts: list[dict[str, Any]] = []
    fit: FitResult | None = None
    for number, plan in enumerate(_attempt_plan(settings), start=1):
        fit = _fit_once(obs, settings, plan["parameterization"], plan["target_accept"],
                        settings.sampler.random_seed + number - 1,
                        (draws or settings.sampler.draws) * plan["draws_factor"],
                        (tune or settings.sampler.tune) * plan["tune_factor"], plan["low_quantile"])
        ok = converged(fit, settings)
        attempts.append({
            "attempt": number, "parameterization": fit.diagnostics["parameterization"],
            "target_accept": plan["target_accept"], "centring_quantile": plan["low_quantile"],
            "draws": fit.diagnostics["draws"],
            "seed": settings.sampler.random_seed + number - 1,
            "divergences": fit.divergences, "max_r_hat": round(fit.max_r_hat, 4),
            "min_ess": round(fit.min_ess, 1), "seconds": round(fit.seconds, 2), "converged": ok,
        })
        if ok:
            break
    assert fit is not None
    fit.diagnostics["attempts"] = attempts
    return FitResult(
        method=fit.method, estimates=fit.estimates, divergences=fit.divergences, max_r_hat=fit.max_r_hat,
        min_ess=fit.min_ess, seconds=time.perf_counter() - started, diagnostics=fit.diagnostics,
        converged=attempts[-1]["converged"],
    )


def _fit_once(
    obs: Observations, settings: PosteriorsSettings, parameterization: str, target_accept: float, seed: int,
    draws: int | None, tune: int, low_quantile: float = 0.05,
) -> FitResult:
    import arviz as az

    started = time.perf_counter()
    rules, signals, r_idx, s_idx = _layout(obs)
    n_r, n_s = len(rules), len(signals)
    pop = settings.population
    center = np.array([float(np.median(obs.delta[obs.signal == s])) for s in signals])
    scale = np.array([_robust_scale(obs.delta[obs.signal == s]) for s in signals])
    scale = np.where(scale > 1e-12, scale, pop.noise_sigma)
    offset = np.array(
        [[settings.priors.get(r, {}).get(s).mu - pop.mu if s in settings.priors.get(r, {}) else 0.0
          for s in signals] for r in rules]
    )
    y_z = (obs.delta - center[s_idx]) / scale[s_idx]
    geometry = choose_geometry(y_z, r_idx, s_idx, n_r, n_s, parameterization, low_quantile)
    data = _pooled_data(
        y_z, r_idx, s_idx, geometry,
        prior_mu_z=(pop.mu - center) / scale, prior_sd_z=pop.sigma / scale, tau_sd_z=pop.tau_sigma / scale,
        noise_sd_z=pop.noise_sigma / scale, offset_z=offset / scale[None, :], nu=settings.student_t_nu,
    )
    idata, run = _run_nuts("pooled", _pooled_model, data, settings, draws, tune, target_accept=target_accept,
                           seed=seed)
    posterior = idata.posterior
    free = {name: posterior[name].values for name in FREE_VARIABLES}
    tau_draws = data["tau_sd"] * free["tau_u"]
    derived = _derived(np, data, free["z"], tau_draws, free["xi"], data["noise_sd"] * free["sigma_u"])
    theta_z = derived["theta"][:, :, : n_r * n_s]
    theta = center + scale * theta_z.reshape(*theta_z.shape[:2], n_r, n_s)  # (chain, draw, R, S)
    estimates, max_r_hat, min_ess = _summaries(theta, obs, rules, signals, settings)
    hyper = {}
    learned = geometry.noise_learned if geometry.noise_learned is not None else np.ones(n_s, dtype=bool)
    for name, draws_h in (("mu_z", derived["mu"]), ("tau_z", tau_draws), ("sigma_z", derived["sigma"])):
        for j, signal in enumerate(signals):
            if name == "sigma_z" and not learned[j]:
                continue  # fixed at its prior scale: not a parameter
            d = draws_h[:, :, j]
            r_hat = float(az.rhat(d)) if d.shape[0] > 1 else float("nan")
            ess = float(min(az.ess(d, method="bulk"), az.ess(d, method="tail")))
            hyper[f"{name[:-2]}[{signal}]"] = {"r_hat": r_hat, "ess": ess}
            if not np.isnan(r_hat):
                max_r_hat = max(max_r_hat, r_hat)
            min_ess = min(min_ess, ess)
    noise = {s: float(np.mean(scale[j] * derived["sigma"][:, :, j])) for j, s in enumerate(signals)}
    divergences = int(idata.sample_stats["diverging"].values.sum())
    steps = float(np.mean(idata.sample_stats["n_steps"].values)) if "n_steps" in idata.sample_stats else float("nan")
    return FitResult(
        method=f"pymc-{MODEL_VERSION}",
        estimates=estimates,
        divergences=divergences,
        max_r_hat=max_r_hat,
        min_ess=min_ess,
        seconds=time.perf_counter() - started,
        diagnostics={
            "parameterization": geometry.label,
            "noise_fixed_at_prior": [s for j, s in enumerate(signals) if not learned[j]],
            "hyperparameters": hyper,
            "noise_sigma": noise,
            "mean_leapfrog_steps": steps,
            "sampler": run["sampler"],
            "compile_seconds": run["compile_seconds"],
            "chains": int(posterior.sizes["chain"]),
            "draws": int(posterior.sizes["draw"]),
        },
    )


def _robust_scale(values: np.ndarray) -> float:
    """1.4826·MAD (an outlier cannot inflate it), falling back to the sd when the MAD is zero."""
    if len(values) < 2:
        return 0.0
    mad = 1.4826 * float(np.median(np.abs(values - np.median(values))))
    return mad if mad > 1e-12 else float(np.std(values, ddof=1))


def fit_fixed_noise(
    obs: Observations, settings: PosteriorsSettings, draws: int | None = None, tune: int | None = None
) -> FitResult:
    """The seed's model in PyMC: θ_rs ~ N(mu0, s0) independent, Δ ~ N(θ, noise_sigma) with noise fixed.

    Its exact posterior is the conjugate one; the cross-check compares the two (seed segB §12.5).
    """
    if len(obs) == 0:
        raise ValueError("no complete effect rows: nothing to estimate")
    started = time.perf_counter()
    rules, signals, r_idx, s_idx = _layout(obs)
    n_r, n_s = len(rules), len(signals)
    size = padded_cells(n_r * n_s)
    mu0, s0 = np.zeros(size), np.ones(size)
    mu0[: n_r * n_s] = [settings.prior_for(r, s).mu for r in rules for s in signals]
    s0[: n_r * n_s] = [settings.prior_for(r, s).sigma for r in rules for s in signals]
    data = {"y": obs.delta / settings.noise_sigma, "cell": (r_idx * n_s + s_idx).astype(np.int64),
            "cell_signal": np.zeros(size, dtype=np.int64), "mu0": mu0 / settings.noise_sigma,
            "s0": s0 / settings.noise_sigma}
    idata, _ = _run_nuts("fixed-noise", _fixed_noise_model, data, settings, draws, tune)
    z = idata.posterior["z"].values[:, :, : n_r * n_s]
    theta_draws = (mu0[: n_r * n_s] + s0[: n_r * n_s] * z).reshape(*z.shape[:2], n_r, n_s)
    estimates, max_r_hat, min_ess = _summaries(theta_draws, obs, rules, signals, settings)
    return FitResult(
        method="pymc-fixed-noise",
        estimates=estimates,
        divergences=int(idata.sample_stats["diverging"].values.sum()),
        max_r_hat=max_r_hat,
        min_ess=min_ess,
        seconds=time.perf_counter() - started,
    )


def _fixed_noise_model(data: dict[str, np.ndarray]) -> Any:
    """Standardised by the fixed noise: θ = mu0 + s0·z keeps every coordinate at unit scale."""
    import pymc as pm

    with pm.Model() as model:
        d = {name: pm.Data(name, value) for name, value in data.items()}
        z = pm.Normal("z", 0.0, 1.0, shape=data["cell_signal"].shape[0])
        theta = d["mu0"] + d["s0"] * z
        pm.Normal("obs", mu=theta[d["cell"]], sigma=1.0, observed=d["y"])
    return model
