"""Lumen on a PostgreSQL Dagster instance (issue 16 §2): a plain `postgresql://` URL works with no scheme
workaround, the whole graph runs against a real server, and two workspaces share one database without
their runs or partitions mixing. The server is Debian's postgresql, started here on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lumen_assets.demo import write_demo_workspace
from tests.support.postgres import PostgresServer, serve_postgres

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# the assets a rule event's run touches (the trust assets need keys, the PyMC fit minutes: not here)
EVENT_PATH = "key:rule_events or key:metrics or key:rule_effects or key:quote_bank or key:risk_ledger"


@pytest.fixture(scope="module")
def postgres() -> PostgresServer:
    with serve_postgres() as server:
        yield server


def _home(tmp_path: Path, url: str) -> Path:
    """A DAGSTER_HOME written the way Dagster's docs write it: `postgresql://`, no driver in the scheme."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_url:\n      env: LUMEN_TEST_PG_URL\n",
        encoding="utf-8",
    )
    return home


def _lumen(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "LUMEN_WORKSPACE", "LUMEN_CONFIG")}
    env["LUMEN_TEST_PG_URL"] = url
    return subprocess.run([sys.executable, "-m", "lumen_assets.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def test_the_event_path_runs_on_postgres_with_a_plain_postgresql_url(postgres: PostgresServer, tmp_path: Path) -> None:
    import dagster as dg

    url = postgres.url(postgres.create_database("lumen_whole"))
    write_demo_workspace(tmp_path / "ws", hours=1.0)
    home = _home(tmp_path, url)
    done = _lumen("run", "--workspace", str(tmp_path / "ws"), "--dagster-home", str(home), "--select", EVENT_PATH,
                  url=url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    os.environ["LUMEN_TEST_PG_URL"] = url
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            runs = instance.get_runs()
            assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
            assert instance.get_latest_materialization_event(dg.AssetKey("rule_effects")) is not None
    finally:
        os.environ.pop("LUMEN_TEST_PG_URL", None)


def test_two_workspaces_share_one_database_without_mixing(postgres: PostgresServer, tmp_path: Path) -> None:
    """Rule effects are partitioned by day (no instance-wide per-event partition set), so the second
    workspace's `lumen run` never takes the first one's events."""
    url = postgres.url(postgres.create_database("lumen_shared"))
    for name, hours in (("a", 1.0), ("b", 0.5)):
        write_demo_workspace(tmp_path / name, hours=hours)
        home = tmp_path / f"home_{name}"
        home.mkdir()
        (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {url}\n", encoding="utf-8")
        done = _lumen("run", "--workspace", str(tmp_path / name), "--dagster-home", str(home),
                      "--select", EVENT_PATH, url=url)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "not in" not in done.stdout


def test_prefixed_workspaces_keep_their_histories_apart_in_one_instance(postgres: PostgresServer,
                                                                         tmp_path: Path) -> None:
    """Two workspaces, one DAGSTER_HOME, one database: each records under its own asset key prefix."""
    import dagster as dg

    url = postgres.url(postgres.create_database("lumen_prefixed"))
    home = _home(tmp_path, url)
    for name, hours in (("loop_a", 1.0), ("loop_b", 0.5)):
        write_demo_workspace(tmp_path / name, hours=hours)
        (tmp_path / name / "lumen.yaml").write_text(f"location:\n  name: {name}\n  asset_prefix: {name}\n",
                                                   encoding="utf-8")
        select = " or ".join(f"key:{name}/{asset}" for asset in ("rule_events", "metrics", "rule_effects"))
        done = _lumen("run", "--workspace", str(tmp_path / name), "--dagster-home", str(home), "--select", select,
                      url=url)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert f"    {name}/rule_effects" in done.stdout
    os.environ["LUMEN_TEST_PG_URL"] = url
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            counts = {}
            for name in ("loop_a", "loop_b"):
                record = instance.get_latest_materialization_event(dg.AssetKey([name, "rule_effects"]))
                assert record is not None
                counts[name] = record.asset_materialization.metadata["events"].value
            assert counts["loop_a"] > counts["loop_b"] > 0, counts  # one hour of events vs half an hour
            assert instance.get_latest_materialization_event(dg.AssetKey("rule_effects")) is None
    finally:
        os.environ.pop("LUMEN_TEST_PG_URL", None)
