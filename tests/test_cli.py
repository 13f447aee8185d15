"""The CLI contract (issue 2 §2): `lumen demo`, `lumen run`, config errors, exit codes and the persistent
DAGSTER_HOME, exercised through the real console script in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lumen_assets.demo import write_demo_workspace
from lumen_assets.effects.table import read_effects_csv

ROOT = Path(__file__).resolve().parent.parent


def _lumen(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "LUMEN_WORKSPACE", "LUMEN_CONFIG")}
    # the `lumen` script of the interpreter running the tests (a worktree's venv), never another install's
    script = Path(sys.executable).parent / "lumen"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "lumen_assets.cli"]
    return subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    workspace = tmp_path_factory.mktemp("cli") / "demo"
    return workspace, _lumen("demo", "--workspace", str(workspace))


def test_demo_exits_zero_and_prints_the_summary(demo_run) -> None:
    workspace, done = demo_run
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "assets materialised" in done.stdout
    assert "checks:" in done.stdout
    for name in ("rule_events", "metrics", "rule_effects", "gateway_state"):
        assert f"    {name}" in done.stdout, name
    assert str(workspace.resolve() / "logs" / "rules_effects.csv") in done.stdout
    assert done.stdout.rstrip().endswith("ok")


def test_demo_writes_the_effects_table_for_every_event(demo_run) -> None:
    workspace, done = demo_run
    assert done.returncode == 0, done.stderr[-4000:]
    table = read_effects_csv(workspace / "logs" / "rules_effects.csv")
    assert table["event_id"].is_unique and len(table) == 24
    assert table["status"].value_counts().to_dict() == {"complete": 22, "pending": 1, "insufficient": 1}


def test_run_with_a_selection_exits_zero(demo_run) -> None:
    workspace, first = demo_run
    assert first.returncode == 0, first.stderr[-4000:]
    done = _lumen("run", "--workspace", str(workspace), "--select", "rule_effects")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "rule_effects" in done.stdout
    assert "    metrics" not in done.stdout  # only the selection ran


def test_runs_are_recorded_in_the_workspace_dagster_home(demo_run, monkeypatch) -> None:
    import dagster as dg

    workspace, done = demo_run
    assert done.returncode == 0, done.stderr[-4000:]
    home = workspace / ".dagster"
    assert (home / "dagster.yaml").exists()
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # dagster.yaml names its event-log folder through it
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) >= 2
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        materialized = instance.get_latest_materialization_event(dg.AssetKey("rule_effects"))
        assert materialized is not None
        effects = read_effects_csv(workspace / "logs" / "rules_effects.csv")
        days = {str(p) for p in instance.get_materialized_partitions(dg.AssetKey("rule_effects"))}
        assert days == {ts[:10] for ts in effects["rule_ts"]}  # the demo's rule_ts are in the report timezone
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z_[\w.-]+", i) for i in effects["event_id"])


def test_a_run_checks_each_append_but_leaves_the_full_log_audit_to_its_schedule(demo_run, monkeypatch) -> None:
    """Issue 13 §1: the incremental audit (`new_leaves_included`, `checkpoint_consistent`) runs on every trust
    run; the full `log_audit` only in `tlog_audit_job` (nightly) or `lumen tlog audit`, not in `lumen run`."""
    import dagster as dg

    workspace, done = demo_run
    assert done.returncode == 0, done.stderr[-4000:]
    monkeypatch.setenv("DAGSTER_HOME", str(workspace / ".dagster"))
    with dg.DagsterInstance.from_config(str(workspace / ".dagster")) as instance:
        trust_runs = [run for run in instance.get_runs()
                      if dg.AssetKey("transparency_log") in (run.asset_selection or ())]
        assert trust_runs
        evaluated = {entry.dagster_event.event_specific_data.check_name
                     for run in trust_runs
                     for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)}
    assert {"new_leaves_included", "checkpoint_consistent", "attested_artefacts_verify"} <= evaluated
    assert "log_audit" not in evaluated
    assert "log_audit" not in done.stdout


def test_unknown_config_key_exits_2_naming_file_key_and_line(tmp_path: Path) -> None:
    write_demo_workspace(tmp_path / "ws", hours=0.5)
    config = tmp_path / "bad.yaml"
    config.write_text("effects:\n  pre_s: 30\n  post_secs: 30\n", encoding="utf-8")
    done = _lumen("run", "--workspace", str(tmp_path / "ws"), "--config", str(config))
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{config}:3" in done.stderr
    assert "effects.post_secs" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ws" / "logs" / "rules_effects.csv").exists()


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    done = _lumen("run", "--workspace", str(tmp_path / "ws"), "--config", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2 and "nope.yaml" in done.stderr


def test_wrong_metrics_header_exits_1_naming_the_file(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write_demo_workspace(workspace, hours=0.5)
    metrics = workspace / "logs" / "metrics.csv"
    lines = metrics.read_text(encoding="utf-8").splitlines()
    metrics.write_text("\n".join(["timestamp,phase,entropy,creative,risk", *lines[1:]]) + "\n", encoding="utf-8")
    (workspace / "lumen.yaml").write_text("{}\n", encoding="utf-8")
    done = _lumen("run", "--workspace", str(workspace))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "logs/metrics.csv:1" in done.stdout + done.stderr  # workspace-relative: the run log keeps it too
    assert "FAILED" in done.stdout


@pytest.mark.parametrize("day", ["2025-13-01", "2025-02-30", "yesterday"])
def test_invalid_date_is_rejected(tmp_path: Path, day: str) -> None:
    done = _lumen("run", "--workspace", str(tmp_path), "--date", day, timeout=120)
    assert done.returncode == 2
    assert "--date must be YYYY-MM-DD" in done.stderr


def test_missing_workspace_is_rejected(tmp_path: Path) -> None:
    done = _lumen("run", "--workspace", str(tmp_path / "absent"), timeout=120)
    assert done.returncode == 2 and "is not a folder" in done.stderr


def test_every_check_of_the_demo_says_in_words_what_it_found(demo_run, monkeypatch) -> None:
    """Issue 15 §4: each check evaluation of a whole-graph run has a description; a failing one says what
    failed and what to do; a pass with nothing to compare says so; ages read as durations, not seconds."""
    import re

    import dagster as dg

    workspace, done = demo_run
    assert done.returncode == 0, done.stderr[-4000:]
    monkeypatch.setenv("DAGSTER_HOME", str(workspace / ".dagster"))  # dagster.yaml names its event log through it
    with dg.DagsterInstance.from_config(str(workspace / ".dagster")) as instance:
        records = instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=1000)
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    assert len(evaluations) >= 20
    silent = [e.check_name for e in evaluations if not (e.description or "").strip()]
    assert not silent, f"checks without words: {sorted(set(silent))}"
    failing = [e for e in evaluations if not e.passed]
    assert {"metrics_freshness", "freshness_slo"} <= {e.check_name for e in failing}  # the demo is from 2025
    unhelpful = [e.check_name for e in failing if "What to do: " not in e.description]
    assert not unhelpful, f"failing checks that do not say what to do: {unhelpful}"
    freshness = next(e for e in failing if e.check_name == "metrics_freshness")
    assert re.search(r"is \d+ days( \d+ h)? old, older than metrics.freshness_max_age_s \(1 h\)",
                     freshness.description), freshness.description
    assert not any(re.search(r"\d{5,}s\b", e.description) for e in evaluations)  # no "906022s"


def test_nothing_lumen_writes_names_the_workspace_location(demo_run) -> None:
    """Issue 11 §4: the whole graph's outputs, quarantine files and Dagster history (event log included)
    hold workspace-relative paths only, so a moved or copied workspace is self-contained."""
    workspace, done = demo_run
    assert done.returncode == 0, done.stderr[-4000:]
    needle = str(workspace.resolve()).encode()
    naming = [str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file() and needle in p.read_bytes()]
    assert naming == []


# Issue 14 §3: the stock CLIs on the materialised demo workspace (here, to reuse this module's `lumen demo` run).
OFFLINE_ENV = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
               "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "NO_PROXY": ""}


def _stock(tool: str, args: list[str], workspace: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A stock CLI, offline, from an empty folder (in-toto-verify writes its inspection link there)."""
    found = Path(sys.executable).parent / tool
    cwd = tmp_path / f"run-{tool}-{len(list(tmp_path.iterdir()))}"
    cwd.mkdir()
    env = {**os.environ, **OFFLINE_ENV, "LUMEN_WORKSPACE": str(workspace)}
    return subprocess.run([str(found) if found.exists() else tool, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _in_toto_verify(workspace: Path, day: str, tmp_path: Path, key: Path | None = None) -> subprocess.CompletedProcess[str]:
    links = workspace / "attest" / "in-toto"
    return _stock("in-toto-verify", ["--layout", str(links / "root.layout"), "--verification-keys",
                                     str(key or workspace / "attest/trust/layout.pub.pem"), "--link-dir", str(links / day)],
                  workspace, tmp_path)


def _sigstore_verify(workspace: Path, rel: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    import json

    pointer = json.loads((workspace / "attest/trust/sigstore.json").read_text())
    return _stock("sigstore", ["--trust-config", str(workspace / pointer["trust_config"]), "verify", "identity",
                               str(workspace / rel), "--bundle", str(workspace / "attest" / f"{rel}.sigstore.json"),
                               "--offline", "--cert-identity", pointer["identity"],
                               "--cert-oidc-issuer", pointer["issuer"]], workspace, tmp_path)


def test_stock_in_toto_verify_and_sigstore_pass_on_the_demo_and_fail_on_a_changed_byte(demo_run, tmp_path) -> None:
    workspace, done = demo_run
    assert done.returncode == 0, done.stderr[-4000:]
    days = sorted(p.name for p in (workspace / "attest/in-toto").glob("20*-*-*"))
    assert days, "no day folder of in-toto links"
    day = days[0]
    links = sorted(p.name.split(".")[0] for p in (workspace / "attest/in-toto" / day).glob("*.link"))
    assert links == sorted(["ingest", "effects", "posteriors", "evidence", "report", "archive"])
    passed = _in_toto_verify(workspace, day, tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert not (workspace / "on-disk.link").exists()  # the inspection ran from the empty folder

    report = f"controls/reports/report_{day}.md"
    signed = _sigstore_verify(workspace, report, tmp_path)
    assert signed.returncode == 0, signed.stdout + signed.stderr

    path = workspace / report
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-2] + bytes([original[-2] ^ 0x01]) + original[-1:])
        failed = _in_toto_verify(workspace, day, tmp_path)
        assert failed.returncode == 1
        assert "DISALLOW attest/in-toto/changed/*" in failed.stderr and f"changed/{report}" in failed.stderr
        assert _sigstore_verify(workspace, report, tmp_path).returncode != 0
    finally:
        path.write_bytes(original)
    assert _in_toto_verify(workspace, day, tmp_path).returncode == 0


def test_stock_in_toto_verify_fails_on_the_demo_for_a_changed_link_or_a_wrong_key(demo_run, tmp_path) -> None:
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    workspace, done = demo_run
    assert done.returncode == 0, done.stderr[-4000:]
    day = sorted(p.name for p in (workspace / "attest/in-toto").glob("20*-*-*"))[0]
    link = next((workspace / "attest/in-toto" / day).glob("evidence.*.link"))
    original = link.read_bytes()
    try:
        signed = json.loads(original)
        product = next(iter(signed["signed"]["products"]))
        signed["signed"]["products"][product]["sha256"] = "0" * 64
        link.write_text(json.dumps(signed))
        failed = _in_toto_verify(workspace, day, tmp_path)
        assert failed.returncode == 1
        assert "'evidence' requires at least '1' links validly signed" in failed.stderr
    finally:
        link.write_bytes(original)
    other = tmp_path / "other.pub.pem"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    wrong = _in_toto_verify(workspace, day, tmp_path, key=other)
    assert wrong.returncode == 1 and "ignature" in wrong.stderr
    assert _in_toto_verify(workspace, day, tmp_path).returncode == 0
