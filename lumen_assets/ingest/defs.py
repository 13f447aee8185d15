"""Ingest assets: the two raw inputs of the loop, parsed, validated, quarantined and counted."""


import time
from datetime import datetime, timedelta
from datetime import time as dt_time

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.step_records import byte_range_sha256, chain_paths, record_step
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.humanize import duration
from lumen_assets.ingest.quarantine import record_quarantine, write_quarantine
from lumen_assets.ingest.rules import read_rule_events
from lumen_assets.partitions import daily_partitions
from lumen_assets.tables import metadata_table

METRICS_CHECKS = [
    dg.AssetCheckSpec("metrics_schema_range_order", asset="metrics", blocking=True,
                      description="Cleaned metrics: the five columns, values in [0, 1] or missing, time-sorted."),
    dg.AssetCheckSpec("metrics_quarantine_rate", asset="metrics",
                      description="Share of quarantined rows stays under metrics.quarantine_max_fraction."),
    dg.AssetCheckSpec("metrics_freshness", asset="metrics",
                      description="The newest sample is younger than metrics.freshness_max_age_s."),
]


def migrate_workspace_event_ids(workspace: LumenWorkspace, events: list) -> int:
    """Stored records still naming events by their old content-hash id get the readable id."""
    from lumen_assets.ingest.migrate import migrate_effects, migrate_json_keys, migrate_jsonl
    from lumen_assets.ingest.rules import legacy_id_map

    config = workspace.config
    layout = workspace.layout
    id_map = legacy_id_map(events)
    return (
        migrate_jsonl(workspace.path(config.evidence.quotes_bank), id_map)
        + migrate_jsonl(workspace.path(config.evidence.risk_ledger), id_map)
        + migrate_effects(layout.effects_store, layout.effects_csv, id_map)
        + migrate_json_keys(layout.bandit_state, "rewarded", id_map)
    )


