"""`lumen run --launch`: submit the planned runs through the Dagster instance instead of executing them here.

Each run is submitted with Dagster's own GraphQL mutation (`launchPipelineExecution`, the one the UI and
`DagsterGraphQLClient.submit_job_execution` use), so it goes through the instance's run coordinator: queued
for `dagster-daemon` under the `QueuedRunCoordinator` (with its tag concurrency limits), else launched at
once by the configured run launcher, each run in its own process. The mutation runs either in this process
against a workspace file (default: Lumen's `workspace.yaml`; a deployment passes its own) or against a running
webserver (`--webserver URL`). Lumen then waits for the runs by reading the instance and reports them from
their event logs, as the in-process path does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

ASSET_JOB = "__ASSET_JOB"
REPOSITORY = "__repository__"
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
QUEUED_HINT_S = 60.0
QUEUED_DAEMON = "QUEUED_RUN_COORDINATOR"  # the daemon that dequeues runs (its heartbeat type)
DAEMON_HEARTBEAT_MAX_AGE_S = 120.0  # daemons beat every 30 s  # a run still queued after this long: say which daemon should be running

GraphQL = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


class LaunchError(Exception):
    """A run that could not be submitted, or did not finish in time; the message says which and why."""


@dataclass(frozen=True)
class LaunchedRun:
    run_id: str
    status: dg.DagsterRunStatus
    tags: Mapping[str, str]
    events: list[dg.DagsterEvent]


@contextmanager
def graphql_endpoint(instance: dg.DagsterInstance, workspace_yaml: Path | None,
                     webserver: str | None) -> Iterator[GraphQL]:
    """Dagster's GraphQL API: a running webserver's, or this process's over `workspace_yaml`."""
    if webserver:
        import requests

        url = webserver.rstrip("/") + "/graphql"

        def remote(query: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
            try:
                response = requests.post(url, json={"query": query, "variables": dict(variables)}, timeout=120)
            except requests.RequestException as exc:
                raise LaunchError(f"webserver {webserver}: {exc}") from None
            if response.status_code != 200:
                raise LaunchError(f"webserver {url}: HTTP {response.status_code}: {response.text[:300]}")
            return response.json()

        yield remote
        return
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_graphql.cli import execute_query

    if workspace_yaml is None or not workspace_yaml.is_file():
        raise LaunchError(f"workspace file {workspace_yaml} not found")
    target = WorkspaceFileTarget(paths=[str(workspace_yaml)])
    with WorkspaceProcessContext(instance, target, code_server_log_level="WARNING") as context:
        yield lambda query, variables: execute_query(context, query, dict(variables))


def unattended_queue(instance: dg.DagsterInstance, max_age_s: float = DAEMON_HEARTBEAT_MAX_AGE_S) -> str | None:
    """Why submitted runs would wait forever, or None: the instance queues runs (QueuedRunCoordinator, Dagster's
    default) and no dagster-daemon has sent a heartbeat on it lately, so nothing would ever dequeue them."""
    from dagster._core.run_coordinator import QueuedRunCoordinator

    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return None
    beat = instance.get_daemon_heartbeats().get(QUEUED_DAEMON)
    if beat is not None and time.time() - beat.timestamp <= max_age_s:
        return None
    seen = "never" if beat is None else f"{time.time() - beat.timestamp:.0f} s ago"
    return (f"this instance queues runs (QueuedRunCoordinator) but no dagster-daemon is running on it (last "
            f"heartbeat: {seen}); start `dagster-daemon run -w WORKSPACE_FILE` with DAGSTER_HOME="
            f"{instance.root_directory or '...'}, or configure run_coordinator: DefaultRunCoordinator to launch "
            "runs at once")


def submit_run(graphql: GraphQL, location: str, asset_keys: Sequence[dg.AssetKey], tags: Mapping[str, str],
               run_config: Mapping[str, Any], checks: Collection[dg.AssetCheckKey] | None = None) -> str:
    """Submit one run of the asset job over `asset_keys` (and only `checks` of them, when given); its run id."""
    from dagster_graphql.client.client_queries import CLIENT_SUBMIT_PIPELINE_RUN_MUTATION

    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": REPOSITORY,
            "pipelineName": ASSET_JOB,
            "assetSelection": [key.to_graphql_input() for key in asset_keys],
            **({} if checks is None else {"assetCheckSelection": [
                {"assetKey": check.asset_key.to_graphql_input(), "name": check.name} for check in sorted(checks)]}),
        },
        "runConfigData": dict(run_config),
        "mode": "default",
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    answer = graphql(CLIENT_SUBMIT_PIPELINE_RUN_MUTATION, {"executionParams": params})
    if answer.get("errors"):
        raise LaunchError(f"code location {location!r}: {answer['errors'][0].get('message')}")
    outcome = (answer.get("data") or {}).get("launchPipelineExecution") or {}
    if outcome.get("__typename") == "LaunchRunSuccess" or "run" in outcome:
        return outcome["run"]["runId"]
    kind = outcome.get("__typename", "no answer")
    message = outcome.get("message") or "; ".join(e.get("message", "") for e in outcome.get("errors", []))
    if kind in ("PipelineNotFoundError", "RepositoryNotFoundError") or "not found" in (message or "").lower():
        message += f" (is code location {location!r} in the workspace file / the webserver's workspace?)"
    raise LaunchError(f"code location {location!r}: {kind}: {message}")


def wait_for_runs(instance: dg.DagsterInstance, run_ids: Sequence[str], timeout_s: float,
                  progress: Callable[[str], None], poll_s: float = 1.0) -> list[LaunchedRun]:
    """Wait until every run has finished (success, failure or cancelled); their events from the instance."""
    started = time.monotonic()
    pending = list(run_ids)
    hinted = False
    while pending:
        runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=pending))}
        pending = [run_id for run_id in pending if run_id not in runs or runs[run_id].status not in FINISHED]
        if not pending:
            break
        waited = time.monotonic() - started
        queued = [r for r in pending if r in runs and runs[r].status == dg.DagsterRunStatus.QUEUED]
        if queued and not hinted and waited > QUEUED_HINT_S:
            progress(f"[lumen] {len(queued)} run(s) still queued after {waited:.0f} s: is dagster-daemon running "
                     f"on this instance ({instance.root_directory or 'DAGSTER_HOME'})?")
            hinted = True
        if waited > timeout_s:
            states = ", ".join(f"{r} {runs[r].status.value if r in runs else 'unknown'}" for r in pending)
            raise LaunchError(f"{len(pending)} run(s) not finished after {timeout_s:.0f} s: {states}")
        time.sleep(poll_s)
    finished = []
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        events = [entry.dagster_event for entry in instance.all_logs(run_id) if entry.dagster_event is not None]
        finished.append(LaunchedRun(run_id=run_id, status=run.status, tags=run.tags, events=events))
    return finished
