"""The `rule_effects` asset: one dynamic partition per rule event, written to logs/rules_effects.csv."""


import time

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.effects.table import read_effects_csv, read_effects_store, upsert_effects
from lumen_assets.effects.window import WindowSpec, effects_for_events
from lumen_assets.ingest.metrics import read_metrics_parquet
from lumen_assets.ingest.rules import read_rule_events
from lumen_assets.metadata import markdown_table
from lumen_assets.partitions import rule_event_partitions

EFFECTS_STORE = "effects.parquet"


def window_spec(workspace: LumenWorkspace) -> WindowSpec:
    settings = workspace.config.effects
    return WindowSpec(**settings.model_dump())


@dg.asset(
    group_name="analysis",
    kinds={"pandas", "csv"},
    owners=["team:lumen"],
    partitions_def=rule_event_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["metrics", "rule_events"],
    description=(
        "What each rule change did to the four signals: pre/post window means and deltas (IQR then EMA, "
        "raw kept alongside), sample counts and status complete / pending / insufficient."
    ),
)
def rule_effects(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    config = workspace.config
    history = read_rule_events(workspace.path(config.paths.rules_history))
    by_id = history.by_id()
    keys = context.partition_keys
    unknown = [key for key in keys if key not in by_id]
    if unknown:
        raise dg.Failure(
            description=f"rule event(s) {unknown[:5]} are not in {config.paths.rules_history} any more "
            f"({len(unknown)} in all); was the history rewritten?"
        )
    metrics_path = workspace.state_dir / "metrics.parquet"
    if not metrics_path.exists():
        raise dg.Failure(description=f"{metrics_path} not found: materialise `metrics` first")
    frame = read_metrics_parquet(metrics_path)
    events = [by_id[key] for key in keys]
    rows = effects_for_events(frame, events, window_spec(workspace), time.time_ns())
    table = upsert_effects(
        workspace.state_dir / EFFECTS_STORE,
        workspace.path(config.paths.effects_csv),
        rows,
        keep_ids=set(by_id),
    )
    status_counts = rows["status"].value_counts().to_dict()
    preview = rows[["event_id", "rule", "d_phase", "d_entropy", "d_creative", "d_risk", "n_pre", "n_post", "status"]]
    return dg.MaterializeResult(
        metadata={
            "events_computed": len(rows),
            "complete": int(status_counts.get("complete", 0)),
            "pending": int(status_counts.get("pending", 0)),
            "insufficient": int(status_counts.get("insufficient", 0)),
            "table_rows": len(table),
            "effects_csv": dg.MetadataValue.path(str(workspace.path(config.paths.effects_csv))),
            "effects": dg.MetadataValue.md(markdown_table(list(preview.columns), preview.itertuples(index=False))),
        }
    )


@dg.asset_check(asset=rule_effects, blocking=True, description="Exactly one effects row per rule event; "
                "rows only for events in the history; every complete event has n_pre, n_post >= min_samples.")
def effects_rows_consistent(workspace: LumenWorkspace) -> dg.AssetCheckResult:
    config = workspace.config
    table = read_effects_csv(workspace.path(config.paths.effects_csv))
    store = read_effects_store(workspace.state_dir / EFFECTS_STORE)
    history_ids = {e.event_id for e in read_rule_events(workspace.path(config.paths.rules_history)).events}
    duplicates = int(table["event_id"].duplicated().sum())
    orphans = sorted(set(table["event_id"]) - history_ids)
    complete = table[table["status"] == "complete"]
    too_few = complete[(complete["n_pre"] < config.effects.min_samples) | (complete["n_post"] < config.effects.min_samples)]
    missing = len(history_ids - set(table["event_id"]))
    passed = duplicates == 0 and not orphans and too_few.empty and len(store) == len(table)
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows": len(table),
            "duplicate_rows": duplicates,
            "rows_without_event": len(orphans),
            "complete_below_min_samples": len(too_few),
            "events_not_yet_computed": missing,
            "store_rows": len(store),
        },
    )


assets = [rule_effects]
asset_checks = [effects_rows_consistent]
sensors: list = []
schedules: list = []
jobs: list = []
resources: dict = {}
