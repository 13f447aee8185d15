"""Dagster definitions contributed by the resonance area: `resonance_scores` and its SLO checks (it runs as
`resonance_scores_job` on config `resonance.schedule_cron`: sensors/automation.py)."""


import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.atomic import atomic_write_text
from lumen_assets.check_words import described
from lumen_assets.location_config import location_config
from lumen_assets.partitions import cron_freshness
from lumen_assets.resonance.custody import custody_age
from lumen_assets.resonance.mapper import COMPONENTS
from lumen_assets.resonance.slo import (
    SloVerdict,
    band_verdict,
    coherence_verdict,
    freshness_verdict,
    phase_verdict,
    run_success_verdict,
)
from lumen_assets.tables import metadata_table

GROUP = "observability"
_CRON = location_config().resonance.schedule_cron  # the resonance_scores_job's cron (sensors/automation.py)


def _metrics_frame(workspace: LumenWorkspace):
    """The samples of the longest signal window, ending at the newest sample (never the whole history)."""
    import pandas as pd

    from lumen_assets.ingest.metrics_store import load_state, read_metrics

    store = workspace.layout.metrics_store
    state = load_state(store)
    if state is None:
        return None, store
    if state.last_ts_ns is None:
        return read_metrics(store), store
    longest_s = max(w.span_s for w in workspace.config.resonance.windows)
    start = pd.Timestamp(state.last_ts_ns - int(longest_s * 1e9), tz="UTC")
    return read_metrics(store, start), store


