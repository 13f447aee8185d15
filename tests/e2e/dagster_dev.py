"""Start the real `dagster dev` (webserver + daemon) on 127.0.0.1 against a demo workspace, and talk to it.

Shared by the browser test (tests/e2e) and bench/latency.py. Everything runs as one process group so the
teardown stops the webserver, the daemon, the code-location server and any run worker together.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from lumen_assets.runner import instance_yaml
from tests.support.processes import default_stop_signals

PROJECT = Path(__file__).resolve().parents[2]

# Fast sensor and short effect windows, so an appended event becomes a run within seconds.
FAST_OVERRIDES: dict[str, dict[str, Any]] = {
    "sensor": {"interval_s": 5},
    "effects": {"pre_s": 5, "post_s": 5, "guard_s": 1, "min_samples": 10},
    # A half-hour demo has two or three complete events per run: convergence floors such a sample can
    # reach (production's ESS 400 / R-hat 1.01 are for real histories; the check itself still runs).
    "posteriors": {"checks": {"ess_min": 50, "r_hat_max": 1.05},
                   # the hourly full PyMC fit and the 10-minute resonance run stay defined and RUNNING,
                   # but must not fire in the middle of a timed test (same cron: once a year)
                   "schedule_cron": "0 0 1 1 *"},
    "resonance": {"schedule_cron": "0 0 1 1 *"},
}

RUN_TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_workspace_config(workspace: Path, overrides: dict[str, dict[str, Any]]) -> Path:
    """WORKSPACE/lumen.yaml = the project's config/lumen.yaml with some sections' keys replaced."""
    data = yaml.safe_load((PROJECT / "config" / "lumen.yaml").read_text(encoding="utf-8")) or {}
    def merge(base: dict, extra: dict) -> dict:
        merged = dict(base)
        for key, value in extra.items():
            merged[key] = merge(merged.get(key) or {}, value) if isinstance(value, dict) else value
        return merged

    data = merge(data, overrides)
    path = workspace / "lumen.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    from lumen_assets.config import load_config

    load_config(path)  # fail here, with file/key/line, rather than inside the code location
    return path


def prepare_dagster_dev_workspace(
    workspace: Path, overrides: dict[str, dict[str, Any]] | None = None, hours: float = 0.5,
    max_concurrent_runs: int = 2,
) -> dict[str, str]:
    """The demo workspace (`hours` of data), its throwaway trust and config, a DAGSTER_HOME inside it
    with at most `max_concurrent_runs` runs at once; returns the environment for `dagster dev`."""
    from lumen_assets.demo import write_demo_workspace

    workspace.mkdir(parents=True, exist_ok=True)
    write_demo_workspace(workspace, hours=hours)
    write_workspace_config(workspace, overrides if overrides is not None else FAST_OVERRIDES)
    env = dict(os.environ)
    saved = dict(os.environ)
    try:
        from lumen_assets.runner import prepare_demo_trust

        prepare_demo_trust(workspace, None)  # exports the demo passphrases into os.environ
        env.update({k: v for k, v in os.environ.items() if k not in saved or saved[k] != v})
    except ImportError:
        pass
    finally:
        os.environ.clear()
        os.environ.update(saved)
    home = workspace / ".dagster"
    home.mkdir(exist_ok=True)
    # The instance `lumen run` would create (consolidated SQLite event log, which check_alert_sensor needs),
    # plus a run-concurrency cap for this 2-core machine.
    (home / "dagster.yaml").write_text(
        instance_yaml(home) + f"concurrency:\n  runs:\n    max_concurrent_runs: {max_concurrent_runs}\n",
        encoding="utf-8",
    )
    env.update(DAGSTER_HOME=str(home), LUMEN_WORKSPACE=str(workspace), PYTHONUNBUFFERED="1")
    env.pop("LUMEN_CONFIG", None)
    return env


@dataclass
class DagsterDev:
    """A running `dagster dev`; `.stop()` ends its whole process group."""

    workspace: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    started_at: float = field(default_factory=time.time)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:  # dagster dev shuts its children down on SIGINT (Ctrl+C); SIGKILL the group if it hangs
            os.killpg(self.process.pid, signal.SIGINT)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        try:  # run workers can outlive the group leader briefly
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # --- queries -------------------------------------------------------------------------------

    def location_status(self) -> tuple[str, str | None]:
        data = self.graphql(
            """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
                 locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        )
        entries = data["workspaceOrError"].get("locationEntries") or []
        if not entries:
            return "NONE", None
        entry = entries[0]
        error = entry["locationOrLoadError"]
        message = error.get("message") if error and error["__typename"] == "PythonError" else None
        return entry["loadStatus"], message

    def runs(self, limit: int = 50) -> list[dict]:
        data = self.graphql(
            """query($limit: Int) { runsOrError(limit: $limit) { __typename ... on Runs { results {
                 runId status startTime endTime tags { key value } assetSelection { path } } } } }""",
            {"limit": limit},
        )
        runs = data["runsOrError"].get("results") or []
        for run in runs:
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return runs

    def event_run(self, event_id: str, limit: int = 50) -> dict | None:
        """The newest rule_event_sensor run whose events include `event_id`, whatever its status. One run
        per reporting day with due events: its `lumen/event_id` tag is the event's readable id, or
        `first .. last` when several of the day's events were due at once (readable ids sort by time)."""
        def covers(tag: str) -> bool:
            first, _, last = tag.partition(" .. ")
            return tag == event_id or (bool(last) and first <= event_id <= last)

        runs = [r for r in self.runs(limit) if covers(r["tags"].get("lumen/event_id", ""))]
        return runs[0] if runs else None

    def materialized_partitions(self, asset: str) -> set[str]:
        """The asset's materialised partition keys: a dynamic/static set's keys as listed, a time-window
        set's ranges expanded to their daily keys (`2025-10-23`)."""
        data = self.graphql(
            """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { __typename
                 ... on AssetNode { assetPartitionStatuses { __typename
                     ... on DefaultPartitionStatuses { materializedPartitions }
                     ... on TimePartitionStatuses { ranges { status startKey endKey } } } } } }""",
            {"key": {"path": [asset]}},
        )
        statuses = data["assetNodeOrError"].get("assetPartitionStatuses") or {}
        keys = set(statuses.get("materializedPartitions") or [])
        for span in statuses.get("ranges") or []:
            if span["status"] != "MATERIALIZED":
                continue
            try:
                day, last = date.fromisoformat(span["startKey"]), date.fromisoformat(span["endKey"])
            except ValueError:  # not a daily key: the range's ends only
                keys.update((span["startKey"], span["endKey"]))
                continue
            while day <= last:
                keys.add(day.isoformat())
                day += timedelta(days=1)
        return keys

    def latest_materialization(self, asset: str) -> dict | None:
        data = self.graphql(
            """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename
                 ... on Asset { assetMaterializations(limit: 1) { runId timestamp partition } } } }""",
            {"key": {"path": [asset]}},
        )
        asset_data = data["assetOrError"]
        items = asset_data.get("assetMaterializations") or []
        return items[0] if items else None

    def check_executions(self, asset: str, check: str, limit: int = 5) -> list[dict]:
        data = self.graphql(
            """query($key: AssetKeyInput!, $name: String!, $limit: Int!) {
                 assetCheckExecutions(assetKey: $key, checkName: $name, limit: $limit) {
                   runId status timestamp evaluation { success severity } } }""",
            {"key": {"path": [asset]}, "name": check, "limit": limit},
        )
        return data["assetCheckExecutions"]


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 1.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; raise TimeoutError naming `what` otherwise."""
    deadline = time.time() + timeout
    last_error: Exception | None = None
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (urllib.error.URLError, ConnectionError, TimeoutError, RuntimeError) as exc:
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def start_dagster_dev(workspace: Path, env: dict[str, str], log_path: Path, timeout: float = 240,
                      port: int | None = None) -> DagsterDev:
    """`dagster dev -m lumen_assets.definitions` on `port` (default: a free 127.0.0.1 port); returns once the
    code location is loaded (raises with the log tail if it fails to load)."""
    port = port or free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - the child keeps writing after this function returns
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-m", "lumen_assets.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        # a parent started in the background (`cmd &`) ignores SIGINT and the child would inherit that,
        # leaving stop() nothing but SIGKILL: give dagster dev back its Ctrl+C
        preexec_fn=default_stop_signals,
    )
    dev = DagsterDev(workspace=workspace, port=port, process=process, log_path=log_path)
    try:
        def server_up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"dagster dev exited with {process.returncode}:\n{dev.log_tail()}")
            with urllib.request.urlopen(f"{dev.url}/server_info", timeout=5) as response:
                return response.status == 200

        wait_for(server_up, timeout, 1.0, "the Dagster webserver's /server_info")

        def loaded() -> bool:
            status, error = dev.location_status()
            if error:
                raise AssertionError(f"code location failed to load: {error}\n{dev.log_tail()}")
            return status == "LOADED"

        wait_for(loaded, timeout, 1.0, "the lumen code location to load")
    except BaseException:
        dev.stop()
        raise
    return dev


ACTIVE_RUN = {"QUEUED", "NOT_STARTED", "MANAGED", "STARTING", "STARTED", "CANCELING"}


def active_backfills(dev: DagsterDev) -> list[str]:
    data = dev.graphql(
        """{ partitionBackfillsOrError(status: REQUESTED) { __typename
             ... on PartitionBackfills { results { id status } } } }"""
    )
    return [b["id"] for b in data["partitionBackfillsOrError"].get("results") or []]


def wait_until_idle(dev: DagsterDev, timeout: float, settle_s: float = 3.0) -> list[dict]:
    """Wait until no run is queued or running and no backfill is in progress (twice, `settle_s` apart,
    since a backfill launches its next run between daemon ticks); returns the runs."""

    def idle() -> list[dict] | None:
        runs = dev.runs(200)
        if any(r["status"] in ACTIVE_RUN for r in runs) or active_backfills(dev):
            return None
        time.sleep(settle_s)
        again = dev.runs(200)
        if any(r["status"] in ACTIVE_RUN for r in again) or active_backfills(dev) or len(again) != len(runs):
            return None
        return again or [{}]

    return wait_for(idle, timeout, 2.0, "all runs and backfills to finish")
