"""Resonance inputs that live in the Dagster instance: Lumen's own run history and the latest check outcomes.

Upstairs code (imports dagster); it turns instance records into the plain values the mapper takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import dagster as dg

from lumen_assets.keys import asset_prefix, check_key, owns
from lumen_assets.location_config import location_config
from lumen_assets.resonance.sli import RunOutcome
from lumen_assets.resonance.taxonomy import classify_failure

ROOT_RUN_ID_TAG = "dagster/root_run_id"
WILL_RETRY_TAG = "dagster/will_retry"


def _error_text(error: Any) -> str:
    """Class names and messages of an error and its causes (for classification only; never shown)."""
    parts: list[str] = []
    while error is not None and len(parts) < 10:
        parts.append(f"{getattr(error, 'cls_name', '') or ''}: {getattr(error, 'message', '') or ''}")
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return "\n".join(parts)


def failure_class(instance: dg.DagsterInstance, run_id: str) -> str:
    """The taxonomy class of a failed run, from its step failures (else its run-failure event)."""
    texts = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = entry.dagster_event.event_specific_data if entry.dagster_event else None
        texts.append(_error_text(getattr(data, "error", None)))
    if not any(texts):
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
            data = entry.dagster_event.event_specific_data if entry.dagster_event else None
            texts.append(_error_text(getattr(data, "error", None)) or (entry.message or ""))
    return classify_failure("\n".join(texts))


def _ours(run: dg.DagsterRun) -> bool:
    """A run of this workspace: on an instance shared by several workspaces (asset key prefixes), a run that
    selected this location's assets or checks, or a whole named job (`daily_report_job`, `rule_event_job`:
    no selection) of this code location; without a prefix, every run (the instance is the workspace's)."""
    if not asset_prefix():
        return True
    keys = [*(run.asset_selection or ()), *(check.asset_key for check in run.asset_check_selection or ())]
    if keys:
        return any(owns(key) for key in keys)
    origin = run.remote_job_origin
    return origin is not None and origin.location_name == location_config().location.name


def run_outcomes(
    instance: dg.DagsterInstance, since: datetime, *, limit: int, exclude_run_id: str | None = None
) -> list[RunOutcome]:
    """Finished runs updated since `since` (newest first, bounded), skipping runs that will be retried."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE], updated_after=since
        ),
        limit=limit,
    )
    outcomes = []
    for record in records:
        run = record.dagster_run
        if run.run_id == exclude_run_id or run.tags.get(WILL_RETRY_TAG) == "true" or not _ours(run):
            continue
        end = record.end_time or record.update_timestamp.timestamp()
        start = record.start_time
        success = run.status == dg.DagsterRunStatus.SUCCESS
        outcomes.append(
            RunOutcome(
                run_id=run.run_id,
                logical_id=run.tags.get(ROOT_RUN_ID_TAG, run.run_id),
                end=datetime.fromtimestamp(end, since.tzinfo),
                success=success,
                duration_s=(end - start) if start else None,
                failure_class=None if success else failure_class(instance, run.run_id),
            )
        )
    return outcomes


def proof_outcomes(
    instance: dg.DagsterInstance, groups: Mapping[str, Sequence[str]]
) -> tuple[dict[str, bool | None], dict[str, Any]]:
    """Per group (signatures / chain / tlog): False if any latest evaluation failed, None if any is
    missing, True if all passed. Also the per-check details for metadata."""
    keys = {
        text: check_key(text.split(":")[0], text.split(":")[1])
        for texts in groups.values()
        for text in texts
    }
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(keys.values()))
    details: dict[str, Any] = {}
    for text, key in keys.items():
        record = latest.get(key)
        status = None if record is None else record.status.value
        details[text] = {
            "status": status or "never evaluated",
            "run_id": None if record is None else record.run_id,
        }
    verdicts: dict[str, bool | None] = {}
    for group, texts in groups.items():
        states = [details[t]["status"] for t in texts]
        if any(s == "FAILED" for s in states):
            verdicts[group] = False
        elif texts and all(s == "SUCCEEDED" for s in states):
            verdicts[group] = True
        else:
            verdicts[group] = None
    return verdicts, details
