"""Dagster definitions of the tuning area: `tuning_proposals` (dry-run) and the `apply_tuning` job.

Proposals land in logs/tuning_decisions.jsonl and the asset's metadata. Applying is a separate job that
acts only when config says `tuning.dry_run: false`, and only on proposals whose decision gate passed
and whose guards hold at apply time; it appends to controls/rules_history.jsonl with actor `lumen-tuner`,
`old` and `new`, and the rule-event sensor then treats the change like any other.
"""

import hashlib
import json
import math
from datetime import datetime
from typing import Any

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.atomic import atomic_write_text, upsert_jsonl
from lumen_assets.tables import metadata_table


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null (json would write bare NaN, which is not JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dg.asset(
    group_name="analysis",
    kinds={"python", "json"},
    owners=["team:lumen"],
    deps=["effect_posteriors", "effect_posteriors_conjugate", "rule_effects", "metrics", "rule_events"],
    description=(
        "Next rule changes with reasons, expected gain and P(improve) from the posteriors: self-tuning "
        "(targets, bounds, cooldown, warning gate), Thompson bandit (arm state persists), A/B bracket. "
        "Dry-run: written to logs/tuning_decisions.jsonl; `apply_tuning` acts on them when enabled."
    ),
)
def tuning_proposals(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    import numpy as np
    import pandas as pd

    from lumen_assets.effects.table import read_effects_csv
    from lumen_assets.ingest.metrics_store import load_state, read_metrics
    from lumen_assets.ingest.rules import read_rule_events
    from lumen_assets.tuning.bandit import BanditState
    from lumen_assets.tuning.proposals import SIGNALS, evaluate

    lumen = workspace.config
    settings = lumen.tuning
    events = read_rule_events(workspace.layout.rules_history, workspace.config.rule_policy(), workspace.layout.rules_cache).events
    effects = read_effects_csv(workspace.layout.effects_csv)
    posterior_path = workspace.layout.latest_posteriors
    posteriors = json.loads(posterior_path.read_text(encoding="utf-8"))["rules"] if posterior_path.exists() else {}
    state_path = workspace.layout.bandit_state
    state = BanditState.from_json(json.loads(state_path.read_text(encoding="utf-8"))) if state_path.exists() else None
    store_state = load_state(workspace.layout.metrics_store)
    if store_state is not None and store_state.last_ts_ns is not None:
        # only the samples the proposals look at: the observe window, and the events not yet rewarded
        start_ns = store_state.last_ts_ns - int(settings.observe_window_s * 1e9)
        rewarded = state.rewarded if state is not None else {}
        looked_at = {settings.bandit.rule} if settings.bandit.enabled else set()
        if settings.ab_bracket.enabled:
            looked_at.add(settings.ab_bracket.rule)
        unrewarded = [int(e.ts.timestamp() * 1e9) for e in events
                      if e.rule in looked_at and e.event_id not in rewarded]
        start_ns = min([start_ns, *unrewarded])
        frame = read_metrics(workspace.layout.metrics_store, pd.Timestamp(start_ns, tz="UTC"))
        ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        series = {s: frame[s].to_numpy(dtype=float) for s in SIGNALS}
    else:
        ts_ns, series = np.zeros(0, dtype=np.int64), {s: np.zeros(0) for s in SIGNALS}
    now = datetime.now(tz=lumen.tz)
    rhythm_blend = None
    if settings.rhythm_weight and len(ts_ns):  # seed segC §C1: off unless tuning.rhythm_weight > 0
        from lumen_assets.rhythm.incremental import read_sync_span
        from lumen_assets.rhythm.sync import blend_over

        last_ns = int(ts_ns[-1])  # only the steps that can overlap the observation window are read
        sync = read_sync_span(workspace.path(lumen.rhythm.output), workspace.layout.rhythm_sync_state,
                              last_ns - int((settings.observe_window_s + lumen.rhythm.step_s) * 1e9), last_ns + 1)
        rhythm_blend = blend_over(sync, last_ns, settings.observe_window_s)
    evaluation = evaluate(settings, events, effects, ts_ns, series, posteriors, state, now, rhythm_blend)
    if evaluation.bandit_state is not None:
        atomic_write_text(state_path, json.dumps(_clean(evaluation.bandit_state.to_json())))
    proposals = [_clean(p.as_dict()) for p in evaluation.proposals]
    basis = {"events": len(events), "last_event": events[-1].event_id if events else None,
             "posterior_version": posteriors and json.loads(posterior_path.read_text())["data_version"],
             "proposals": proposals}
    decision_id = hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()[:16]
    record = {"ts": now.isoformat(), "kind": "proposals", "decision_id": decision_id,
              "dry_run": settings.dry_run, "proposals": proposals, "notes": evaluation.notes}
    log_path = workspace.layout.tuning_decisions
    added, total = upsert_jsonl(log_path, [record], key=lambda r: r.get("decision_id", r.get("ts", "")))
    atomic_write_text(workspace.layout.tuning_latest, json.dumps(record, ensure_ascii=False))
    rows = [(p["kind"], p["rule"], p["old"], p["new"], p["weighted_p_improve"], p["weighted_gain"],
             "yes" if p["applicable"] else "; ".join(p["blocked"]) or "no", p["reason"]) for p in proposals]
    return dg.MaterializeResult(metadata={
        "decision_id": decision_id,
        "dry_run": settings.dry_run,
        "applicable": sum(p["applicable"] for p in proposals),
        "new_decision_record": bool(added),
        "decision_records": total,
        "proposals": metadata_table(
            [("kind", "string"), ("rule", "string"), ("old", "float"), ("new", "float"),
             ("weighted_p_improve", "float", "weighted P(improve)"), ("expected_gain", "float"),
             ("applicable", "string", "yes, or what blocks it"), ("reason", "string")], rows),
        "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in evaluation.notes) or "none"),
        "tuning_decisions_jsonl": dg.MetadataValue.path(workspace.rel(log_path)),
    })


@dg.op(description="Append the applicable proposals to the rules history (only when tuning.dry_run is false).")
def apply_tuning_changes(context: dg.OpExecutionContext, workspace: LumenWorkspace) -> dg.Output:
    from lumen_assets.ingest.rules import read_rule_events
    from lumen_assets.tuning.changes import append_rule_events, rule_event
    from lumen_assets.tuning.proposals import select_changes
    from lumen_assets.tuning.self_tuning import Proposal

    lumen = workspace.config
    settings = lumen.tuning
    latest_path = workspace.layout.tuning_latest
    if settings.dry_run:
        return dg.Output(None, metadata={"applied": 0, "reason": "tuning.dry_run is true (the default)"})
    if not latest_path.exists():
        return dg.Output(None, metadata={"applied": 0, "reason": "no proposals yet: materialise tuning_proposals"})
    latest = json.loads(latest_path.read_text(encoding="utf-8"))
    fields = set(Proposal.__dataclass_fields__)
    proposals = [Proposal(**{k: v for k, v in p.items() if k in fields}) for p in latest["proposals"]]
    for proposal, raw in zip(proposals, latest["proposals"], strict=True):
        proposal.blocked = list(raw["blocked"])
    history = workspace.layout.rules_history
    events = read_rule_events(history, workspace.config.rule_policy(), workspace.layout.rules_cache).events
    now = datetime.now(tz=lumen.tz)
    chosen = select_changes(proposals, settings, events, now)
    records = [rule_event(now, settings.actor, p.rule, p.old, p.new,
                          f"{p.kind} (decision {latest['decision_id']}): {p.reason}") for p in chosen]
    if records:
        append_rule_events(history, records)
        upsert_jsonl(workspace.layout.tuning_decisions,
                     [{"ts": now.isoformat(), "kind": "applied", "decision_id": f"{latest['decision_id']}-applied",
                       "applied": records}], key=lambda r: r.get("decision_id", r.get("ts", "")))
    context.log.info(f"applied {len(records)} change(s)")
    return dg.Output(None, metadata={
        "applied": len(records),
        "changes": metadata_table([("rule", "string"), ("old", "float"), ("new", "float"), ("note", "string")],
                                  [(r["rule"], r["old"], r["new"], r["note"]) for r in records]),
        "decision_id": latest["decision_id"],
    })


@dg.job(description="Apply gated tuning proposals to controls/rules_history.jsonl (no-op in dry-run).")
def apply_tuning() -> None:
    apply_tuning_changes()