@dg.asset(
    group_name=GROUP,
    kinds={"json"},
    owners=["team:lumen"],
    # after the trust assets (issue 11 §2): the safety score reads the day's signatures and log checks
    deps=["metrics", "attestations", "transparency_log"],
    tags={"lumen/runs_despite_upstream": "true"},
    # WARN / FAIL when the resonance_scores_job missed one / two ticks of its cron (none when config turns it off)
    freshness_policy=cron_freshness(_CRON) if _CRON else None,
    description=(
        "Resonance per window and observer channel (seed segD §13): symmetry, continuity, entropy, safety, "
        "phase, coherence from the signals, Lumen's own run history, integrity-check outcomes and custody "
        "age; written to logs/resonance.json."
    ),
)
def resonance_scores(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    from lumen_assets.resonance.instance_inputs import proof_outcomes, run_outcomes
    from lumen_assets.resonance.report import build_report

    config = workspace.config
    settings = config.resonance
    now = datetime.now(UTC)
    frame, metrics_path = _metrics_frame(workspace)
    if frame is None:
        context.log.warning(f"{workspace.rel(metrics_path)} not found: signal components are unknown until `metrics` runs")
    longest = max(
        [w.span_s for w in settings.windows]
        + [settings.run_success.window_s]
        + [b.long_s for b in settings.run_success.burn_windows]
    )
    runs = run_outcomes(
        context.instance, now - timedelta(seconds=longest), limit=settings.run_success.max_runs, exclude_run_id=context.run.run_id
    )
    groups = settings.safety_checks.model_dump()
    proofs, proof_details = proof_outcomes(context.instance, groups)
    custody = custody_age(workspace.path(settings.custody_records), now)
    for problem in custody.unreadable:
        context.log.warning(f"{settings.custody_records}/{problem}")
    document = build_report(
        settings,
        metrics=frame,
        runs=runs,
        proofs=proofs,
        proof_details=proof_details,
        custody_age_d=custody.age_days,
        now=now,
        sample_rate_hz=config.loop.sample_rate_hz,
        gap_factor=config.metrics.gap_factor,
    )
    document["custody"] = {
        "records": custody.records,
        "newest_record": custody.newest_record,
        "unreadable": len(custody.unreadable),
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    output = workspace.path(settings.output)
    atomic_write_text(output, text)
    return dg.MaterializeResult(metadata=_metadata(document, workspace.rel(output), text))


def _metadata(document: dict[str, Any], output: str, text: str) -> dict[str, Any]:
    windows = document["windows"]
    channel_names = list(next(iter(windows.values()))["channels"])
    score_rows = [
        (name, *(w["scores"][c] for c in (*COMPONENTS, "phase", "coherence")), *(w["channels"][c] for c in channel_names))
        for name, w in windows.items()
    ]
    input_rows = []
    for name, w in windows.items():
        signals = w["inputs"]["signals"] or {}
        runs = w["inputs"]["runs"]
        input_rows.append(
            (
                name,
                signals.get("samples", 0),
                signals.get("coverage"),
                signals.get("gap_minutes"),
                runs["runs"],
                runs["failed"],
                ", ".join(f"{k}={v}" for k, v in runs["failure_hist"].items()) or "-",
                runs["duration_p95_s"],
                ", ".join(f"{k}={v}" for k, v in w["inputs"]["proofs"].items()),
                w["inputs"]["custody_age_d"],
                ", ".join(w["unknown"]) or "-",
            )
        )
    sli = document["sli"]["run_success"]
    burn_rows = [
        (f"{int(b['long_s'])}s / {int(b['short_s'])}s", b["factor"], b["long_rate"], b["short_rate"], b["firing"], b["severity"])
        for b in document["sli"]["burn"]
    ]
    proof_rows = [(k, v["status"], v["run_id"] or "-") for k, v in document.get("proof_checks", {}).items()]
    slo = windows[document["slo_window"]]
    meta: dict[str, Any] = {
        "scores": metadata_table(
            [("window", "string"), *((c, "float") for c in (*COMPONENTS, "phase", "coherence")),
             *((f"coherence[{c}]", "float", f"coherence seen by observer channel {c}") for c in channel_names)],
            score_rows,
        ),
        "inputs": metadata_table(
            [("window", "string"), ("samples", "int"), ("coverage", "float"), ("gap_min", "float"), ("runs", "int"),
             ("failed", "int"), ("failure_classes", "string"), ("p95_s", "float", "run duration, 95th percentile"),
             ("proofs", "string"), ("custody_age_d", "float"), ("unknown", "string", "components without data")],
            input_rows,
        ),
        "run_success_sli": f"SLI {sli['ratio']} over {int(sli['window_s'])} s ({sli['success']}/{sli['total']} logical "
        f"runs), target {sli['target']}",
        "burn_rates": metadata_table(
            [("burn_pair", "string", "long / short window"), ("factor", "float"), ("long_rate", "float"),
             ("short_rate", "float"), ("firing", "bool"), ("severity", "string")],
            burn_rows,
        ),
        "proof_checks": metadata_table([("check", "string"), ("latest", "string"), ("run", "string")], proof_rows),
        "path": dg.MetadataValue.path(output),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "data_end": str(document["data_end"]),
    }
    for component in (*COMPONENTS, "phase", "coherence"):
        value = slo["scores"][component]
        if value is not None:
            meta[f"{component}_{document['slo_window']}"] = float(value)
    return meta


# ---- SLO checks --------------------------------------------------------------------------------


def _load_document(workspace: LumenWorkspace) -> dict[str, Any] | None:
    path = workspace.path(workspace.config.resonance.output)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


SLO_FIXES = {
    "coherence": "find the weakest channel's low part in logs/resonance.json (phase, continuity, safety) and the "
                 "rule changes just before it; `lumen rollback` undoes the newest change",
    "phase": "look at the newest rule events' effect on phase_diff (rule_effects partitions); roll back the one "
             "that raised it with `lumen rollback EVENT_ID`",
    "run_success": "open Runs filtered to Failure and fix the first error of each; retried runs still count",
    "freshness": "check that the loop writes logs/metrics.csv and that the daemon runs (dagster dev): the "
                 "rule-event sensor and the 09:05 report schedule keep effects and reports fresh",
}
BAND_FIX = ("the loop runs outside its band: look at the newest rule events' effect on {signal} (rule_effects "
            "partitions) and tune or roll back (`lumen rollback`) the change that moved it")


def _slo_description(verdict: SloVerdict) -> str:
    if verdict.passed:
        return verdict.summary
    signal = verdict.name.removesuffix("_mean")
    fix = SLO_FIXES.get(verdict.name) or BAND_FIX.format(signal=signal)
    return described(False, "", verdict.summary, fix)


def _result(verdict: SloVerdict) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {"summary": verdict.summary}
    for key, value in verdict.figures.items():
        if value is None:
            metadata[key] = dg.MetadataValue.null()
        elif isinstance(value, bool | int | float | str):
            metadata[key] = value
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity(verdict.severity),
        description=_slo_description(verdict),
        metadata=metadata,
    )


def _missing() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=described(False, "", "logs/resonance.json not found, so no SLO can be judged",
                              "materialise resonance_scores (its schedule runs every 10 minutes under the daemon)"),
    )


