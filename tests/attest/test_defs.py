"""The Dagster layer: attestations -> transparency_log materialise, checks pass, a second run stays consistent."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from lumen.resources.signer import LumenSigner
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.defs import attestations
from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE, bootstrap_demo_trust
from lumen_assets.attest.verifier import TrustLayout, verify_artifact
from lumen_assets.tlog.defs import attested_artefacts_verify, transparency_log


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "controls" / "reports").mkdir(parents=True)
    (ws / "logs").mkdir()
    (ws / "archive" / "2025-01-02").mkdir(parents=True)
    (ws / "controls" / "reports" / "report_2025-01-02.md").write_text("# report\n")
    (ws / "controls" / "reports" / "report_2025-01-02.pdf").write_bytes(b"%PDF-1.4 fake\n")
    (ws / "archive" / "2025-01-02" / "bundle.tar.gz").write_bytes(b"\x1f\x8b tar")
    (ws / "logs" / "bayes_posterior.jsonl").write_text('{"rule":"risk_max"}\n')
    (ws / "logs" / "metrics.csv").write_text("ts,phase_diff,entropy_rate,creative_band,risk_band\n")
    (ws / "controls" / "rules_history.jsonl").write_text("")
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):  # the metrics store's parts (UTC days)
        (ws / ".lumen" / "metrics" / f"date={day}").mkdir(parents=True)
        (ws / ".lumen" / "metrics" / f"date={day}" / "part-000000000000001.parquet").write_bytes(day.encode())
    (ws / ".lumen" / "metrics" / "_ingest_state.json").write_text('{"offset": 1}')
    bootstrap_demo_trust(ws, tmp_path / "offline-root")
    return ws


def _run(ws: Path, instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
    return dg.materialize(
        [attestations, transparency_log],
        resources={"workspace": (ws_res := LumenWorkspace(root=str(ws))), "signer": LumenSigner(workspace=ws_res, passphrase=DEMO_PASSPHRASE)},
        instance=instance,
    )


def test_materialise_attests_logs_and_checks(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    result = _run(ws, instance)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"new_leaves_included": True, "checkpoint_consistent": True}
    meta = result.asset_materializations_for_node("attestations")[0].metadata
    assert meta["attested"].value == 4 and meta["new_envelopes"].value == 4
    envelope = json.loads((ws / "attest/controls/reports/report_2025-01-02.pdf.dsse.json").read_text())
    statement = json.loads(__import__("base64").b64decode(envelope["payload"]))
    assert statement["predicate"]["partition"] == "2025-01-02"
    assert statement["predicate"]["assetKey"] == "daily_report"
    # materials: real sha256s of the rules history, the store's cursor and the report day's parts (Asia/Seoul
    # 2025-01-02 is 2025-01-01T15:00Z .. 2025-01-02T15:00Z), never the 9.5 GB-a-year metrics.csv
    materials = {m["uri"]: m["digest"]["sha256"] for m in statement["predicate"]["materials"]}
    part = ".lumen/metrics/date={}/part-000000000000001.parquet"
    assert sorted(materials) == sorted(["controls/rules_history.jsonl", ".lumen/metrics/_ingest_state.json",
                                        part.format("2025-01-01"), part.format("2025-01-02")])
    assert materials[part.format("2025-01-01")] == __import__("hashlib").sha256(b"2025-01-01").hexdigest()
    posterior = json.loads((ws / "attest/logs/bayes_posterior.jsonl.dsse.json").read_text())
    posterior_materials = json.loads(__import__("base64").b64decode(posterior["payload"]))["predicate"]["materials"]
    assert part.format("2025-01-03") in {m["uri"] for m in posterior_materials}  # no day: every day's parts
    # issue 15 §2: the report's own partition says it is signed and logged, and where
    [observed] = [e.asset_observation_data.asset_observation for e in result.get_asset_observation_events()]
    assert observed.asset_key == dg.AssetKey("daily_report") and observed.partition == "2025-01-02"
    status = {k: v.value for k, v in observed.metadata.items()}
    assert status["signed_and_logged"].startswith("yes, verified")
    assert status["pdf_verified"] == "yes" and status["md_verified"] == "yes"
    pdf_envelope = ws / "attest/controls/reports/report_2025-01-02.pdf.dsse.json"
    assert status["pdf_envelope_sha256"] == __import__("hashlib").sha256(pdf_envelope.read_bytes()).hexdigest()
    assert 0 <= status["pdf_log_index"] < status["pdf_checkpoint_size"]
    assert status["attestations"] == dg.AssetKey("attestations")
    assert status["transparency_log"] == dg.AssetKey("transparency_log")
    layout = TrustLayout(log_origin="lumen.local/tlog")
    for rel in ("controls/reports/report_2025-01-02.md", "archive/2025-01-02/bundle.tar.gz", "logs/bayes_posterior.jsonl"):
        report = verify_artifact(ws / rel, ws, layout)
        assert report.ok, report.failure

    # Each envelope of the (P-256) demo signer takes two leaves: the envelope and its Sigstore dsse entry.
    for rel in ("controls/reports/report_2025-01-02.md", "archive/2025-01-02/bundle.tar.gz"):
        assert (ws / "attest" / (rel + ".sigstore.json")).is_file()
    assert json.loads((ws / "attest/trust/sigstore.json").read_text())["identity"] == "https://lumen.local/signer"
    first_meta = result.asset_materializations_for_node("transparency_log")[0].metadata
    assert first_meta["tree_size"].value == 11 and first_meta["new_leaves"].value == 4  # + 3 trust files

    # A second run with one changed artefact appends its two leaves; the new checkpoint is consistent.
    (ws / "logs" / "bayes_posterior.jsonl").write_text('{"rule":"risk_max","p_improve":0.7}\n')
    second = _run(ws, instance)
    assert second.success
    tlog_meta = second.asset_materializations_for_node("transparency_log")[0].metadata
    # trust files logged on the first run (root, signer certificate, CRL) + 4 envelopes and their Sigstore
    # entries + the changed artefact's envelope and Sigstore entry
    assert tlog_meta["tree_size"].value == 13 and tlog_meta["new_leaves"].value == 1
    assert all(e.passed for e in second.get_asset_check_evaluations())
    assert len(list((ws / "tlog" / "checkpoints").iterdir())) == 3  # trust files, first envelopes, second

    check = attested_artefacts_verify(LumenWorkspace(root=str(ws)))
    assert check.passed
    (ws / "controls" / "reports" / "report_2025-01-02.md").write_text("# tampered\n")
    check = attested_artefacts_verify(LumenWorkspace(root=str(ws)))
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR


def test_missing_signer_fails_with_a_clear_message(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "logs" / "bayes_posterior.jsonl").write_text("{}\n")
    result = dg.materialize(
        [attestations],
        resources={"workspace": (ws_res := LumenWorkspace(root=str(ws))), "signer": LumenSigner(workspace=ws_res, passphrase="x")},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("attestations")
    description = str(failure.user_failure_data.description)  # one line with the commands (issue 11 §2)
    assert "trust is not set up: no signer" in description and "lumen keys issue-signer" in description


def test_statements_name_the_prefixed_asset_key_of_a_prefixed_workspace(tmp_path: Path, monkeypatch) -> None:
    """Several workspaces on one deployment: a statement names the key the UI and the instance know."""
    import lumen_assets.keys

    monkeypatch.setattr(lumen_assets.keys, "asset_prefix", lambda: ("loop_a",))
    ws = _workspace(tmp_path)
    assert _run(ws, dg.DagsterInstance.ephemeral()).success
    envelope = json.loads((ws / "attest/controls/reports/report_2025-01-02.pdf.dsse.json").read_text())
    statement = json.loads(__import__("base64").b64decode(envelope["payload"]))
    assert statement["predicate"]["assetKey"] == "loop_a/daily_report"
