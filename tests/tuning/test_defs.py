"""Dagster layer of tuning: proposals in dry-run, the apply job behind config, and `lumen rollback`."""

import json
import shutil

import dagster as dg
import pytest

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.posteriors.defs import effect_posteriors_conjugate
from lumen_assets.tuning.defs import apply_tuning, tuning_proposals


@pytest.fixture
def workspace(demo_root, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(demo_root, root)
    return root


def _resources(root):
    return {"workspace": LumenWorkspace(root=str(root))}


def test_proposals_are_dry_run_and_idempotent(workspace):
    history_before = (workspace / "controls/rules_history.jsonl").read_bytes()
    for _ in range(2):
        result = dg.materialize([effect_posteriors_conjugate, tuning_proposals], resources=_resources(workspace),
                                instance=dg.DagsterInstance.ephemeral())
        assert result.success
    records = [json.loads(x) for x in (workspace / "logs/tuning_decisions.jsonl").read_text().splitlines()]
    kinds = {p["kind"] for p in records[-1]["proposals"]}
    assert kinds == {"self_tuning", "bandit", "ab_bracket"}
    assert all("p_improve" in p and "reason" in p and "old" in p for p in records[-1]["proposals"])
    assert (workspace / ".lumen/tuning/bandit_state.json").exists()
    # the apply job is a no-op in dry-run: the history is untouched
    assert apply_tuning.execute_in_process(resources=_resources(workspace)).success
    assert (workspace / "controls/rules_history.jsonl").read_bytes() == history_before


def test_apply_appends_gated_change_with_old_and_new(workspace):
    (workspace / "lumen.yaml").write_text(
        "tuning:\n  dry_run: false\n  decision_threshold: 0.0\n  cooldown_s: 0\n"
        "  targets: {risk_band: {max: 0.0}}\n  safety: {good_risk_max: -1.0}\n"
        "  bandit: {enabled: false}\n  ab_bracket: {enabled: false}\n")
    assert dg.materialize([effect_posteriors_conjugate, tuning_proposals], resources=_resources(workspace),
                          instance=dg.DagsterInstance.ephemeral()).success
    latest = json.loads((workspace / ".lumen/tuning/latest.json").read_text())
    applicable = [p for p in latest["proposals"] if p["applicable"]]
    before = (workspace / "controls/rules_history.jsonl").read_text().splitlines()
    assert apply_tuning.execute_in_process(resources=_resources(workspace)).success
    after = (workspace / "controls/rules_history.jsonl").read_text().splitlines()
    assert len(after) == len(before) + len(applicable) == len(before) + 1
    event = json.loads(after[-1])
    assert event["actor"] == "lumen-tuner" and event["rule"] == "risk_max"
    assert event["new"] == pytest.approx(event["old"] - 0.02)


def test_lumen_rollback_cli(workspace, capsys):
    import argparse

    from lumen_assets.tuning.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    history = workspace / "controls/rules_history.jsonl"
    last = json.loads(history.read_text().splitlines()[-1])
    args = parser.parse_args(["rollback", "--workspace", str(workspace)])
    assert args.func(args) == 0
    undo = json.loads(history.read_text().splitlines()[-1])
    assert (undo["rule"], undo["old"], undo["new"]) == (last["rule"], last["new"], last["old"])
    bad = parser.parse_args(["rollback", "nonexistent", "--workspace", str(workspace)])
    assert bad.func(bad) == 1
    assert "no rule event with id 'nonexistent'" in capsys.readouterr().err


def test_the_rhythm_blend_moves_the_phase_target_only_when_weighted(workspace):
    """Seed segC §C1: self-tuning reads the synchronizer's blend (logs/rhythm_sync.jsonl) over its observation
    window and scales the phase_diff target by (1 + w·blend); with the default weight 0 it is not read at all."""
    from lumen_assets.rhythm.defs import environment, rhythm_sync
    from lumen_assets.rhythm.sync import blend_over, read_sync_file

    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([environment, rhythm_sync], resources=_resources(workspace), instance=instance).success

    def self_tuning_proposal():
        assert dg.materialize([effect_posteriors_conjugate, tuning_proposals], resources=_resources(workspace),
                              instance=instance).success
        record = json.loads((workspace / ".lumen/tuning/latest.json").read_text())
        [proposal] = [p for p in record["proposals"] if p["kind"] == "self_tuning"]
        return proposal

    assert "rhythm" not in self_tuning_proposal()  # off by default
    (workspace / "lumen.yaml").write_text("tuning:\n  rhythm_weight: 0.4\n")
    proposal = self_tuning_proposal()
    rhythm = proposal["rhythm"]
    from lumen_assets.ingest.metrics_store import load_state

    last_ns = load_state(workspace / ".lumen/metrics").last_ts_ns
    expected = blend_over(read_sync_file(workspace / "logs/rhythm_sync.jsonl"), last_ns, 90)
    assert expected is not None and rhythm["blend"] == pytest.approx(expected) and rhythm["weight"] == 0.4
    assert rhythm["phase_diff_target"] == pytest.approx(0.05 * (1 + 0.4 * max(-1.0, min(1.0, expected))), abs=1e-6)
