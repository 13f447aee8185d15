"""Benchmark of the posteriors area (issue 3 §4): pooled PyMC fit, conjugate path, causal impact.

python bench/posteriors.py [--small]
Default: 20 rules x 4 signals x 1,000 events; the PyMC fit is timed after a warm-up fit of the same size
class, which compiles the model (nutpie: numba, once per process and size class; printed separately).
Causal impact: every one of the 1,000 events on a 5 Hz series.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lumen_assets.posteriors.estimate import conjugate_estimates  # noqa: E402
from lumen_assets.posteriors.impact import EventWindowInput, event_impacts  # noqa: E402
from lumen_assets.posteriors.model import fit_pooled  # noqa: E402
from lumen_assets.posteriors.observations import observations_from_records  # noqa: E402
from lumen_assets.posteriors.settings import ImpactSettings, PosteriorsSettings  # noqa: E402
from lumen_assets.signals import SIGNALS  # noqa: E402


def synthetic_evidence(rules: int, events: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    truth = {f"rule_{r:02d}": {s: float(rng.normal(0, 0.01)) for s in SIGNALS} for r in range(rules)}
    records = []
    for e in range(events):
        rule = f"rule_{e % rules:02d}"
        for signal in SIGNALS:
            records.append({"event_id": f"e{e}", "rule": rule, "signal": signal,
                            "delta": truth[rule][signal] + 0.0015 * rng.standard_t(4)})
    return observations_from_records(records), truth


def synthetic_metrics(events: int, spacing_s: float = 300.0, seed: int = 2):
    rng = np.random.default_rng(seed)
    n = int((events + 1) * spacing_s * 5)
    ts_ns = (np.arange(n) * 200_000_000).astype(np.int64)
    noise = np.zeros(n)
    eps = rng.normal(0, 0.01, n)
    for i in range(1, n):  # AR(1) like a smoothed 5 Hz signal
        noise[i] = 0.6 * noise[i - 1] + eps[i]
    phase = 0.45 + noise
    event_ns = [int((k + 1) * spacing_s * 1e9) for k in range(events)]
    for t0 in event_ns:
        phase[ts_ns >= t0] += 0.001 * (1 if (t0 // 1_000_000_000) % 2 else -1)
    return ts_ns, {"phase_diff": phase}, event_ns


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the chain processes): steadier than wall time
    on a machine shared with other work."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="5 rules x 100 events, shorter chains")
    parser.add_argument("--repeat", type=int, default=3, help="timed PyMC fits (each figure is printed)")
    args = parser.parse_args()
    rules, events = (5, 100) if args.small else (20, 1000)
    settings = PosteriorsSettings(sampler={"draws": 300, "tune": 300} if args.small else {})
    obs, truth = synthetic_evidence(rules, events)

    warm = PosteriorsSettings(sampler={**settings.sampler.model_dump(), "max_attempts": 1})
    cpu_before, started = _cpu_seconds(), time.perf_counter()
    warm_fit = fit_pooled(obs, warm, draws=50, tune=50)  # compiles the model once for this process
    print(f"compile + warm-up fit: {time.perf_counter() - started:.1f} s wall, {_cpu_seconds() - cpu_before:.1f} s "
          f"CPU (sampler {warm_fit.diagnostics['sampler']}, compile {warm_fit.diagnostics['compile_seconds']} s)",
          flush=True)
    timings = []
    for _ in range(max(1, args.repeat)):
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        fit = fit_pooled(obs, settings)
        timings.append(time.perf_counter() - started)
        cpu = _cpu_seconds() - cpu_before
        print(f"pymc fit: {timings[-1]:.1f} s wall, {cpu:.1f} s CPU incl. chain processes "
              f"({len(fit.diagnostics['attempts'])} attempt(s), {fit.diagnostics['parameterization']}, "
              f"{fit.diagnostics['mean_leapfrog_steps']:.1f} leapfrog steps/draw, converged {fit.converged})",
              flush=True)
    pymc_s = float(np.median(timings))
    max_error = max(abs(e.mu - truth[e.rule][e.signal]) for e in fit.estimates.values())

    conjugate_estimates(obs, settings)
    started = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        conjugate_estimates(obs, settings)
    conjugate_ms = (time.perf_counter() - started) / repeats * 1000

    ts_ns, series, event_ns = synthetic_metrics(events)
    inputs = [EventWindowInput(f"e{i}", "r", t0) for i, t0 in enumerate(event_ns)]
    started = time.perf_counter()
    impacts = event_impacts(ts_ns, series, inputs, ImpactSettings())
    impact_s = time.perf_counter() - started
    complete = sum(r["status"] == "complete" for r in impacts)

    print(f"pooled fit: {fit.diagnostics['parameterization']}, {fit.diagnostics['mean_leapfrog_steps']:.1f} "
          f"leapfrog steps/draw, divergences {fit.divergences}, min ESS {fit.min_ess:.0f}, "
          f"max |mean - truth| {max_error:.4f}")
    print(f"causal impact: {complete}/{len(impacts)} events complete on {len(ts_ns):,} samples")
    print(f"pymc fits: {', '.join(f'{t:.1f}' for t in timings)} s (median below; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"every parameter converged: {fit.converged} (max r_hat {fit.max_r_hat:.4f}, min bulk/tail ESS "
          f"{fit.min_ess:.0f}, divergences {fit.divergences})")
    print("targets: pymc <= 5 s, conjugate <= 50 ms, max_rhat <= 1.01, impact <= 10 s")
    print(f"posteriors: {rules} rules, {events} events, pymc {pymc_s:.1f} s, conjugate {conjugate_ms:.1f} ms, "
          f"max_rhat {fit.max_r_hat:.4f}, impact {impact_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