@dg.asset(
    group_name="ingest",
    kinds={"json"},
    owners=["team:lumen"],
    description="Rule changes from controls/rules_history.jsonl, each with a stable id; bad lines quarantined.",
)
def rule_events(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    config = workspace.config
    source = workspace.layout.rules_history
    parsed = read_rule_events(source, workspace.config.rule_policy(), workspace.layout.rules_cache)
    quarantine = workspace.layout.quarantine_dir / "rules_history.jsonl"
    write_quarantine(quarantine, workspace.rel(source), ((q.line_no, q.reason, q.text) for q in parsed.quarantined))
    migrated = migrate_workspace_event_ids(workspace, parsed.events)
    if migrated:
        context.log.info(f"renamed {migrated} stored record(s) from content-hash to readable event ids")
    first_day, last_day = daily_partitions.start.date(), daily_partitions.end.date() if daily_partitions.end else None
    before = datetime.combine(first_day, dt_time(), config.tz)  # the first day's start, the last day's end
    after = datetime.combine(last_day + timedelta(days=1), dt_time(), config.tz) if last_day else None
    outside = [e for e in parsed.events if e.ts < before or (after is not None and e.ts >= after)]
    for event in outside[:5]:
        context.log.warning(f"{workspace.rel(source)}:{event.line_no}: event {event.event_id} is outside the daily "
                            f"partitions ({first_day} ..): its effects are not computed")
    for q in parsed.quarantined[:20]:  # each log line is a stored Dagster event: the rest are in the quarantine file
        context.log.warning(f"{workspace.rel(source)}:{q.line_no}: quarantined: {q.reason}")
    if len(parsed.quarantined) > 20:
        context.log.warning(f"... and {len(parsed.quarantined) - 20} more quarantined line(s): see {workspace.rel(quarantine)}")
    rules = sorted({e.rule for e in parsed.events})
    record_step(workspace.root_path, chain_paths(config), "rule_events",  # the in-toto ingest step
                environment={"run_id": context.run.run_id, "events": len(parsed.events)})
    return dg.MaterializeResult(
        metadata={
            "events": len(parsed.events),
            "quarantined_lines": len(parsed.quarantined),
            "events_outside_partitions": len(outside),
            "ids_migrated": migrated,
            "rules": ", ".join(rules),
            "incomplete_last_line": bool(parsed.incomplete_tail),
            "source": dg.MetadataValue.path(workspace.rel(source)),
            "quarantine_file": dg.MetadataValue.path(workspace.rel(quarantine)),
            "latest_events": metadata_table(
                [("ts", "string"), ("rule", "string"), ("actor", "string"), ("old", "float"), ("new", "float"),
                 ("note", "string"), ("event_id", "string", "the event's rule_event partition key")],
                [(e.ts_text, e.rule, e.actor, e.old, e.new, e.note, e.event_id) for e in parsed.events[::-1]],
                limit=200,
            ),
            "quarantine_preview": metadata_table([("line", "int"), ("reason", "string")],
                                                 [(q.line_no, q.reason) for q in parsed.quarantined[:50]]),
        }
    )


@dg.asset(
    group_name="ingest",
    kinds={"pandas", "parquet"},
    owners=["team:lumen"],
    check_specs=METRICS_CHECKS,
    description=(
        "The 5 Hz signal stream from logs/metrics.csv: typed, validated, sorted, stored as Parquet split by "
        "UTC day. Incremental: each run parses only the lines appended since the saved offset (a truncated, "
        "rotated or rewritten file is read again from the start)."
    ),
)
def metrics(context: dg.AssetExecutionContext, workspace: LumenWorkspace):

    from lumen_assets.ingest.metrics import MetricsFormatError
    from lumen_assets.ingest.metrics_store import ingest_metrics, stored_days

    config = workspace.config
    source = workspace.layout.metrics_csv
    store = workspace.layout.metrics_store
    if source.exists() and source.stat().st_size == 0:
        yield from _no_data_rows(workspace, "the file is empty (expected the header ts,phase_diff,entropy_rate,"
                                            "creative_band,risk_band and 5 Hz rows)")
        return
    try:
        run = ingest_metrics(source, store, config.loop.sample_rate_hz, config.metrics.gap_factor,
                             legacy=workspace.layout.legacy_metrics_parquet)
    except MetricsFormatError as exc:
        raise dg.Failure(description=workspace.scrub(str(exc))) from None
    state = run.state
    quarantine = workspace.layout.quarantine_dir / "metrics.jsonl"
    record_quarantine(quarantine, workspace.rel(source), run.quarantined, bool(run.reset_reason))
    if run.reset_reason:
        if run.reset_reason not in ("new", "migrated"):
            context.log.warning(f"{workspace.rel(source)} was {run.reset_reason}: the metrics store was rebuilt from its first line")
    for line_no, reason, _ in run.quarantined[:20]:
        context.log.warning(f"{workspace.rel(source)}:{line_no}: quarantined: {reason}")
    days = stored_days(store)
    read_from = state.offset - run.bytes_read  # the in-toto ingest step: the bytes of metrics.csv read this run
    record_step(workspace.root_path, chain_paths(config), "metrics", environment={
        "run_id": context.run.run_id, "rows_added": run.rows_added,
        "read": {"path": workspace.rel(source), "bytes": [read_from, state.offset],
                 "sha256": byte_range_sha256(source, read_from, state.offset)}})
    yield dg.MaterializeResult(
        metadata={
            **run.figures(),
            "days": len(days),
            "days_written": ", ".join(run.days_written[-10:]) + (" ..." if len(run.days_written) > 10 else ""),
            "store": dg.MetadataValue.path(workspace.rel(store)),
            "quarantine_file": dg.MetadataValue.path(workspace.rel(quarantine)),
            "missing_by_signal": metadata_table([("signal", "string"), ("missing", "int")],
                                                [(name, count) for name, count in state.missing_cells.items()]),
        }
    )
    if not state.rows_stored:
        for result in _no_data_rows(workspace, "the file has its header and no data rows"):
            if isinstance(result, dg.AssetCheckResult):
                yield result
        return
    problems = run.problems
    yield dg.AssetCheckResult(
        check_name="metrics_schema_range_order",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=nothing_to_compare("no new metrics rows were read") if not run.rows_added else described(
            not problems,
            f"{run.rows_added} new rows: the five columns, values in [0, 1] or missing, time-sorted",
            "the cleaned metrics break the schema: " + "; ".join(problems),
            "this is a bug in the metrics reader (bad rows should have been quarantined): report it with "
            "the run id; downstream assets are blocked until it passes",
        ),
        metadata={"problems": "; ".join(problems) or "none", "rows_checked": run.rows_added},
    )
    fraction = state.quarantine_fraction
    bound = config.metrics.quarantine_max_fraction
    quarantine_ok = fraction <= bound
    yield dg.AssetCheckResult(
        check_name="metrics_quarantine_rate",
        passed=quarantine_ok,
        severity=dg.AssetCheckSeverity.WARN,
        description=nothing_to_compare(f"{source.name} has no rows") if not state.rows_read else described(
            quarantine_ok,
            f"{state.quarantined} of {state.rows_read} rows quarantined ({fraction:.2%} <= {bound:.2%})",
            f"{state.quarantined} of {state.rows_read} rows of {source.name} were quarantined "
            f"({fraction:.2%}, more than metrics.quarantine_max_fraction {bound:.2%})",
            f"read the reasons in {config.paths.quarantine_dir}/metrics.jsonl (file line and why), fix what "
            "writes the bad rows, then re-materialise metrics",
        ),
        metadata={"quarantined_fraction": fraction, "bound": bound, "quarantined_rows": state.quarantined},
    )
    age_s = (time.time_ns() - state.last_ts_ns) / 1e9 if state.last_ts_ns is not None else float("inf")
    max_age_s = config.metrics.freshness_max_age_s
    fresh = age_s <= max_age_s
    yield dg.AssetCheckResult(
        check_name="metrics_freshness",
        passed=fresh,
        severity=dg.AssetCheckSeverity.WARN,
        description=described(
            fresh,
            f"the newest sample is {duration(age_s)} old (limit {duration(max_age_s)})",
            f"the newest sample of {source.name} is {duration(age_s)} old, older than "
            f"metrics.freshness_max_age_s ({duration(max_age_s)})" if state.last_ts_ns is not None
            else f"{source.name} has no samples",
            "check that the loop (System C) is still writing logs/metrics.csv, then re-materialise metrics; "
            "for a historical workspace this warning is expected",
        ),
        metadata={"newest_sample_age": duration(age_s), "newest_sample_age_s": age_s,
                  "max_age": duration(max_age_s), "max_age_s": max_age_s},
    )


def _no_data_rows(workspace: LumenWorkspace, why: str):
    """An empty metrics file, or one with only its header: an ERROR (blocking) check result "no data rows"
    naming the file, never a silent 0-row store (issue 11 §3)."""
    name = workspace.rel(workspace.layout.metrics_csv)
    yield dg.MaterializeResult(metadata={"dagster/row_count": 0, "source": dg.MetadataValue.path(name), "problem": why})
    yield dg.AssetCheckResult(
        check_name="metrics_schema_range_order", passed=False, severity=dg.AssetCheckSeverity.ERROR,
        description=described(False, "", f"{name}: no data rows ({why})",
                              "check that the loop writes logs/metrics.csv (or point paths.metrics_csv at its file), "
                              "then re-materialise metrics; what depends on metrics waits until then"),
        metadata={"problems": f"{name}: no data rows", "rows_checked": 0},
    )
    yield dg.AssetCheckResult(check_name="metrics_quarantine_rate", passed=True, severity=dg.AssetCheckSeverity.WARN,
                              description=nothing_to_compare(f"{name} has no data rows"), metadata={"rows": 0})
    yield dg.AssetCheckResult(check_name="metrics_freshness", passed=False, severity=dg.AssetCheckSeverity.WARN,
                              description=described(False, "", f"{name} has no samples",
                                                    "check that the loop is writing it"),
                              metadata={"rows": 0})
