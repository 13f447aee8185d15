"""Dagster definitions of the posteriors area: two posterior assets and `causal_impact`.

`effect_posteriors_conjugate` is the seed's closed form, refreshed in milliseconds after every
`rule_effects` materialisation (logs/bayes_posterior_conjugate.jsonl). `effect_posteriors` is the pooled
PyMC model on its own schedule (config `posteriors.schedule_cron`) or on demand (logs/bayes_posterior.jsonl,
the seed's file). Neither overwrites the other. `posterior_convergence` is an ERROR check that does not
block: an unconverged fit alerts, tuning keeps acting on the last converged fit (posteriors/latest.json),
and the daily report still comes out, saying which fit it shows. Fits are cached per evidence version.

`causal_impact` is one unpartitioned asset over every rule event (not a partition per event): the
closed-form model costs ~1 ms an event, so all 10,000 events of a month take seconds in one run, while a
run per partition costs Dagster seconds each; its consumers (tuning, reports) read all events anyway.
"""


import json
import math
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.atomic import atomic_write_jsonl, atomic_write_text, file_lock
from lumen_assets.attest.step_records import chain_paths, record_step
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.keys import asset_key
from lumen_assets.posteriors.settings import PosteriorsSettings
from lumen_assets.tables import metadata_table

CONJUGATE_CHECK = "conjugate_posterior_valid"
AGREEMENT_CHECK = "posterior_conjugate_agreement"


def append_jsonl(path: Any, record: dict[str, Any]) -> int:
    """Append one record to a JSONL history, atomically (locked read + whole-file rename); returns lines."""
    with file_lock(path):
        lines = []
        if path.exists():
            lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return atomic_write_jsonl(path, [*lines, record])


def _evidence(workspace: LumenWorkspace) -> Any:
    from lumen_assets.effects.table import read_effects_csv
    from lumen_assets.posteriors.observations import observations_from_effects

    effects_path = workspace.layout.effects_csv
    effects = read_effects_csv(effects_path)
    return observations_from_effects(effects, str(effects_path)), effects


def _fit_and_write(workspace: LumenWorkspace, method: str, log_path: Any, fit_path: Any) -> tuple[Any, ...]:
    """One fit of the workspace's evidence, appended to its JSONL log and saved whole: the steps both posterior
    assets share. Returns (observations, effects, result, record, log lines)."""
    from lumen_assets.posteriors.estimate import compute_posteriors

    settings: PosteriorsSettings = workspace.config.posteriors
    obs, effects = _evidence(workspace)
    result = compute_posteriors(obs, settings, method, cache_dir=workspace.layout.posterior_cache_dir)
    record = result.record(settings, datetime.now(tz=workspace.config.tz))
    lines = append_jsonl(log_path, record)
    atomic_write_text(fit_path, json.dumps(dict(result.to_json(), record=record), default=str))
    return obs, effects, result, record, lines


def _read_state(path: Any) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, ValueError):
        return None


def _posterior_metadata(result: Any, obs: Any, settings: PosteriorsSettings, effects: Any, log_path: Any,
                        lines: int) -> dict[str, Any]:
    rows = [
        (e.rule, e.signal, e.n, e.obs_mean, e.mu, e.sigma, e.hdi[0], e.hdi[1], e.p_improve, e.r_hat, e.ess)
        for e in sorted(result.estimates.values(), key=lambda e: (e.rule, e.signal))
    ]
    hdi = f"{settings.hdi_prob:.0%} HDI"
    table = metadata_table(
        [("rule", "string"), ("signal", "string"), ("n", "int", "complete events"),
         ("obs_mean", "float", "mean observed Δ"), ("post_mean", "float", "posterior mean of the effect"),
         ("post_sd", "float"), ("hdi_low", "float", hdi), ("hdi_high", "float", hdi),
         ("p_improve", "float", "P(the change improved the signal)"), ("r_hat", "float"), ("ess", "float")],
        rows, limit=500)
    outcomes = {rule: "no complete events with a numeric Δ: no posterior" for rule in obs.rules_without_evidence}
    outcomes.update({e.rule: "one event: posterior mostly prior/pooled" for e in result.estimates.values() if e.n == 1})
    metadata: dict[str, Any] = {
        "method": result.diagnostics.get("method_name", result.method),
        "data_version": result.data_version[:16],
        "evidence_version": result.evidence_version[:16],
        "cache_hit": result.cache_hit,
        "cells": len(result.estimates),
        "observations": len(obs),
        "complete_rows": obs.counts.get("complete", 0),
        "quarantined_cells": len(obs.quarantined),
        "missing_cells": obs.counts.get("missing_cells", 0),
        "posteriors": table,
        "effects": _effects_table(effects),
        "history_jsonl": dg.MetadataValue.path(log_path),
        "history_lines": lines,
    }
    if outcomes:
        metadata["rule_outcomes"] = dg.MetadataValue.json(outcomes)
    if obs.quarantined:
        metadata["quarantine"] = dg.MetadataValue.json(list(obs.quarantined)[:50])
    return metadata


