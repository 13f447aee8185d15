"""Ingest assets: the two raw inputs of the loop, parsed, validated, quarantined and counted."""


import time

import dagster as dg
import numpy as np

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.humanize import duration
from lumen_assets.ingest.metrics import (
    SIGNALS,
    MetricsFormatError,
    read_metrics_csv,
    write_metrics_parquet,
)
from lumen_assets.ingest.quarantine import write_quarantine
from lumen_assets.ingest.rules import read_rule_events
from lumen_assets.partitions import RULE_EVENT_PARTITIONS_NAME
from lumen_assets.tables import metadata_table

METRICS_CHECKS = [
    dg.AssetCheckSpec("metrics_schema_range_order", asset="metrics", blocking=True,
                      description="Cleaned metrics: the five columns, values in [0, 1] or missing, time-sorted."),
    dg.AssetCheckSpec("metrics_quarantine_rate", asset="metrics",
                      description="Share of quarantined rows stays under metrics.quarantine_max_fraction."),
    dg.AssetCheckSpec("metrics_freshness", asset="metrics",
                      description="The newest sample is younger than metrics.freshness_max_age_s."),
]


@dg.asset(
    group_name="ingest",
    kinds={"json"},
    owners=["team:lumen"],
    description="Rule changes from controls/rules_history.jsonl, each with a stable id; bad lines quarantined.",
)
def rule_events(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    source = workspace.layout.rules_history
    parsed = read_rule_events(source)
    quarantine = workspace.layout.quarantine_dir / "rules_history.jsonl"
    write_quarantine(quarantine, source, ((q.line_no, q.reason, q.text) for q in parsed.quarantined))
    known = set(context.instance.get_dynamic_partitions(RULE_EVENT_PARTITIONS_NAME))
    new_keys = [e.event_id for e in parsed.events if e.event_id not in known]
    if new_keys:
        context.instance.add_dynamic_partitions(RULE_EVENT_PARTITIONS_NAME, new_keys)
    for q in parsed.quarantined:
        context.log.warning(f"{source}:{q.line_no}: quarantined: {q.reason}")
    rules = sorted({e.rule for e in parsed.events})
    return dg.MaterializeResult(
        metadata={
            "events": len(parsed.events),
            "quarantined_lines": len(parsed.quarantined),
            "new_partitions": len(new_keys),
            "rules": ", ".join(rules),
            "incomplete_last_line": bool(parsed.incomplete_tail),
            "source": dg.MetadataValue.path(str(source)),
            "quarantine_file": dg.MetadataValue.path(str(quarantine)),
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
    description="The 5 Hz signal stream from logs/metrics.csv: typed, validated, sorted, stored as Parquet.",
)
def metrics(context: dg.AssetExecutionContext, workspace: LumenWorkspace):
    config = workspace.config
    source = workspace.layout.metrics_csv
    try:
        ingest = read_metrics_csv(source, config.loop.sample_rate_hz, config.metrics.gap_factor)
    except MetricsFormatError as exc:
        raise dg.Failure(description=str(exc)) from None
    target = workspace.layout.metrics_store
    write_metrics_parquet(ingest.frame, target)
    quarantine = workspace.layout.quarantine_dir / "metrics.jsonl"
    write_quarantine(quarantine, source, ingest.quarantined)
    frame = ingest.frame
    for line_no, reason, _ in ingest.quarantined[:20]:
        context.log.warning(f"{source}:{line_no}: quarantined: {reason}")
    span = (frame["ts"].min(), frame["ts"].max()) if len(frame) else (None, None)
    summary = [
        (s, float(frame[s].mean()) if len(frame) else None, float(frame[s].min()) if len(frame) else None,
         float(frame[s].max()) if len(frame) else None, ingest.missing_cells[s])
        for s in SIGNALS
    ]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "rows_read": ingest.rows_read,
            "quarantined_rows": len(ingest.quarantined),
            "duplicates_dropped": ingest.duplicates_dropped,
            "out_of_order_rows": ingest.out_of_order,
            "missing_cells": sum(ingest.missing_cells.values()),
            "gaps": ingest.gaps.count,
            "gap_longest_s": ingest.gaps.longest_s,
            "gap_total_s": ingest.gaps.total_s,
            "first_ts": str(span[0]),
            "last_ts": str(span[1]),
            "parquet": dg.MetadataValue.path(str(target)),
            "quarantine_file": dg.MetadataValue.path(str(quarantine)),
            "signals": metadata_table([("signal", "string"), ("mean", "float"), ("min", "float"), ("max", "float"),
                                       ("missing", "int")], summary),
        }
    )
    yield _schema_check(frame)
    fraction = ingest.quarantine_fraction
    bound = config.metrics.quarantine_max_fraction
    quarantine_ok = fraction <= bound
    yield dg.AssetCheckResult(
        check_name="metrics_quarantine_rate",
        passed=quarantine_ok,
        severity=dg.AssetCheckSeverity.WARN,
        description=nothing_to_compare(f"{source.name} has no rows") if not ingest.rows_read else described(
            quarantine_ok,
            f"{len(ingest.quarantined)} of {ingest.rows_read} rows quarantined ({fraction:.2%} <= {bound:.2%})",
            f"{len(ingest.quarantined)} of {ingest.rows_read} rows of {source.name} were quarantined "
            f"({fraction:.2%}, more than metrics.quarantine_max_fraction {bound:.2%})",
            f"read the reasons in {config.paths.quarantine_dir}/metrics.jsonl (file line and why), fix what "
            "writes the bad rows, then re-materialise metrics",
        ),
        metadata={"quarantined_fraction": fraction, "bound": bound, "quarantined_rows": len(ingest.quarantined)},
    )
    age_s = (time.time_ns() - int(span[1].value)) / 1e9 if len(frame) else float("inf")
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
            f"metrics.freshness_max_age_s ({duration(max_age_s)})" if len(frame) else f"{source.name} has no samples",
            "check that the loop (System C) is still writing logs/metrics.csv, then re-materialise metrics; "
            "for a historical workspace this warning is expected",
        ),
        metadata={"newest_sample_age": duration(age_s), "newest_sample_age_s": age_s,
                  "max_age": duration(max_age_s), "max_age_s": max_age_s},
    )


def _schema_check(frame) -> dg.AssetCheckResult:
    problems = []
    if list(frame.columns) != ["ts", *SIGNALS]:
        problems.append(f"columns {list(frame.columns)}")
    for signal in SIGNALS:
        values = frame[signal].to_numpy(dtype="float64")
        bad = ~np.isnan(values) & ((values < 0) | (values > 1))
        if bad.any():
            problems.append(f"{signal}: {int(bad.sum())} values outside [0, 1]")
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    if len(ts_ns) > 1 and (np.diff(ts_ns) < 0).any():
        problems.append("timestamps not sorted")
    return dg.AssetCheckResult(
        check_name="metrics_schema_range_order",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=nothing_to_compare("no metrics rows were read") if not len(frame) else described(
            not problems,
            f"{len(frame)} rows: the five columns, values in [0, 1] or missing, time-sorted",
            "the cleaned metrics break the schema: " + "; ".join(problems),
            "this is a bug in the metrics reader (bad rows should have been quarantined): report it with "
            "the run id; downstream assets are blocked until it passes",
        ),
        metadata={"problems": "; ".join(problems) or "none", "rows": len(frame)},
    )
