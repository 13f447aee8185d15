"""The two alert sensors: asset-check evaluations (a failed check does not fail its run, so run-failure
sensors never see it, dagster#29896) and run failures (skipping runs Dagster will retry).

The check sensor reads ASSET_CHECK_EVALUATION event records with a storage-id cursor, ascending, a bounded
batch per tick (descending with a limit would skip an older backlog forever). Its cursor also carries the
alert state (open failures only), so cursor and state are saved together, only when the tick succeeds.
The rate limiter is shared by both sensors in `.lumen/alerts/rate_limit.json`.
"""

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import dagster as dg

from lumen.resources.notifiers_alerts import AlertChannelsResource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.alerts.channels import deliver
from lumen_assets.alerts.message import AlertMessage, run_url, safe_figures
from lumen_assets.alerts.settings import AlertsSettings
from lumen_assets.alerts.state import AlertState, CheckOutcome, RateLimiter
from lumen_assets.atomic import atomic_write_text, file_lock
from lumen_assets.keys import owns

WILL_RETRY_TAG = "dagster/will_retry"


@contextlib.contextmanager
def shared_rate_limiter(workspace: LumenWorkspace, settings: AlertsSettings) -> Iterator[RateLimiter]:
    """Load, lend and save the rate limiter under a file lock (both sensors may tick at once)."""
    path = workspace.layout.alert_rate_limit
    with file_lock(path):
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        limiter = RateLimiter.from_json(data, settings.rate_limit.max_alerts, settings.rate_limit.window_s)
        yield limiter
        atomic_write_text(path, json.dumps(limiter.to_json()))


def _plain(value: Any) -> Any:
    """A metadata value's raw number/bool/string, or None for anything richer (tables, Markdown, paths)."""
    raw = getattr(value, "value", value)
    if isinstance(raw, bool | int | float | str):
        return raw
    return None


def check_outcome(record: Any) -> CheckOutcome:
    """An ASSET_CHECK_EVALUATION event record as a CheckOutcome."""
    entry = record.event_log_entry
    evaluation = entry.dagster_event.event_specific_data
    figures = {key: _plain(value) for key, value in evaluation.metadata.items()}
    return CheckOutcome(
        asset_key=evaluation.asset_key.to_user_string(),
        check_name=evaluation.check_name,
        partition=evaluation.partition,
        passed=evaluation.passed,
        severity=evaluation.severity.value,
        run_id=entry.run_id,
        storage_id=record.storage_id,
        timestamp=entry.timestamp,
        figures={k: v for k, v in figures.items() if v is not None},
    )


DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"


def ui_base_url(settings: AlertsSettings) -> str:
    """Where alert links point: `alerts.ui_base_url` if the config sets one, else `$LUMEN_UI_BASE_URL` (set it
    to the address `dagster dev` / dagster-webserver really serves), else http://127.0.0.1:3000."""
    return settings.ui_base_url or os.environ.get("LUMEN_UI_BASE_URL", "").strip() or DEFAULT_UI_BASE_URL


def alert_observation(message: AlertMessage, results: dict[str, str]) -> dg.AssetObservation:
    """The alert as an observation of the checked asset: its Events tab lists every alert sent, with the
    channels and what each answered."""
    metadata: dict[str, Any] = {
        "alert": f"{message.kind} ({message.severity})",
        "check": message.check or "",
        "channels": ", ".join(f"{name}: {'sent' if result == 'ok' else 'failed'}" for name, result in results.items()),
        "alert_id": message.alert_id,
    }
    if message.run_url:
        metadata["run"] = dg.MetadataValue.url(message.run_url)
    return dg.AssetObservation(asset_key=dg.AssetKey.from_user_string(message.asset or "unknown"),
                               partition=message.partition, metadata=metadata)


