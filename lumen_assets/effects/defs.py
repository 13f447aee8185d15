"""The `rule_effects` asset: one daily partition per reporting day (its rule events), written to
logs/rules_effects.csv. Why days and not one partition per event: see README "A year of history"."""


import time
from typing import TYPE_CHECKING, Any

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.step_records import chain_paths, record_step
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.humanize import interval, number, signed
from lumen_assets.ingest.rules import event_day, read_rule_events
from lumen_assets.partitions import daily_partitions
from lumen_assets.signals import SIGNALS
from lumen_assets.tables import metadata_table

if TYPE_CHECKING:
    from lumen_assets.effects.window import WindowSpec

Z95 = 1.959964  # two-sided 95 % normal quantile: Δ ± Z95 · se

def _status_words(row: Any, spec: "WindowSpec") -> str:
    if row.status == "pending":
        return "pending: the post window is not covered by the metrics yet; recomputed on the next run"
    if row.status == "insufficient":
        return (f"insufficient: {row.n_pre} pre / {row.n_post} post samples, fewer than min_samples "
                f"{spec.min_samples} in a window; no Δ is reported as evidence")
    return "complete"


def event_metadata(row: Any, spec: "WindowSpec") -> dict[str, Any]:
    """One rule event's own view: its time, actor, rule, old → new, per signal pre → post and Δ with a 95 %
    interval, n and status. Small on purpose (about 1 KB serialised; a 4-row TableSchema table would
    add 2.6 KB): a backfill writes one per event. The sortable all-events table is on effect_posteriors."""
    from lumen_assets.effects.window import SHORT, SIGNALS

    old = "none" if row.old is None or row.old != row.old else number(row.old)
    metadata: dict[str, Any] = {
        "event_time": str(row.rule_ts),
        "actor": str(row.actor or "unknown"),
        "rule": str(row.rule),
        "change": f"{old} → {number(row.new)}",
        "status": _status_words(row, spec),
        "n_pre": int(row.n_pre) if row.n_pre == row.n_pre else 0,
        "n_post": int(row.n_post) if row.n_post == row.n_post else 0,
    }
    for signal in SIGNALS:
        short = SHORT[signal]
        pre, post, delta = getattr(row, f"pre_{short}"), getattr(row, f"post_{short}"), getattr(row, f"d_{short}")
        half = Z95 * getattr(row, f"se_d_{short}")
        low, high = delta - half, delta + half
        metadata[signal] = f"{number(pre)} → {number(post)}, Δ {signed(delta)} {interval(low, high)}"
    return metadata


def effects_from_store(store, events: list, spec: "WindowSpec", now_ns: int, coverage_ns: int | None):
    """Effects rows for `events` (in their order, with standard errors), reading only the metrics around
    them, a day at a time."""
    import numpy as np
    import pandas as pd

    from lumen_assets.effects.window import SIGNALS, effects_for_events
    from lumen_assets.ingest.metrics_store import event_window_frames

    if not events:
        empty = pd.DataFrame(columns=["ts", *SIGNALS])
        return effects_for_events(empty, [], spec, now_ns, with_standard_errors=True, coverage_ns=coverage_ns)
    t0 = np.array([pd.Timestamp(e.ts).value for e in events], dtype=np.int64)
    parts = []
    for positions, frame in event_window_frames(store, t0, spec.pre_s, spec.post_s):
        part = effects_for_events(frame, [events[i] for i in positions], spec, now_ns,
                                  with_standard_errors=True, coverage_ns=coverage_ns)
        parts.append(part.set_index(pd.Index(positions)))
    return pd.concat(parts).sort_index().reset_index(drop=True)


def window_spec(workspace: LumenWorkspace) -> "WindowSpec":
    from lumen_assets.effects.window import WindowSpec

    settings = workspace.config.effects
    return WindowSpec(**settings.model_dump())


