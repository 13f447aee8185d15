"""`lumen keys`, `lumen verify`, `lumen custody` through the real argument parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from lumen_assets.attest.custody import custody_age_days, verify_ledger
from lumen_assets.cli import main
from tests.attest.conftest import Attested, attest_and_log


def test_verify_exit_codes_and_json(attested: Attested, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(attested.workspace)
    assert main(["verify", str(attested.report), "--workspace", ws]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    attested.report.write_text("altered\n")
    assert main(["verify", str(attested.report), "--workspace", ws, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["failure"].startswith("subject:")


def test_keys_lifecycle_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LUMEN_ROOT_PASS", "root-secret")
    monkeypatch.setenv("LUMEN_SIGNER_PASS", "signer-secret")
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    root = tmp_path / "offline"
    assert main(["keys", "init-root", "--out", str(ws / "inside"), "--workspace", str(ws)]) == 1
    assert "outside" in capsys.readouterr().err
    assert main(["keys", "init-root", "--out", str(root)]) == 0
    assert main(["keys", "init-root", "--out", str(root)]) == 1  # never overwritten
    assert main(["keys", "issue-signer", "--root", str(root), "--workspace", str(ws)]) == 0
    assert (ws / "attest/trust/root.pem").exists() and (ws / "attest/trust/log.vkey").exists()
    capsys.readouterr()
    assert main(["keys", "list", "--workspace", str(ws)]) == 0
    assert json.loads(capsys.readouterr().out)["log_key_name"] == "lumen.local/tlog"

    from lumen_assets.attest.demo_trust import bootstrap_demo_trust
    from lumen_assets.attest.keys import read_keystore

    (ws / "logs" / "bayes_posterior.jsonl").write_text("{}\n")
    trust = bootstrap_demo_trust(ws, root, passphrase="signer-secret")
    # bootstrap reuses the signer issued above, so the CLI-issued key signs
    serial = read_keystore(ws / ".lumen/keys")["current_signer"]
    assert trust.signer_serial == serial
    from lumen_assets.attest.issue import attest_artifact, log_envelopes
    from lumen_assets.attest.keys import current_signer, log_key
    from lumen_assets.tlog.publish import log_trust_files

    attest_artifact(ws, "logs/bayes_posterior.jsonl", current_signer(ws / ".lumen/keys", "signer-secret"), asset_key="x")
    name, key = log_key(ws / ".lumen/keys", "signer-secret")
    log_trust_files(ws, "attest/trust", ws / "tlog", "lumen.local/tlog", name, key)  # as the trust run does
    log_envelopes(ws, ["logs/bayes_posterior.jsonl"], ws / "tlog", "lumen.local/tlog", name, key)
    assert main(["verify", str(ws / "logs/bayes_posterior.jsonl"), "--workspace", str(ws)]) == 0
    monkeypatch.setenv("LUMEN_ROOT_PASS", "root-secret")
    assert main(["keys", "revoke", serial, "--root", str(root), "--workspace", str(ws)]) == 0
    capsys.readouterr()
    assert main(["verify", str(ws / "logs/bayes_posterior.jsonl"), "--workspace", str(ws)]) == 1
    assert "revocation" in capsys.readouterr().out


def test_missing_passphrase_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUMEN_ROOT_PASS", raising=False)
    with pytest.raises(SystemExit, match="LUMEN_ROOT_PASS"):
        main(["keys", "init-root", "--out", str(tmp_path / "r")])


def test_custody_record_and_packet(attested: Attested, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(attested.workspace)
    assert main(["custody", "record", "--event", "initial", "--witnesses", "alice", "--workspace", ws]) == 1
    assert main(["custody", "record", "--event", "initial", "--witnesses", "alice,bob", "--workspace", ws]) == 0
    out = json.loads(capsys.readouterr().out)
    record = Path(out["path"])
    data = json.loads(record.read_text())
    assert {"ts_utc", "event", "witnesses", "notes", "root_fingerprint"} <= data.keys()
    assert data["root_fingerprint"] == attested.trust.root_fingerprint
    records_dir = record.parent
    assert verify_ledger(records_dir) == []
    assert custody_age_days(records_dir) < 0.01
    record.write_text(record.read_text().replace("alice", "mallory"))
    assert verify_ledger(records_dir) == [record.name]

    assert main(["custody", "packet", "--workspace", ws]) == 0
    pdf = attested.workspace / "attest/custody/prints/ceremony_packet.pdf"
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Lumen Root Ceremony Packet" in text and attested.trust.root_fingerprint[:32] in text
    assert "Quarterly Audit" in text and len(PdfReader(pdf).pages) == 5


def test_reattesting_unchanged_file_keeps_the_envelope(attested: Attested) -> None:
    envelope = attested.workspace / "attest" / "logs" / "bayes_posterior.jsonl.dsse.json"
    before = envelope.read_bytes()
    attest_and_log(attested.workspace, ["logs/bayes_posterior.jsonl"], attested.trust)
    assert envelope.read_bytes() == before


def test_demo_trust_hook_creates_root_outside_and_exports_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE
    from lumen_assets.runner import prepare_demo_trust

    monkeypatch.delenv("LUMEN_SIGNER_PASS", raising=False)
    monkeypatch.delenv("LUMEN_CONFIG", raising=False)
    ws = tmp_path / "ws"
    ws.mkdir()
    message = prepare_demo_trust(ws, None, tmp_path / "outside")
    assert message and "THROWAWAY" in message and str(tmp_path / "outside") in message
    import os

    assert os.environ["LUMEN_SIGNER_PASS"] == DEMO_PASSPHRASE  # the run's signer resource reads it as a dg.EnvVar
    assert (ws / "attest/trust/root.pem").exists() and not list(ws.rglob("root_key.pem"))
    assert (tmp_path / "outside" / "root_key.pem").exists()