def _alert_id(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


@dg.sensor(
    name="check_alert_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts once when an asset check starts failing and once when it passes again.",
)
def check_alert_sensor(
    context: dg.SensorEvaluationContext, workspace: LumenWorkspace, alert_channels: AlertChannelsResource
) -> dg.SensorResult:
    settings = workspace.config.alerts
    cursor = json.loads(context.cursor) if context.cursor else {}
    after = cursor.get("after")
    state = AlertState.from_json(cursor.get("state"))
    try:
        records = context.instance.event_log_storage.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
            limit=settings.batch_size,
            ascending=True,
        )
    except Exception as exc:  # the run-sharded SQLite event log cannot answer a cross-run query
        raise RuntimeError(
            "this Dagster instance's event log cannot list check evaluations across runs; use PostgreSQL or "
            "ConsolidatedSqliteEventLogStorage in DAGSTER_HOME/dagster.yaml (`lumen run` writes that for a new "
            f"DAGSTER_HOME; see README 'Open the UI'): {exc}"
        ) from exc
    sent = suppressed = 0
    observations: list[dg.AssetObservation] = []
    sent_lines: list[str] = []
    if records:
        channels = alert_channels.channels()
        with shared_rate_limiter(workspace, settings) as limiter:
            for record in records:
                after = record.storage_id
                if not owns(record.event_log_entry.dagster_event.event_specific_data.asset_key):
                    continue  # another workspace's check on a shared instance: its own location alerts
                outcome = check_outcome(record)
                transition = state.observe(outcome, settings.min_severity)
                if transition is None:
                    continue
                if not limiter.allow(time.time()):
                    suppressed += 1
                    context.log.warning(f"rate limit: {transition.kind} alert for {outcome.key} not sent")
                    continue
                message = AlertMessage(
                    kind=transition.kind,
                    severity=outcome.severity,
                    asset=outcome.asset_key,
                    check=outcome.check_name,
                    partition=outcome.partition,
                    run_id=outcome.run_id,
                    run_url=run_url(ui_base_url(settings), outcome.run_id),
                    figures=safe_figures(outcome.figures, settings.max_figures),
                    at=outcome.timestamp,
                    since=transition.since,
                    alert_id=_alert_id(outcome.key, outcome.storage_id, transition.kind),
                )
                results = deliver(message, channels)
                if any(r == "ok" for r in results.values()):
                    state.mark_sent(outcome.key)
                    sent += 1
                ok = [name for name, result in results.items() if result == "ok"]
                where = f" [{outcome.partition}]" if outcome.partition else ""
                line = (f"{transition.kind} {outcome.severity} alert for {outcome.asset_key}/{outcome.check_name}"
                        f"{where} sent via {', '.join(ok) or 'no channel'}")
                context.log.info(line)
                sent_lines.append(line)
                observations.append(alert_observation(message, results))
                for name, result in results.items():
                    if result != "ok":
                        context.log.error(f"{transition.kind} alert {message.alert_id} via {name}: {result}")
    new_cursor = json.dumps({"after": after, "state": state.to_json()}, sort_keys=True)
    summary = f"{len(records)} check evaluation(s) read, {sent} alert(s) sent"
    if sent_lines:
        summary += ": " + "; ".join(sent_lines[:5]) + (f"; +{len(sent_lines) - 5} more" if len(sent_lines) > 5 else "")
    if suppressed:
        summary += f"; {suppressed} rate-limited (alerts.rate_limit)"
    opened = sorted(state.failing)
    summary += f"; {len(opened)} check(s) failing" + (f": {', '.join(opened[:5])}" if opened else "")
    return dg.SensorResult(skip_reason=summary, cursor=new_cursor, asset_events=observations)


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts on a failed Lumen run, unless Dagster will retry it.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, workspace: LumenWorkspace, alert_channels: AlertChannelsResource
) -> dg.SkipReason | None:
    from lumen_assets.resonance.instance_inputs import failure_class

    run = context.dagster_run
    if run.tags.get(WILL_RETRY_TAG) == "true":
        return dg.SkipReason(f"run {run.run_id} will be retried")
    settings = workspace.config.alerts
    failures = context.get_step_failure_events()
    failed_steps = len(failures)
    # the failed steps name the assets that failed (a step key is the asset's node name); else the selection
    selection = sorted({e.step_key for e in failures if e.step_key}) or sorted(
        k.to_user_string() for k in (run.asset_selection or [])
    )
    message = AlertMessage(
        kind="run_failure",
        severity="ERROR",
        asset=", ".join(selection[:5]) + (f" (+{len(selection) - 5})" if len(selection) > 5 else "") or None,
        check=None,
        partition=run.tags.get("dagster/partition"),
        run_id=run.run_id,
        run_url=run_url(ui_base_url(settings), run.run_id),
        figures={
            "failed_steps": failed_steps,
            "failure_class": failure_class(context.instance, run.run_id),
            "job": run.job_name,
        },
        at=time.time(),
        alert_id=_alert_id(run.run_id, "run_failure"),
    )
    with shared_rate_limiter(workspace, settings) as limiter:
        if not limiter.allow(time.time()):
            return dg.SkipReason(f"rate limit: run-failure alert for {run.run_id} not sent")
    results = deliver(message, alert_channels.channels())
    for name, result in results.items():
        if result != "ok":
            context.log.error(f"run-failure alert {message.alert_id} via {name}: {result}")
    return None
