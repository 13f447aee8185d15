"""The resonance asset and its SLO checks, run through Dagster on an ephemeral instance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.resonance.defs import (
    coherence_slo,
    creative_band_slo,
    freshness_slo,
    phase_slo,
    resonance_scores,
    risk_band_slo,
    run_success_slo,
)
from tests.resonance.conftest import write_metrics, write_report

asset_checks = [coherence_slo, phase_slo, creative_band_slo, risk_band_slo, run_success_slo, freshness_slo]


def materialize(root, instance):
    return dg.materialize(
        [resonance_scores, *asset_checks],
        resources={"workspace": LumenWorkspace(root=str(root))},
        instance=instance,
    )


def check_results(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_scores_for_every_window_and_channel_with_inputs(workspace_root):
    write_metrics(workspace_root, minutes=20)
    write_report(workspace_root)
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(workspace_root, instance)
    assert result.success
    doc = json.loads((workspace_root / "logs" / "resonance.json").read_text())
    assert set(doc["windows"]) == {"24h", "7d"}
    for window in doc["windows"].values():
        assert set(window["channels"]) == {"lumen", "lubit", "sena", "vinoce"}
        assert window["inputs"]["signals"]["samples"] == 20 * 60 * 5
        # no trust checks and no custody record: safety is unknown, not 0.5
        assert window["scores"]["safety"] is None and "safety" in window["unknown"]
        assert window["scores"]["symmetry"] == 1.0 and window["scores"]["continuity"] == 1.0
    assert doc["coherence"] == doc["windows"]["24h"]["scores"]["coherence"] == 1.0  # seed-shaped top level
    materialization = result.asset_materializations_for_node("resonance_scores")[0]
    assert {"scores", "inputs", "run_success_sli", "proof_checks", "path", "sha256"} <= set(materialization.metadata)
    checks = check_results(result)
    assert set(checks) == {c.check_key.name for c in asset_checks}
    assert all(c.passed for c in checks.values()), {k: c.description for k, c in checks.items() if not c.passed}


def test_breaking_bands_fails_the_band_slos(workspace_root):
    write_metrics(workspace_root, creative=0.1, risk=0.5)
    write_report(workspace_root)
    checks = check_results(materialize(workspace_root, dg.DagsterInstance.ephemeral()))
    assert not checks["creative_band_slo"].passed
    assert checks["creative_band_slo"].severity == dg.AssetCheckSeverity.WARN
    assert checks["creative_band_slo"].metadata["creative_band_mean"].value == pytest.approx(0.1)
    assert not checks["risk_band_slo"].passed
    assert checks["coherence_slo"].passed


def test_failed_runs_feed_entropy_phase_and_the_sli(workspace_root):
    write_metrics(workspace_root)
    write_report(workspace_root)
    instance = dg.DagsterInstance.ephemeral()

    @dg.asset
    def needs_module():
        raise ModuleNotFoundError("No module named 'not_installed'")

    @dg.asset
    def disk_full():
        raise OSError("[Errno 28] No space left on device")

    for asset in (needs_module, disk_full, needs_module):
        assert not dg.materialize([asset], instance=instance, raise_on_error=False).success
    result = materialize(workspace_root, instance)
    doc = json.loads((workspace_root / "logs" / "resonance.json").read_text())
    runs = doc["windows"]["24h"]["inputs"]["runs"]
    assert runs["failure_hist"] == {"dependency": 2, "environment": 1}
    assert runs["runs"] == 3 and runs["fail_rate"] == 1.0
    assert 0.9 < doc["windows"]["24h"]["scores"]["entropy"] < 0.92  # H(2/3, 1/3) / log2(2)
    assert doc["sli"]["run_success"] == {"window_s": 604800.0, "target": 0.99, "total": 3, "success": 0, "ratio": 0.0}
    checks = check_results(result)
    run_check = checks["run_success_slo"]
    assert not run_check.passed and run_check.severity == dg.AssetCheckSeverity.ERROR  # 1h/5m pair burns 100x
    # phase = p95 duration / 600 s + failure rate 1.0: above phase_warn 0.7, below phase_crit 1.2
    assert not checks["phase_slo"].passed
    assert checks["phase_slo"].severity == dg.AssetCheckSeverity.WARN


def test_failed_integrity_check_makes_safety_zero(workspace_root):
    write_metrics(workspace_root)
    (workspace_root / "attest" / "custody" / "records").mkdir(parents=True)
    (workspace_root / "attest" / "custody" / "records" / "initial_20250101T000000Z.json").write_text(
        json.dumps({"ts_utc": (datetime.now(UTC) - timedelta(days=90)).isoformat(), "event": "initial"})
    )
    instance = dg.DagsterInstance.ephemeral()

    specs = [dg.AssetCheckSpec(name, asset="transparency_log") for name in ("attested_artefacts_verify", "new_leaves_included")]

    @dg.asset(name="transparency_log", check_specs=specs)
    def fake_tlog():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(check_name="attested_artefacts_verify", passed=False)
        yield dg.AssetCheckResult(check_name="new_leaves_included", passed=True)

    dg.materialize([fake_tlog], instance=instance)
    materialize(workspace_root, instance)
    doc = json.loads((workspace_root / "logs" / "resonance.json").read_text())
    window = doc["windows"]["24h"]
    # checkpoint_consistent never evaluated: the log part is unknown, but a failed verify makes safety 0
    assert window["inputs"]["proofs"] == {"signatures": False, "chain": False, "tlog": None}
    assert window["scores"]["safety"] == 0.0
    assert window["inputs"]["custody_age_d"] == pytest.approx(90, abs=0.01)
    assert doc["proof_checks"]["transparency_log:attested_artefacts_verify"]["status"] == "FAILED"
    assert doc["proof_checks"]["transparency_log:checkpoint_consistent"]["status"] == "never evaluated"


def test_checks_without_a_document_fail_with_a_clear_reason(workspace_root):
    for check in (coherence_slo, phase_slo, run_success_slo, creative_band_slo, risk_band_slo):
        result = check(LumenWorkspace(root=str(workspace_root)))
        assert not result.passed and "materialise resonance_scores" in result.description


def test_freshness_fails_on_old_data_and_missing_report(workspace_root):
    write_metrics(workspace_root, end=datetime.now(UTC) - timedelta(days=2))
    result = freshness_slo(LumenWorkspace(root=str(workspace_root)))
    assert not result.passed
    assert "newest metrics sample" in result.description and "no daily report" in result.description