@dg.asset(
    group_name="analysis",
    kinds={"json"},
    owners=["team:lumen"],
    deps=["rule_effects"],
    description=(
        "The seed's closed-form normal-normal posterior of each rule's effect on each signal (fixed noise "
        "sd), in milliseconds: refreshed after every rule_effects materialisation -> "
        "logs/bayes_posterior_conjugate.jsonl (seed shape). The fast path and the fallback when the PyMC "
        "fit has not converged."
    ),
    check_specs=[
        dg.AssetCheckSpec(CONJUGATE_CHECK, asset="effect_posteriors_conjugate",
                          description="every cell has sd > 0, P(improve) in [0, 1], n >= 1, mean inside its interval"),
    ],
)
def effect_posteriors_conjugate(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    settings: PosteriorsSettings = workspace.config.posteriors
    log_path = workspace.layout.conjugate_posterior_log
    obs, effects, result, record, lines = _fit_and_write(workspace, "conjugate", log_path,
                                                         workspace.layout.conjugate_posteriors)
    acted_on = _read_state(workspace.layout.latest_posteriors)
    if acted_on is None or acted_on.get("fit") != "pymc" or not acted_on.get("converged", False):
        atomic_write_text(workspace.layout.latest_posteriors, json.dumps(record))  # no converged PyMC fit yet
    context.log.info(f"{len(result.estimates)} conjugate rule x signal posteriors (cache hit: {result.cache_hit})")
    bad = [f"{e.rule}/{e.signal}" for e in result.estimates.values()
           if not (e.sigma > 0 and 0 <= e.p_improve <= 1 and e.n >= 1 and e.hdi[0] <= e.mu <= e.hdi[1])]
    check = dg.AssetCheckResult(
        check_name=CONJUGATE_CHECK, passed=not bad, severity=dg.AssetCheckSeverity.ERROR,
        description=nothing_to_compare("no rule has complete events with a numeric Δ yet")
        if not result.estimates else described(
            not bad, f"all {len(result.estimates)} conjugate posteriors are well formed",
            f"{len(bad)} conjugate posterior(s) are malformed (first: {', '.join(bad[:3])})",
            "this is a bug in the conjugate update: report it with the run id and these cells"),
        metadata={"cells": len(result.estimates), "malformed": ", ".join(bad[:20]) or "none"},
    )
    return dg.MaterializeResult(
        metadata=_posterior_metadata(result, obs, settings, effects, workspace.rel(log_path), lines),
        data_version=dg.DataVersion(result.data_version[:16]), check_results=[check],
    )


@dg.asset(
    group_name="analysis",
    kinds={"pymc", "json"},
    owners=["team:lumen"],
    deps=["rule_effects", "effect_posteriors_conjugate"],
    # the full fit runs as `effect_posteriors_job` on config `posteriors.schedule_cron` (sensors/automation.py)
    description=(
        "Bayesian effect of each rule on each signal from all its complete events: PyMC pooled model "
        "(rules share a population prior, learned noise, Student-t likelihood), on its schedule; posterior "
        "mean/sd/HDI, P(improve), r_hat, ESS, every sampling attempt -> logs/bayes_posterior.jsonl (seed "
        "shape, with `converged`). An unconverged fit is still written, marked so; the report then shows the "
        "last converged fit or the conjugate one."
    ),
    check_specs=[
        dg.AssetCheckSpec("posterior_convergence", asset="effect_posteriors", blocking=False,
                          description="r_hat <= 1.01, bulk and tail ESS >= 400 for every parameter, no divergences "
                                      "(ERROR, alerts; non-blocking so the day's report still comes out)"),
    ],
)
def effect_posteriors(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    lumen = workspace.config
    settings: PosteriorsSettings = lumen.posteriors
    log_path = workspace.layout.posterior_log
    obs, effects, result, record, lines = _fit_and_write(workspace, "pymc", log_path, workspace.layout.pymc_posteriors)
    if result.converged:  # tuning acts only on a converged fit
        atomic_write_text(workspace.layout.latest_posteriors, json.dumps(record))
    record_step(workspace.root_path, chain_paths(lumen), "effect_posteriors",  # the in-toto posteriors step
                environment={"run_id": context.run.run_id, "converged": bool(result.converged)})
    attempts = result.diagnostics.get("attempts", [])
    context.log.info(f"{len(result.estimates)} rule x signal posteriors (pymc, converged: {result.converged}, "
                     f"attempts: {len(attempts)}, cache hit: {result.cache_hit})")
    metadata = _posterior_metadata(result, obs, settings, effects, workspace.rel(log_path), lines)
    metadata.update({
        "converged": result.converged,
        "divergences": result.divergences,
        "max_r_hat": float(result.max_r_hat),
        "min_ess": float(result.min_ess) if result.min_ess != float("inf") else None,
        "sampling_seconds": round(result.seconds, 2),
        "geometry": str(result.diagnostics.get("parameterization", "")),
        "attempts": dg.MetadataValue.json(attempts),
        "bayes_posterior_jsonl": dg.MetadataValue.path(workspace.rel(log_path)),
    })
    if result.diagnostics.get("noise_sigma"):
        metadata["learned_noise_sigma"] = dg.MetadataValue.json(result.diagnostics["noise_sigma"])
    return dg.MaterializeResult(
        metadata=metadata,
        data_version=dg.DataVersion(result.data_version[:16]),
        check_results=[convergence_result(result, settings)],
    )


def _effects_table(effects: Any) -> dg.TableMetadataValue:
    """Every rule event's window effect, newest first (sortable): the evidence the posteriors are fitted on."""
    columns = ["rule_ts", "rule", "actor", "old", "new", "d_phase", "d_entropy", "d_creative", "d_risk",
               "n_pre", "n_post", "status", "event_id"]
    newest = effects[columns].iloc[::-1] if len(effects) else effects
    return metadata_table(
        [("event_time", "string"), ("rule", "string"), ("actor", "string"), ("old", "float"), ("new", "float"),
         ("d_phase", "float"), ("d_entropy", "float"), ("d_creative", "float"), ("d_risk", "float"),
         ("n_pre", "int"), ("n_post", "int"), ("status", "string"), ("event_id", "string")],
        (list(row) for row in newest.itertuples(index=False)) if len(effects) else [], limit=500)


def convergence_result(result: Any, settings: PosteriorsSettings) -> dg.AssetCheckResult:
    """ERROR, not blocking: the failure alerts; what acts on posteriors (tuning) reads posteriors/latest.json,
    which only a converged fit (or the conjugate set, before any converged fit) replaces."""
    checks = settings.checks
    bad = [f"{e.rule}/{e.signal}" for e in result.estimates.values()
           if (not math.isnan(e.r_hat) and e.r_hat > checks.r_hat_max) or e.ess < checks.ess_min]
    hyper = result.diagnostics.get("hyperparameters", {})
    bad += [name for name, d in hyper.items() if (not math.isnan(d["r_hat"]) and d["r_hat"] > checks.r_hat_max)
            or d["ess"] < checks.ess_min]
    sane = all(e.sigma > 0 and 0 <= e.p_improve <= 1 and e.n >= 1 for e in result.estimates.values())
    passed = not bad and result.divergences <= checks.max_divergences and sane
    problems = []
    if bad:
        problems.append(f"{len(bad)} parameter(s) over r̂ {checks.r_hat_max} or under ESS {checks.ess_min} "
                        f"({', '.join(bad[:5])})")
    if result.divergences > checks.max_divergences:
        problems.append(f"{result.divergences} divergent transitions (allowed {checks.max_divergences})")
    if not sane:
        problems.append("a posterior has sd <= 0, P(improve) outside [0, 1] or n < 1")
    if not result.estimates and passed:
        description = nothing_to_compare("no rule has complete events with a numeric Δ, so nothing was fitted")
    else:
        description = described(
            passed,
            f"{len(result.estimates)} rule × signal posteriors converged ({result.method}: max r̂ "
            f"{float(result.max_r_hat):.4f}, {result.divergences} divergences)",
            f"the {result.method} fit did not converge: " + "; ".join(problems),
            "look at the attempts in the materialisation's metadata and the cells named; raise "
            "posteriors.sampler draws/tune (or target_accept for divergences) and re-materialise "
            "effect_posteriors. Until then tuning uses the last converged fit and the daily report shows it "
            "(or the conjugate one), marked as such",
        )
    return dg.AssetCheckResult(
        check_name="posterior_convergence",
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={"method": result.method, "max_r_hat": float(result.max_r_hat),
                  "attempts": len(result.diagnostics.get("attempts", [])),
                  "min_ess": float(result.min_ess) if result.min_ess != float("inf") else None,
                  "divergences": result.divergences, "failing_parameters": ", ".join(bad[:20]) or "none",
                  "sd_positive_p_in_range_n_ge_1": sane},
    )


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(
        AGREEMENT_CHECK, asset="effect_posteriors", additional_deps=["effect_posteriors_conjugate"],
        description="PyMC, run on the conjugate asset's own model (fixed noise), reproduces "
                    "effect_posteriors_conjugate's posterior on the same evidence (|Δμ| <= 0.1 sd, sd within 10%); "
                    "skipped when the two have no evidence in common")],
    can_subset=True,
)
def posterior_conjugate_agreement(context: dg.AssetCheckExecutionContext, workspace: LumenWorkspace):
    """Compares the two posterior assets. With nothing to compare it yields no result, so Dagster shows the
    check as skipped (never a vacuous pass) and the reason is in the step's log."""
    from lumen_assets.posteriors.estimate import PosteriorSet, agreement

    settings: PosteriorsSettings = workspace.config.posteriors
    pymc = _read_state(workspace.layout.pymc_posteriors)
    conjugate = _read_state(workspace.layout.conjugate_posteriors)
    reason = ""
    if pymc is None:
        reason = "effect_posteriors has not been materialised yet"
    elif conjugate is None:
        reason = "effect_posteriors_conjugate has not been materialised yet"
    elif pymc.get("evidence_version") != conjugate.get("evidence_version"):
        reason = ("the two fits are of different evidence (effects changed in between): materialise "
                  "effect_posteriors_conjugate and effect_posteriors together")
    if reason:
        context.log.info(f"{AGREEMENT_CHECK} skipped: {reason}")
        return
    twin = PosteriorSet.from_json(pymc).twin
    exact = PosteriorSet.from_json(conjugate).estimates
    rows = agreement(twin, exact, settings)
    if not rows:
        context.log.info(f"{AGREEMENT_CHECK} skipped: no rule x signal cell has evidence in both fits")
        return
    failing = [r for r in rows if not r["ok"]]
    yield dg.AssetCheckResult(
        asset_key=asset_key("effect_posteriors"),
        check_name=AGREEMENT_CHECK,
        passed=not failing,
        severity=dg.AssetCheckSeverity.WARN,
        description=described(
            not failing, f"PyMC reproduces the conjugate posterior in all {len(rows)} cells",
            f"{len(failing)} of {len(rows)} cells disagree with the conjugate posterior (first: "
            + ", ".join(f"{r['rule']}/{r['signal']}" for r in failing[:3]) + ")",
            "the sampler does not reproduce an exact posterior: raise posteriors.sampler draws, re-materialise "
            "effect_posteriors and report it if it persists",
        ),
        metadata={
            "compared_cells": len(rows),
            "evidence_version": str(pymc.get("evidence_version", ""))[:16],
            "max_mean_diff_in_sds": max(r["mean_sds"] for r in rows),
            "max_sd_rel_diff": max(r["sd_rel"] for r in rows),
            "failing": metadata_table([("rule", "string"), ("signal", "string"), ("mean_sds", "float"),
                                       ("sd_rel", "float")],
                                      [(r["rule"], r["signal"], r["mean_sds"], r["sd_rel"]) for r in failing]),
        },
    )