def _document_check(name: str, description: str, judge):
    @dg.asset_check(asset=resonance_scores, name=name, description=description)
    def _check(workspace: LumenWorkspace) -> dg.AssetCheckResult:
        document = _load_document(workspace)
        if document is None:
            return _missing()
        return _result(judge(document, workspace))

    return _check


coherence_slo = _document_check(
    "coherence_slo",
    "Coherence of every observer channel in the SLO window: < 0.7 ERROR (page), < 0.85 WARN (segD §13.9).",
    lambda doc, ws: coherence_verdict(doc, ws.config.resonance),
)
phase_slo = _document_check(
    "phase_slo",
    "Phase (p95 run duration / scale + failure rate): > 1.2 ERROR, > 0.7 WARN (segD §13.9).",
    lambda doc, ws: phase_verdict(doc, ws.config.resonance),
)
creative_band_slo = _document_check(
    "creative_band_slo",
    "Window mean of creative_band >= the gateway's creative_band_min (0.22).",
    lambda doc, ws: band_verdict(
        doc, ws.config.resonance, "creative_band", ws.config.thresholds.creative_band_min, at_least=True
    ),
)
risk_band_slo = _document_check(
    "risk_band_slo",
    "Window mean of risk_band <= the gateway's risk_band_max (0.35).",
    lambda doc, ws: band_verdict(doc, ws.config.resonance, "risk_band", ws.config.thresholds.risk_band_max, at_least=False),
)
run_success_slo = _document_check(
    "run_success_slo",
    "Lumen's own run success SLI >= 99 % over 7 days, with multi-window burn-rate alerting (segC C9, fixed).",
    lambda doc, ws: run_success_verdict(doc, ws.config.resonance),
)


def _newest_report_day(reports_dir: Path) -> date | None:
    days = []
    for path in reports_dir.glob("report_*.md") if reports_dir.is_dir() else []:
        try:
            days.append(date.fromisoformat(path.stem.removeprefix("report_")))
        except ValueError:
            continue
    return max(days) if days else None


def _newest_sample(path: Path) -> datetime | None:
    """Newest metrics timestamp, from the metrics store's saved state (no data read)."""
    from lumen_assets.ingest.metrics_store import newest_sample

    return newest_sample(path)


@dg.asset_check(
    asset=resonance_scores,
    name="freshness_slo",
    description="Freshness of the metrics stream, the effects table and the daily report.",
)
def freshness_slo(workspace: LumenWorkspace) -> dg.AssetCheckResult:
    config = workspace.config
    fresh = config.resonance.freshness
    now = datetime.now(UTC)
    last_ts = _newest_sample(workspace.layout.metrics_store)
    effects = workspace.layout.effects_csv
    history = workspace.layout.rules_history
    verdict = freshness_verdict(
        now=now,
        metrics_last_ts=last_ts,
        metrics_max_age_s=fresh.metrics_max_age_s or config.metrics.freshness_max_age_s,
        effects_mtime=datetime.fromtimestamp(effects.stat().st_mtime, UTC) if effects.exists() else None,
        effects_expected=history.exists() and history.stat().st_size > 0,
        effects_max_age_s=fresh.effects_max_age_s,
        newest_report_day=_newest_report_day(workspace.path(fresh.reports_dir)),
        today=now.astimezone(config.tz).date(),
        report_max_age_days=fresh.report_max_age_days,
        severity=fresh.severity,
    )
    return _result(verdict)
