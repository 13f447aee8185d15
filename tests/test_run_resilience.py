"""`lumen run` on a workspace whose trust is not set up and whose analysis fails (issue 11 §2): everything
that can run runs, the failures are listed one line each, no traceback on the terminal."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from lumen_assets.demo import write_demo_workspace
from tests.test_cli import _lumen


@pytest.fixture(scope="module")
def untrusted_run(tmp_path_factory: pytest.TempPathFactory):
    workspace = tmp_path_factory.mktemp("untrusted") / "ws"
    write_demo_workspace(workspace, hours=0.5)
    saved = os.environ.pop("LUMEN_SIGNER_PASS", None)
    try:
        done = _lumen("run", "--workspace", str(workspace))
    finally:
        if saved is not None:
            os.environ["LUMEN_SIGNER_PASS"] = saved
    return workspace, done


def test_without_trust_everything_that_does_not_sign_still_runs(untrusted_run) -> None:
    workspace, done = untrusted_run
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert out.index("trust is not set up") < out.index("[lumen] materialising")  # said before it starts
    assert "lumen keys issue-signer" in out and "lumen keys init-log" in out
    for name in ("metrics", "rule_effects", "daily_report", "archive_bundle", "report_distribution", "resonance_scores"):
        assert f"    {name}" in out, name
    assert list((workspace / "controls" / "reports").glob("report_*.md"))
    failures = [line.strip() for line in out.splitlines() if line.strip().startswith("ERROR ")]
    assert any(line.startswith("ERROR asset attestations: trust is not set up") for line in failures), failures
    assert all(len(line) < 600 for line in failures)


def test_no_dagster_traceback_reaches_the_terminal(untrusted_run) -> None:
    _, done = untrusted_run
    assert "Traceback" not in done.stdout + done.stderr
    assert "DagsterExecutionStepExecutionError" not in done.stdout + done.stderr


def test_resonance_runs_after_the_trust_assets(untrusted_run) -> None:
    _, done = untrusted_run
    out = done.stdout
    assert out.index("materialising attestations, transparency_log") < out.index("materialising resonance_scores")


def test_plan_puts_resonance_in_its_own_batch_after_trust() -> None:
    from lumen_assets.definitions import build_definitions
    from lumen_assets.runner import plan_batches

    graph = build_definitions().resolve_asset_graph()
    keys = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    batches = [{k.to_user_string() for k in batch} for _, batch in plan_batches(graph, keys)]
    trust = next(i for i, b in enumerate(batches) if "transparency_log" in b)
    assert batches[-1] == {"resonance_scores"} and trust < len(batches) - 1


def test_first_data_day_is_where_the_data_starts(tmp_path: Path) -> None:
    from lumen_assets.ingest.coverage import first_data_day

    write_demo_workspace(tmp_path, hours=0.2)
    day = first_data_day(tmp_path / "logs" / "metrics.csv", tmp_path / "controls" / "rules_history.jsonl", "Asia/Seoul")
    assert day == date(2025, 10, 23)
    assert first_data_day(tmp_path / "none.csv", tmp_path / "none.jsonl", "Asia/Seoul") is None


def test_a_non_blocking_error_check_still_fails_the_run(tmp_path: Path) -> None:
    import io

    from lumen_assets.runner import CheckOutcome, RunSummary, print_summary

    summary = RunSummary(workspace=tmp_path, dagster_home=tmp_path / ".dagster")
    summary.checks.append(CheckOutcome("effect_posteriors", "posterior_convergence", passed=True, severity="ERROR",
                                       blocking=False, partition=None))
    summary.checks.append(CheckOutcome("metrics", "metrics_freshness", passed=False, severity="WARN",
                                       blocking=False, partition=None, description="stale"))
    assert summary.ok  # a WARN failure only reports
    summary.checks.append(CheckOutcome("effect_posteriors", "posterior_convergence", passed=False, severity="ERROR",
                                       blocking=False, partition=None, description="the pymc fit did not converge\nmore"))
    assert not summary.ok
    out = io.StringIO()
    print_summary(summary, out=out)
    lines = out.getvalue().splitlines()
    assert "    FAILED ERROR: check effect_posteriors.posterior_convergence - the pymc fit did not converge" in lines
    assert lines[-1] == "FAILED"