@dg.asset(
    group_name="analysis",
    kinds={"numpy", "json"},
    owners=["team:lumen"],
    deps=["metrics", "rule_events"],
    description=(
        "Counterfactual effect of every rule event on the configured metric (seed impact_estimator, fixed: "
        "no post-treatment controls, autocorrelation-aware interval): closed-form Bayesian linear model on "
        "the pre window, effect = observed - predicted post mean, interval and tail-area probability."
    ),
    check_specs=[dg.AssetCheckSpec("causal_impact_valid", asset="causal_impact",
                                   description="every complete estimate has lo <= mean <= hi and p in [0, 1]")],
)
def causal_impact(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    import numpy as np

    from lumen_assets.ingest.metrics_store import event_window_frames, load_state
    from lumen_assets.ingest.rules import read_rule_events
    from lumen_assets.posteriors.impact import EventWindowInput, event_impacts
    from lumen_assets.signals import improvement_sign

    lumen = workspace.config
    settings = lumen.posteriors.impact
    store = workspace.layout.metrics_store
    state = load_state(store)
    if state is None:
        raise dg.Failure(description=f"{workspace.rel(store)} not found: materialise `metrics` first")
    history = read_rule_events(workspace.layout.rules_history, workspace.config.rule_policy(), workspace.layout.rules_cache)
    inputs = [EventWindowInput(e.event_id, e.rule, int(e.ts.timestamp() * 1e9)) for e in history.events]
    by_id = {e.event_id: e for e in history.events}
    started = datetime.now(tz=UTC)
    t0 = np.array([i.t0_ns for i in inputs], dtype=np.int64)
    by_position: dict[int, dict] = {}
    for positions, frame in event_window_frames(store, t0, settings.pre_s, settings.post_s):
        ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        series = {name: frame[name].to_numpy(dtype=float) for name in [settings.metric, *settings.controls]}
        chunk = event_impacts(ts_ns, series, [inputs[i] for i in positions], settings, state.last_ts_ns)
        by_position.update(zip((int(i) for i in positions), chunk, strict=True))
    reports = [by_position[i] for i in range(len(inputs))]
    seconds = (datetime.now(tz=UTC) - started).total_seconds()
    sign = improvement_sign(settings.metric)
    records = []
    for report in reports:
        event = by_id[report["event_id"]]
        record = {"ts": event.ts_text, "event": {"ts": event.ts_text, "actor": event.actor, "rule": event.rule,
                                                  "old": event.old, "new": event.new, "note": event.note}}
        record.update(report)
        if report["status"] == "complete":
            record["effect_ci95"] = report["interval"]  # seed field name, now the honest interval
            record["p_improve"] = report["p_positive"] if sign > 0 else 1 - report["p_positive"]
        records.append(record)
    path = workspace.layout.impact_log
    atomic_write_jsonl(path, records)
    complete = [r for r in records if r["status"] == "complete"]
    bad = [r["event_id"] for r in complete
           if not (r["interval"][0] <= r["effect_mean"] <= r["interval"][1] and 0 <= r["p_tail"] <= 1)]
    rows = [(r["ts"], r["event_id"], r["rule"], r["status"], r.get("effect_mean"),
             r["interval"][0] if "interval" in r else None, r["interval"][1] if "interval" in r else None,
             r.get("p_tail"), r.get("n_pre"), r.get("n_post"), r.get("reason", "")) for r in records]
    counts = {s: sum(r["status"] == s for r in records) for s in ("complete", "pending", "insufficient")}
    return dg.MaterializeResult(
        metadata={
            **counts,
            "events": len(records),
            "metric": settings.metric,
            "controls": ", ".join(settings.controls) or "none (pre-window level)",
            "seconds": round(seconds, 3),
            "impact_reports_jsonl": dg.MetadataValue.path(workspace.rel(path)),
            "impacts": metadata_table(
                [("event_time", "string"), ("event_id", "string"), ("rule", "string"), ("status", "string"),
                 ("effect", "float"), ("low", "float", f"{settings.interval_prob:.0%} interval"),
                 ("high", "float", f"{settings.interval_prob:.0%} interval"), ("p_tail", "float"),
                 ("n_pre", "int"), ("n_post", "int"), ("reason", "string")], rows[::-1], limit=500),
        },
        check_results=[dg.AssetCheckResult(
            check_name="causal_impact_valid", passed=not bad, severity=dg.AssetCheckSeverity.ERROR,
            description=nothing_to_compare(f"none of {len(records)} events has a complete estimate yet")
            if not complete else described(
                not bad, f"all {len(complete)} complete estimates have lo <= mean <= hi and p in [0, 1]",
                f"{len(bad)} estimate(s) are invalid (first: {', '.join(bad[:3])})",
                "this is a bug in the impact model: report it with the run id and these event ids",
            ),
            metadata={"invalid_events": ", ".join(bad[:20]) or "none", "complete_estimates": len(complete)})],
    )
