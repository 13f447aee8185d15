"""A real multi-process deployment (issue 16 §2): PostgreSQL, one `dagster code-server` (gRPC) per workspace,
`dagster-daemon` with the queued run coordinator (one run at a time per workspace) and `dagster-webserver`,
all configured by `lumen deploy instance` / `lumen deploy workspace`. A rule event appended to one workspace is
picked up by that workspace's sensor, queued, launched by the daemon as its own process and materialised
under that workspace's asset keys, as the webserver's GraphQL shows; the other workspace's history stays
empty, and no run of a workspace overlaps another of the same workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from lumen_assets.demo import write_demo_workspace
from tests.support.postgres import serve_postgres
from tests.support.processes import stop_process_group
from tests.support.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable  # this interpreter, so every process runs the Lumen under test
LOCATIONS = ("loop_a", "loop_b")
EVENT = {"ts": "2025-10-23T09:12:00+09:00", "actor": "operator", "rule": "risk_max", "old": 0.35, "new": 0.34,
         "note": "deployment test"}


def _env(home: Path, pg_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUMEN_", "DAGSTER_"))}
    return {**env, **pg_env, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
                                   start_new_session=True)
    try:
        yield process
    finally:
        stop_process_group(process)


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    answer = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    answer.raise_for_status()
    body = answer.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def _wait(what: str, probe, timeout_s: float, logs: Path) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = probe()
        except requests.RequestException:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in sorted(logs.glob("*.log")))
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tails}")
        time.sleep(2)


LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
RUNS_QUERY = """query Runs($location: String!) { runsOrError(filter: {tags: [{key: "dagster/code_location",
  value: $location}]}) { ... on Runs { results { runId jobName status startTime endTime
  tags { key value } } } } }"""
ASSET_QUERY = """query Asset($path: [String!]!) { assetOrError(assetKey: {path: $path}) { __typename
  ... on Asset { definition { id } assetMaterializations(limit: 10) { runId partition } } } }"""


def _lumen(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "lumen_assets.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def test_a_rule_event_is_sensed_queued_launched_and_materialised_in_its_own_workspace(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    with serve_postgres() as postgres, ExitStack() as stack:
        database = postgres.create_database("lumen_deployment")
        pg_env = {"LUMEN_PG_USER": postgres.user, "LUMEN_PG_PASSWORD": postgres.password,
                  "LUMEN_PG_HOST": postgres.host, "LUMEN_PG_PORT": str(postgres.port), "LUMEN_PG_DB": database}
        home, deploy = tmp_path / "home", tmp_path / "deploy"
        env = _env(home, pg_env)
        workspaces = []
        for name in LOCATIONS:
            workspace = tmp_path / name
            write_demo_workspace(workspace, hours=0.5)
            (workspace / "controls" / "rules_history.jsonl").write_text("", encoding="utf-8")  # no event yet
            (workspace / "lumen.yaml").write_text(
                f"location:\n  name: {name}\n  asset_prefix: {name}\nsensor:\n  interval_s: 2\n", encoding="utf-8")
            workspaces.append(str(workspace))
        _lumen("deploy", "instance", "--out", str(home), env=env)
        grpc_port = free_port()
        ports = [grpc_port, grpc_port + 1]
        _lumen("deploy", "workspace", *workspaces, "--out", str(deploy), "--grpc-port", str(grpc_port), env=env)
        workspace_yaml = deploy / "workspace.yaml"

        for name, port in zip(LOCATIONS, ports, strict=True):
            stack.enter_context(_process(
                [PY, "-m", "dagster", "code-server", "start", "-f", str(deploy / "locations" / f"{name}.py"),
                 "--location-name", name, "-h", "127.0.0.1", "-p", str(port)], env, logs / f"code-server-{name}.log"))
        for port in ports:
            _wait(f"the code server on port {port}", lambda port=port: subprocess.run(
                [PY, "-m", "dagster", "api", "grpc-health-check", "-p", str(port)], env=env,
                capture_output=True, timeout=60).returncode == 0, 300, logs)
        web_port = free_port()
        url = f"http://127.0.0.1:{web_port}"
        stack.enter_context(_process([PY, "-m", "dagster_webserver", "-w", str(workspace_yaml), "-h", "127.0.0.1",
                                      "-p", str(web_port)], env, logs / "webserver.log"))

        def locations_loaded() -> bool:
            entries = _graphql(url, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
            states = {e["name"]: e["locationOrLoadError"] for e in entries}
            return set(states) == set(LOCATIONS) and all(s and s["__typename"] == "RepositoryLocation"
                                                         for s in states.values())

        _wait("both code locations to load in the webserver", locations_loaded, 300, logs)
        stack.enter_context(_process([PY, "-m", "dagster._daemon", "run", "-w", str(workspace_yaml)], env,
                                     logs / "daemon.log"))
        appended = time.monotonic()
        with open(Path(workspaces[0]) / "controls" / "rules_history.jsonl", "a", encoding="utf-8") as history:
            history.write(json.dumps(EVENT) + "\n")

        def effects_of(location: str) -> list[dict]:
            asset = _graphql(url, ASSET_QUERY, {"path": [location, "rule_effects"]})["assetOrError"]
            assert asset["__typename"] == "Asset", asset
            return asset["assetMaterializations"]

        materialised = _wait("the rule event's effects", lambda: effects_of("loop_a"), 420, logs)
        took = time.monotonic() - appended
        assert [m["partition"] for m in materialised] == ["2025-10-23"]

        def finished_run() -> dict | None:
            runs = _graphql(url, RUNS_QUERY, {"location": "loop_a"})["runsOrError"]["results"]
            run = {r["runId"]: r for r in runs}[materialised[0]["runId"]]
            return run if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

        effects_run = _wait("the effects run to finish", finished_run, 300, logs)
        runs = _graphql(url, RUNS_QUERY, {"location": "loop_a"})["runsOrError"]["results"]
        assert effects_run["jobName"] == "rule_event_job" and effects_run["status"] == "SUCCESS"
        tags = {t["key"]: t["value"] for t in effects_run["tags"]}
        assert tags["dagster/sensor_name"] == "rule_event_sensor" and tags["dagster/partition"] == "2025-10-23"

        # queued by the coordinator, dequeued and launched by the daemon, executed in a process of its own
        os.environ.update({**pg_env, "DAGSTER_HOME": str(home)})
        try:
            import dagster as dg

            with dg.DagsterInstance.get() as instance:
                events = [e.dagster_event for e in instance.all_logs(effects_run["runId"]) if e.dagster_event]
                kinds = [e.event_type for e in events]
                assert kinds.index(dg.DagsterEventType.RUN_ENQUEUED) < kinds.index(dg.DagsterEventType.RUN_STARTING)
                worker = {e.pid for e in events if e.event_type == dg.DagsterEventType.RUN_START}
                assert worker and os.getpid() not in worker
                assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        finally:
            for key in (*pg_env, "DAGSTER_HOME"):
                os.environ.pop(key, None)
        # the other workspace's history did not move; there is no unprefixed key
        assert effects_of("loop_b") == []
        unprefixed = _graphql(url, ASSET_QUERY, {"path": ["rule_effects"]})["assetOrError"]
        assert unprefixed["__typename"] == "AssetNotFoundError" or (
            unprefixed["definition"] is None and unprefixed["assetMaterializations"] == []), unprefixed
        # one run at a time per workspace (tag concurrency on dagster/code_location)
        spans = sorted((r["startTime"], r["endTime"]) for r in runs if r["startTime"] and r["endTime"])
        assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans
        print(f"deployment: event appended -> effects materialised in {took:.1f} s, {len(runs)} loop_a run(s)")

        # `lumen run --launch` through the webserver: the other workspace's runs go through the same queue
        started = time.monotonic()
        done = _lumen("run", "--workspace", workspaces[1], "--dagster-home", str(home), "--launch",
                      "--webserver", url, "--select", "key:loop_b/rule_events or key:loop_b/metrics", env=env)
        assert "submitted 1 run(s) to code location 'loop_b'" in done.stdout and done.stdout.rstrip().endswith("ok")
        assert "    loop_b/metrics" in done.stdout and "    loop_b/rule_events" in done.stdout
        runs_b = _graphql(url, RUNS_QUERY, {"location": "loop_b"})["runsOrError"]["results"]
        launched = [r for r in runs_b if r["jobName"] == "__ASSET_JOB"]  # (automation may add runs of its own)
        assert launched and all(r["status"] == "SUCCESS" for r in launched), runs_b
        print(f"deployment: lumen run --launch via the webserver and the queue: {time.monotonic() - started:.1f} s")

        # two runs of one workspace submitted at the same moment: the coordinator holds the second in the queue
        # until the first has ended (issue 16: two runs never ingest the same workspace at once)
        before = {r["runId"] for r in _graphql(url, RUNS_QUERY, {"location": "loop_a"})["runsOrError"]["results"]}
        both = [subprocess.Popen([sys.executable, "-m", "lumen_assets.cli", "run", "--workspace", workspaces[0],
                                  "--dagster-home", str(home), "--launch", "--webserver", url,
                                  "--select", "key:loop_a/metrics"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for _ in range(2)]
        said = [p.communicate(timeout=600)[0] for p in both]
        assert [p.returncode for p in both] == [0, 0], said
        os.environ.update({**pg_env, "DAGSTER_HOME": str(home)})
        try:
            import dagster as dg

            with dg.DagsterInstance.get() as instance:
                records = [r for r in instance.get_run_records(dg.RunsFilter(tags={"dagster/code_location": "loop_a"}))
                           if r.dagster_run.run_id not in before  # (automation may add runs of its own)
                           and r.dagster_run.asset_selection == {dg.AssetKey(["loop_a", "metrics"])}]
        finally:
            for key in (*pg_env, "DAGSTER_HOME"):
                os.environ.pop(key, None)
        assert len(records) == 2 and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
        first, second = sorted(records, key=lambda r: r.start_time)
        assert second.create_timestamp.timestamp() < first.end_time, "the two runs were not submitted together"
        assert second.start_time >= first.end_time, "two runs of one workspace overlapped"
        print(f"deployment: 2 runs of loop_a submitted together, the second waited "
              f"{second.start_time - second.create_timestamp.timestamp():.1f} s in the queue")
