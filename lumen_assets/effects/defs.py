"""The `rule_effects` asset: one dynamic partition per rule event, written to logs/rules_effects.csv."""


import time
from typing import TYPE_CHECKING, Any

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.humanize import interval, number, signed
from lumen_assets.ingest.rules import read_rule_events
from lumen_assets.partitions import rule_event_partitions

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
    partitions_def=rule_event_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["metrics", "rule_events"],
    description=(
        "What each rule change did to the four signals: pre/post window means and deltas (IQR then EMA, "
        "raw kept alongside), sample counts and status complete / pending / insufficient."
    ),
)
def rule_effects(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    from lumen_assets.effects.table import upsert_effects
    from lumen_assets.ingest.metrics_store import load_state

    config = workspace.config
    history = read_rule_events(workspace.layout.rules_history, workspace.config.rule_policy())
    by_id = history.by_id()
    keys = context.partition_keys
    unknown = [key for key in keys if key not in by_id]
    if unknown:
        raise dg.Failure(
            description=f"rule event(s) {unknown[:5]} are not in {config.paths.rules_history} any more "
            f"({len(unknown)} in all); was the history rewritten?"
        )
    store = workspace.layout.metrics_store
    state = load_state(store)
    if state is None:
        raise dg.Failure(description=f"{workspace.rel(store)} not found: materialise `metrics` first")
    events = [by_id[key] for key in keys]
    spec = window_spec(workspace)
    rows = effects_from_store(store, events, spec, time.time_ns(), state.last_ts_ns)
    table = upsert_effects(
        workspace.layout.effects_store,
        workspace.layout.effects_csv,
        rows,
        keep_ids=set(by_id),
    )
    # Each partition's materialisation carries its own event's figures (a single-run backfill over many
    # events used to stamp one run-wide table on every partition); the run-wide part stays a few numbers.
    for key, row in zip(keys, rows.itertuples(index=False), strict=True):
        context.add_asset_metadata(event_metadata(row, spec), partition_key=key)
    return dg.MaterializeResult(
        metadata={
            "events_in_this_run": len(rows),
            "effects_table_rows": len(table),
            "effects_csv": dg.MetadataValue.path(workspace.rel(workspace.layout.effects_csv)),
        }
    )


@dg.asset_check(asset=rule_effects, blocking=True, description="Exactly one effects row per rule event; "
                "rows only for events in the history; every complete event has n_pre, n_post >= min_samples.")
def effects_rows_consistent(workspace: LumenWorkspace) -> dg.AssetCheckResult:
    from lumen_assets.effects.table import read_effects_csv, read_effects_store

    config = workspace.config
    table = read_effects_csv(workspace.layout.effects_csv)
    store = read_effects_store(workspace.layout.effects_store)
    history_ids = {e.event_id for e in read_rule_events(workspace.layout.rules_history, workspace.config.rule_policy()).events}
    duplicates = int(table["event_id"].duplicated().sum())
    orphans = sorted(set(table["event_id"]) - history_ids)
    complete = table[table["status"] == "complete"]
    too_few = complete[(complete["n_pre"] < config.effects.min_samples) | (complete["n_post"] < config.effects.min_samples)]
    missing = len(history_ids - set(table["event_id"]))
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
