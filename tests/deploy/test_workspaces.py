"""Several workspaces on one Dagster deployment (issue 16 §2): one code location per workspace, each with its
own asset key prefix from its own config, and the deployment files `lumen deploy` writes for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lumen_assets.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _workspace(root: Path, name: str, prefix: str | None = None) -> Path:
    root.mkdir(parents=True)
    if prefix is not None:
        (root / "lumen.yaml").write_text(f"location:\n  name: {name}\n  asset_prefix: {prefix}\n", encoding="utf-8")
    return root


def test_deploy_workspace_writes_one_code_location_per_workspace(tmp_path: Path, capsys) -> None:
    a = _workspace(tmp_path / "a", "loop_a", "loop_a")
    b = _workspace(tmp_path / "b", "loop_b", "loop_b")
    assert main(["deploy", "workspace", str(a), str(b), "--out", str(tmp_path / "deploy")]) == 0
    entries = yaml.safe_load((tmp_path / "deploy" / "workspace.yaml").read_text())["load_from"]
    assert [e["python_file"]["location_name"] for e in entries] == ["loop_a", "loop_b"]
    module = (tmp_path / "deploy" / "locations" / "loop_a.py").read_text()
    assert repr(str(a.resolve())) in module and repr(str(a.resolve() / "lumen.yaml")) in module
    assert "loop_b/..." in capsys.readouterr().out

    assert main(["deploy", "workspace", str(a), str(b), "--out", str(tmp_path / "grpc"), "--grpc-port", "4100"]) == 0
    text = (tmp_path / "grpc" / "workspace.yaml").read_text()
    servers = [e["grpc_server"] for e in yaml.safe_load(text)["load_from"]]
    assert [(s["location_name"], s["port"]) for s in servers] == [("loop_a", 4100), ("loop_b", 4101)]
    assert "dagster code-server start -f" in text and "--location-name loop_b -h 127.0.0.1 -p 4101" in text


def test_deploy_workspace_refuses_workspaces_it_cannot_tell_apart(tmp_path: Path, capsys) -> None:
    a = _workspace(tmp_path / "a", "loop_a", "loop_a")
    bare = _workspace(tmp_path / "bare", "lumen")
    assert main(["deploy", "workspace", str(a), str(bare), "--out", str(tmp_path / "d1")]) == 2
    said = capsys.readouterr().err
    assert f"{bare}/lumen.yaml: key 'location.asset_prefix' is not set" in said
    twin = _workspace(tmp_path / "twin", "loop_t", "loop_a")
    assert main(["deploy", "workspace", str(a), str(twin), "--out", str(tmp_path / "d2")]) == 2
    assert "location.asset_prefix 'loop_a'" in capsys.readouterr().err
    assert not (tmp_path / "d1").exists() and not (tmp_path / "d2").exists()
    # one workspace alone keeps its bare keys
    assert main(["deploy", "workspace", str(bare), "--out", str(tmp_path / "d3")]) == 0


def test_deploy_instance_names_the_psycopg2_driver_and_one_run_per_workspace(tmp_path: Path, monkeypatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    assert main(["deploy", "instance", "--out", str(tmp_path / "home"), "--max-concurrent-runs", "6"]) == 0
    settings = yaml.safe_load((tmp_path / "home" / "dagster.yaml").read_text())
    db = settings["storage"]["postgres"]["postgres_db"]
    assert db["scheme"] == "postgresql+psycopg2" and db["password"] == {"env": "LUMEN_PG_PASSWORD"}
    queue = settings["run_coordinator"]["config"]
    assert queue["max_concurrent_runs"] == 6
    assert queue["tag_concurrency_limits"] == [
        {"key": "dagster/code_location", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    for part, value in (("USER", "u"), ("PASSWORD", "p"), ("HOST", "127.0.0.1"), ("PORT", "5432"), ("DB", "d")):
        monkeypatch.setenv(f"LUMEN_PG_{part}", value)
    dagster_instance_config(str(tmp_path / "home"))  # Dagster's own schema accepts it (no connection made)


def test_a_prefixed_location_puts_every_key_under_its_prefix(tmp_path: Path) -> None:
    """Assets, checks, deps, the sensors' jobs: all under the workspace's prefix (a fresh process, since the
    location's config is read once at import)."""
    workspace = _workspace(tmp_path / "a", "loop_a", "loop_a")
    probe = """
import json, dagster as dg
from lumen_assets.definitions import defs
graph = defs.resolve_asset_graph()
keys = [k.path for k in graph.get_all_asset_keys()]
deps = [p.path for k in graph.get_all_asset_keys() for p in graph.get(k).parent_keys]
checks = [c.asset_key.path for c in graph.asset_check_keys]
jobs = {j: [k.path for k in defs.resolve_job_def(j).asset_layer.executable_asset_keys]
        for j in ("rule_event_job", "effect_posteriors_fast_job")}
print(json.dumps({"keys": keys, "deps": deps, "checks": checks, "jobs": jobs}))
"""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LUMEN_", "DAGSTER_"))},
           "LUMEN_WORKSPACE": str(workspace)}
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", probe], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert ["loop_a", "rule_effects"] in found["keys"] and len(found["keys"]) > 15
    for path in [*found["keys"], *found["deps"], *found["checks"], *sum(found["jobs"].values(), [])]:
        assert path[0] == "loop_a" and len(path) == 2, path
    assert sorted(p[1] for p in found["jobs"]["rule_event_job"]) == ["metrics", "quote_bank", "risk_ledger",
                                                                     "rule_effects", "rule_events"]


@pytest.mark.parametrize("prefix", ["loop/a", "loop a", ""])
def test_an_asset_prefix_is_one_plain_name(tmp_path: Path, prefix: str) -> None:
    from lumen_assets.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="location.asset_prefix"):
        parse_config(f"location:\n  asset_prefix: '{prefix}'\n", "lumen.yaml")


def test_a_named_workspace_gets_a_ui_workspace_file_serving_its_own_location(tmp_path: Path) -> None:
    """The UI hint and `--launch` use a workspace file whose location is the one the runs are recorded under:
    Lumen's own workspace.yaml for `lumen`, a generated one under DAGSTER_HOME for any other name."""
    from lumen_assets.config import load_config
    from lumen_assets.runner import WORKSPACE_YAML, ui_workspace_file

    bare = _workspace(tmp_path / "bare", "lumen")
    assert ui_workspace_file(bare, None, tmp_path / "home0", load_config(None)) == WORKSPACE_YAML
    assert not (tmp_path / "home0").exists()

    named = _workspace(tmp_path / "a", "loop_a", "loop_a")
    found = ui_workspace_file(named, None, tmp_path / "home", load_config(named / "lumen.yaml"))
    assert found == tmp_path / "home" / "ui" / "workspace.yaml"
    entries = yaml.safe_load(found.read_text())["load_from"]
    assert [e["python_file"]["location_name"] for e in entries] == ["loop_a"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LUMEN_", "DAGSTER_"))},
           "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(found)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loop_a" in done.stdout + done.stderr
