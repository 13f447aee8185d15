"""A workspace is self-contained (issue 11 §4): nothing Lumen writes into it holds the workspace's absolute
path, so a moved or copied workspace records its runs in its own history."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from lumen_assets.demo import write_demo_workspace
from lumen_assets.runner import ensure_instance_yaml
from tests.test_cli import _lumen

SELECT = "key:rule_events or key:metrics"


def _runs(home: Path) -> list[str]:
    import os

    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)  # the instance reads its event-log folder from it
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            return sorted(run.run_id for run in instance.get_runs())
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved


def _files_naming(root: Path, text: str) -> list[str]:
    needle = text.encode()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes())


def test_moved_and_copied_workspaces_keep_their_own_history(tmp_path: Path) -> None:
    original = tmp_path / "site-a" / "ws"
    write_demo_workspace(original, hours=0.5)
    first = _lumen("run", "--workspace", str(original), "--select", SELECT)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert str(original.resolve()) not in (original / ".dagster" / "dagster.yaml").read_text()
    [run_a] = _runs(original / ".dagster")

    copy = tmp_path / "site-b" / "ws"
    shutil.copytree(original, copy)
    again = _lumen("run", "--workspace", str(copy), "--select", SELECT)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert _runs(original / ".dagster") == [run_a]  # the copy wrote nothing into the original's history
    copy_runs = _runs(copy / ".dagster")
    assert len(copy_runs) == 2 and run_a in copy_runs

    moved = tmp_path / "site-c" / "ws"
    moved.parent.mkdir()
    shutil.move(str(original), str(moved))
    third = _lumen("run", "--workspace", str(moved), "--select", SELECT)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert len(_runs(moved / ".dagster")) == 2 and not original.exists()
    assert _runs(copy / ".dagster") == copy_runs
    for root, old in ((copy, original), (moved, original)):
        assert _files_naming(root, str(old.resolve())) == [], "a file still names the workspace's old location"


OLD_YAML = (
    "telemetry:\n  enabled: false\n"
    "event_log_storage:\n  module: dagster._core.storage.event_log\n"
    "  class: ConsolidatedSqliteEventLogStorage\n"
    "  config:\n    base_dir: {base}\n"
)


def test_an_old_absolute_dagster_yaml_is_upgraded_and_its_own_event_log_kept(tmp_path: Path) -> None:
    home = tmp_path / "copy" / ".dagster"
    (home / "history" / "events").mkdir(parents=True)
    (home / "history" / "events" / "event_log.db").write_bytes(b"the copy's own log")
    (home / "dagster.yaml").write_text(OLD_YAML.format(base="/somewhere/else/.dagster/history/events"))
    ensure_instance_yaml(home)
    text = (home / "dagster.yaml").read_text()
    assert "/somewhere" not in text and "env: DAGSTER_HOME" in text
    assert (home / "event_log.db").read_bytes() == b"the copy's own log"


def test_a_dagster_yaml_lumen_did_not_write_is_left_alone(tmp_path: Path) -> None:
    own = "storage:\n  postgres:\n    postgres_url: postgresql://db/lumen\n"
    (tmp_path / "dagster.yaml").write_text(own)
    ensure_instance_yaml(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == own