@dg.asset(
    group_name="analysis",
    kinds={"pandas", "csv"},
    owners=["team:lumen"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["metrics", "rule_events"],
    description=(
        "What each rule change did to the four signals: pre/post window means and deltas (IQR then EMA, "
        "raw kept alongside), sample counts and status complete / pending / insufficient. One partition per "
        "reporting day holds that day's rule events, each listed by its readable id (UTC time and rule)."
    ),
)
def rule_effects(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    from lumen_assets.effects.table import upsert_effects
    from lumen_assets.ingest.metrics_store import load_state

    config = workspace.config
    history = read_rule_events(workspace.layout.rules_history, workspace.config.rule_policy(), workspace.layout.rules_cache)
    days = sorted(set(context.partition_keys))
    wanted = set(days)
    span = context.partition_time_window  # the run's days in the reporting timezone (a year: 100,000 events)
    events = [e for e in history.events if span.start <= e.ts < span.end and event_day(e, config.tz) in wanted]
    store = workspace.layout.metrics_store
    state = load_state(store)
    if state is None:
        raise dg.Failure(description=f"{workspace.rel(store)} not found: materialise `metrics` first")
    spec = window_spec(workspace)
    rows = effects_from_store(store, events, spec, time.time_ns(), state.last_ts_ns)
    table = upsert_effects(
        workspace.layout.effects_store,
        workspace.layout.effects_csv,
        rows,
        keep_ids={e.event_id for e in history.events},
    )
    # the in-toto effects step: one record per run, naming the reporting days (partitions) it computed
    record_step(workspace.root_path, chain_paths(config), "rule_effects",
                environment={"run_id": context.run.run_id, "days": days, "events": len(events)})
    # Each day's materialisation lists that day's own events, each by its readable id (UTC time and rule),
    # with its time, actor, rule, old → new, pre → post and Δ with a 95 % interval, n and status; a day
    # with one event also shows that event's fields at the top. The run-wide part stays a few numbers.
    per_day: dict[str, list[dict[str, Any]]] = {day: [] for day in days}
    for event, row in zip(events, rows.itertuples(index=False), strict=True):
        per_day[event_day(event, config.tz)].append({"event_id": event.event_id, **event_metadata(row, spec)})
    for day, views in per_day.items():
        counts = {s: sum(v["status"].startswith(s) for v in views) for s in ("complete", "pending", "insufficient")}
        metadata: dict[str, Any] = {"events": len(views), **counts,
                                    "day_events": metadata_table(DAY_TABLE, views, limit=EVENTS_SHOWN)}
        if len(views) == 1:
            metadata.update(views[0])
        context.add_asset_metadata(metadata, partition_key=day)
    return dg.MaterializeResult(
        metadata={
            "events_in_this_run": len(rows),
            "days_in_this_run": len(days),
            "effects_table_rows": len(table),
            "effects_csv": dg.MetadataValue.path(workspace.rel(workspace.layout.effects_csv)),
        }
    )


EVENTS_SHOWN = 1000  # per day; the effects CSV has every row
DAY_TABLE = [("event_id", "string"), ("event_time", "string"), ("actor", "string"), ("rule", "string"),
             ("change", "string"), *[(name, "string") for name in SIGNALS],
             ("n_pre", "int"), ("n_post", "int"),
             ("status", "string")]


@dg.asset_check(asset=rule_effects, blocking=True, description="Exactly one effects row per rule event; "
                "rows only for events in the history; every complete event has n_pre, n_post >= min_samples.")
def effects_rows_consistent(workspace: LumenWorkspace) -> dg.AssetCheckResult:
    from lumen_assets.effects.table import read_effects_table

    config = workspace.config
    table, store = read_effects_table(workspace.layout.effects_store, workspace.layout.effects_csv)
    history_ids = {e.event_id for e in read_rule_events(workspace.layout.rules_history, workspace.config.rule_policy(), workspace.layout.rules_cache).events}
    table_ids = set(table["event_id"])
    duplicates = len(table) - len(table_ids)
    orphans = sorted(table_ids - history_ids)
    complete = table[table["status"] == "complete"]
    too_few = complete[(complete["n_pre"] < config.effects.min_samples) | (complete["n_post"] < config.effects.min_samples)]
    missing = len(history_ids - table_ids)
    passed = duplicates == 0 and not orphans and too_few.empty and len(store) == len(table)
    problems = [text for count, text in (
        (duplicates, f"{duplicates} event(s) have more than one row"),
        (len(orphans), f"{len(orphans)} row(s) name no event of the history (first: {', '.join(orphans[:3])})"),
        (len(too_few), f"{len(too_few)} complete row(s) have fewer than min_samples {config.effects.min_samples}"),
        (len(store) != len(table), f"the CSV has {len(table)} rows but the effects store {len(store)}"),
    ) if count]
    if not len(table) and passed:
        description = nothing_to_compare(f"no effects rows yet ({missing} event(s) not yet computed)")
    else:
        description = described(
            passed,
            f"{len(table)} rows, one per event, all in the history ({missing} event(s) not yet computed)",
            f"{config.paths.effects_csv} is inconsistent: " + "; ".join(problems),
            f"re-materialise rule_effects for every partition (it rewrites {config.paths.effects_csv} from the "
            "store and drops events no longer in the history); do not append to the CSV by hand",
        )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "rows": len(table),
            "duplicate_rows": duplicates,
            "rows_without_event": len(orphans),
            "complete_below_min_samples": len(too_few),
            "events_not_yet_computed": missing,
            "store_rows": len(store),
        },
    )
