"""`lumen run --launch` (issue 16 §2): the runs go through the instance's run coordinator and launcher, each in
its own process started by the code location's server, and are reported as `lumen run` reports them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lumen_assets.demo import write_demo_workspace
from lumen_assets.runner import instance_yaml

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EVENT_PATH = "key:rule_events or key:metrics or key:rule_effects"


def _lumen(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "LUMEN_WORKSPACE", "LUMEN_CONFIG")}
    return subprocess.run([sys.executable, "-m", "lumen_assets.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _home(tmp_path: Path, coordinator: str | None) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    extra = f"run_coordinator:\n  module: dagster._core.run_coordinator\n  class: {coordinator}\n" if coordinator else ""
    (home / "dagster.yaml").write_text(instance_yaml() + extra, encoding="utf-8")
    return home


def test_launch_refuses_a_run_queue_no_daemon_serves(tmp_path: Path) -> None:
    """Dagster's default instance queues runs; without a dagster-daemon they would wait forever."""
    write_demo_workspace(tmp_path / "ws", hours=0.5)
    home = _home(tmp_path, None)
    done = _lumen("run", "--workspace", str(tmp_path / "ws"), "--dagster-home", str(home), "--launch",
                  "--select", EVENT_PATH, timeout=300)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no dagster-daemon is running" in done.stderr and str(home) in done.stderr


def test_launched_runs_are_own_processes_reported_like_lumen_run(tmp_path: Path) -> None:
    import dagster as dg

    write_demo_workspace(tmp_path / "ws", hours=0.5)
    home = _home(tmp_path, "DefaultRunCoordinator")
    # attestations fail without a keystore: the failure comes back as one line, like `lumen run`'s
    done = _lumen("run", "--workspace", str(tmp_path / "ws"), "--dagster-home", str(home), "--launch",
                  "--select", EVENT_PATH + " or key:attestations")
    out = done.stdout
    assert done.returncode == 1, out[-3000:] + done.stderr[-3000:]
    assert "submitted 1 run(s) to code location 'lumen'" in out
    assert "    rule_effects" in out and "    metrics" in out
    errors = [line for line in out.splitlines() if line.strip().startswith("ERROR ")]
    assert len(errors) == 1 and "asset attestations" in errors[0] and "Traceback" not in out
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs()
            assert len(runs) >= 2  # unpartitioned assets, then the effects day range
            # launched from the code location (its own process), not executed in the lumen process
            assert all(run.tags.get("dagster/code_location") == "lumen" for run in runs)
            assert all(run.job_code_origin is not None for run in runs)
            pids = {entry.dagster_event.pid for run in runs for entry in instance.all_logs(run.run_id)
                    if entry.dagster_event and entry.dagster_event.event_type == dg.DagsterEventType.RUN_START}
            assert pids and os.getpid() not in pids
            assert instance.get_latest_materialization_event(dg.AssetKey("rule_effects")) is not None
    finally:
        os.environ.pop("DAGSTER_HOME", None)
