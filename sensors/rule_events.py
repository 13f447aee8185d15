"""The rule-event sensor: every new line of controls/rules_history.jsonl is noted and, once its post window
has elapsed and the metrics cover it, its effects run: one run per reporting day with due events (the
`rule_effects` partition of that day), keyed by the day and the events' readable ids."""

import hashlib
import time
from dataclasses import replace

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.atomic import upsert_jsonl
from lumen_assets.ingest.rules import event_day, parse_rule_lines, read_rule_events
from lumen_assets.ingest.tail import TailCursor, last_line_timestamp, read_new_lines
from lumen_assets.ingest.timestamps import TimestampError, parse_timestamp
from lumen_assets.ingest.waiting import WaitingEvent, waiting_reason
from lumen_assets.keys import asset_key
from lumen_assets.location_config import location_config

# the validated rule events and metrics (so the effects see fresh data, and the in-toto ingest step records the
# rules_history.jsonl the effects then read), the day's rule_effects, and the cheap downstream ledgers. A named
# job, so the runs read "rule_event_job" in the UI instead of an anonymous `__ASSET_JOB`.
rule_event_job = dg.define_asset_job(
    "rule_event_job",
    selection=dg.AssetSelection.assets(
        *map(asset_key, ("rule_events", "metrics", "rule_effects", "quote_bank", "risk_ledger"))),
    description="One reporting day's rule events: the rule events and fresh metrics, that day's rule_effects "
    "partition, and the quote bank and risk ledger that map them (started by rule_event_sensor).",
)


def _events_with_final_effects(workspace: LumenWorkspace) -> set[str]:
    """Events whose effects are already final in the effects store: a fresh sensor (new cursor) on a
    workspace that `lumen run` already processed does not launch a run per historical event. A `pending`
    result is not final: that event is still requested once its window is covered."""
    from lumen_assets.effects.table import read_effects_store

    store = read_effects_store(workspace.layout.effects_store)
    if not len(store):
        return set()
    return set(store.loc[store["status"] != "pending", "event_id"])


def _metrics_coverage_ns(workspace: LumenWorkspace) -> int | None:
    text = last_line_timestamp(workspace.layout.metrics_csv)
    if not text:
        return None
    try:
        return int(parse_timestamp(text).timestamp() * 1e9)
    except TimestampError:
        return None


@dg.sensor(
    name="rule_event_sensor",
    minimum_interval_seconds=location_config().sensor.interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
    target=rule_event_job,
    description="Tails controls/rules_history.jsonl; once an event's post window has elapsed, requests the "
    "rule_effects partition of its reporting day (one run per day with due events).",
)
def rule_event_sensor(context: dg.SensorEvaluationContext, workspace: LumenWorkspace) -> dg.SensorResult:
    config = workspace.config
    source = workspace.layout.rules_history
    cursor = TailCursor.from_json(context.cursor)
    read = read_new_lines(source, cursor, config.sensor.max_bytes_per_tick, config.sensor.max_events_per_tick)
    if read.reset_reason:
        context.log.info(f"{workspace.rel(source)} was {read.reset_reason}; reading it again from the start")
    next_cursor = read.cursor
    parsed = parse_rule_lines(
        [text for _, text in read.lines], read.lines[0][0] if read.lines else 1, config.rule_policy()
    )
    known = {entry[0] for entry in cursor.pending} | _stored_event_ids(workspace) if parsed.events else set()
    if any(e.event_id in known for e in parsed.events):
        # the same event read again, or a same-time same-rule twin of an earlier one: the whole history
        # decides which (rare), so ids always agree with `rule_events`
        ids = {e.content_id: e.event_id for e in read_rule_events(source, config.rule_policy(), workspace.layout.rules_cache).events}
        parsed.events = [replace(e, event_id=ids.get(e.content_id, e.event_id)) for e in parsed.events]
    if parsed.quarantined:
        upsert_jsonl(
            workspace.layout.quarantine_dir / "rules_history.sensor.jsonl",
            ({"source": workspace.rel(source), "line": q.line_no, "reason": q.reason, "text": q.text} for q in parsed.quarantined),
            key=lambda r: f"{r['line']}:{hashlib.sha256(r['text'].encode()).hexdigest()}",
        )
        for q in parsed.quarantined:
            context.log.warning(f"{workspace.rel(source)}:{q.line_no}: quarantined: {q.reason}")
    pending_ids = {entry[0] for entry in next_cursor.pending}
    post_ns = int(config.effects.post_s * 1e9)
    new_events = [e for e in parsed.events if e.event_id not in pending_ids]
    for event in new_events:
        due_ns = int(event.ts.timestamp() * 1e9) + post_ns
        next_cursor.pending.append([event.event_id, due_ns, event.actor, event.rule, event_day(event, config.tz)])

    coverage = _metrics_coverage_ns(workspace)
    already_done = _events_with_final_effects(workspace) if next_cursor.pending else set()
    ready_before = min(time.time_ns(), coverage) if coverage is not None else None
    due_by_day: dict[str, list[list]] = {}
    still_pending = []
    for entry in next_cursor.pending:
        if len(entry) < 5:  # a cursor from before daily effects partitions: [id, due, actor, rule]
            entry = [*entry, _day_of_ns(entry[1] - post_ns, config.tz)]
        event_id, due_ns = entry[0], entry[1]
        if event_id in already_done:
            continue  # computed as complete/insufficient already (e.g. by `lumen run`); nothing to redo
        due = sum(len(v) for v in due_by_day.values())
        if ready_before is not None and due_ns <= ready_before and due < config.sensor.max_events_per_tick:
            due_by_day.setdefault(entry[4], []).append(entry)
        else:
            still_pending.append(entry)
    requests = [
        dg.RunRequest(
            run_key=f"{day}:{entries[-1][0]}",
            partition_key=day,
            tags={
                "lumen/event_id": entries[-1][0] if len(entries) == 1 else f"{entries[0][0]} .. {entries[-1][0]}",
                "lumen/events": str(len(entries)),
                "lumen/rule": ",".join(sorted({e[3] for e in entries})),
                "lumen/actor": ",".join(sorted({e[2] or "unknown" for e in entries})),
            },
        )
        for day, entries in sorted(due_by_day.items())
    ]
    next_cursor.pending = still_pending
    skip_reason = None
    if not requests:  # say why in the tick history: which event waits for what, until when
        skip_reason = waiting_reason(
            [WaitingEvent(entry[0], entry[3], entry[1]) for entry in still_pending], time.time_ns(), coverage,
            config.tz, config.paths.rules_history, new_lines=len(read.lines),
        )
    return dg.SensorResult(run_requests=requests, skip_reason=skip_reason, cursor=next_cursor.to_json())


def _day_of_ns(ts_ns: int, tz) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).astimezone(tz).date().isoformat()


def _stored_event_ids(workspace: LumenWorkspace) -> set[str]:
    from lumen_assets.effects.table import read_effects_store

    store = read_effects_store(workspace.layout.effects_store)
    return set(store["event_id"]) if len(store) else set()
