"""Certificates and CRLs are logged; a CRL rolled back below the newest logged CRL number is rejected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE
from lumen_assets.attest.issue import attest_artifact, log_envelopes
from lumen_assets.attest.keys import current_signer, issue_signer, log_key, revoke
from lumen_assets.cli import main
from lumen_assets.tlog.audit import audit_log
from lumen_assets.tlog.publish import log_trust_files, logged_entries
from tests.attest.conftest import ORIGIN, Attested


def _log_trust(attested: Attested) -> list[dict]:
    name, key = log_key(attested.trust.keystore, DEMO_PASSPHRASE)
    return log_trust_files(attested.workspace, "attest/trust", attested.workspace / "tlog", ORIGIN, name, key)


def test_trust_files_are_logged_once_and_audited(attested: Attested) -> None:
    tlog = attested.workspace / "tlog"
    certificates = [record["name"] for record, _ in logged_entries(tlog, "certificate")]
    assert certificates == ["attest/trust/root.pem", f"attest/trust/signers/{attested.trust.signer_serial}.pem"]
    assert [record["name"] for record, _ in logged_entries(tlog, "crl")] == ["attest/trust/crl.pem"]
    assert _log_trust(attested) == []  # same bytes: nothing new
    (attested.workspace / "attest/trust/crl.pem").write_bytes(  # a new CRL (same content, new bytes) is logged
        (attested.workspace / "attest/trust/crl.pem").read_bytes() + b"\n")
    assert [(r["name"], r["kind"]) for r in _log_trust(attested)] == [("attest/trust/crl.pem", "crl")]
    vkey = (attested.workspace / "attest/trust/log.vkey").read_text().strip()
    assert audit_log(tlog, vkey, ORIGIN).leaves == 3 + 2 + 1


def test_older_crl_copied_back_is_rejected_as_rolled_back(attested: Attested, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    ws = attested.workspace
    _log_trust(attested)
    old_crl = tmp_path / "old-crl.pem"
    shutil.copy(ws / "attest/trust/crl.pem", old_crl)
    revoke(attested.trust.root_dir, DEMO_PASSPHRASE, attested.trust.signer_serial, trust_dir=attested.trust.trust_dir)
    assert main(["verify", str(attested.report), "--workspace", str(ws)]) == 1
    assert "NOT VERIFIED: revocation: certificate" in capsys.readouterr().out  # revoked by the new CRL
    _log_trust(attested)  # the next trust run logs the new CRL
    shutil.copy(old_crl, ws / "attest/trust/crl.pem")  # still signed by the root, does not revoke the signer
    assert main(["verify", str(attested.report), "--workspace", str(ws)]) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED: revocation: CRL number" in out and "CRL rolled back" in out, out


def test_a_signer_certificate_never_logged_fails_verify_until_the_trust_run_logs_it(
        attested: Attested, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 §2: a signer certificate slipped into the trust folder (valid chain, not revoked) and used to sign,
    but never logged, is refused by `lumen verify` (also with --no-log-audit, as the asset check runs it)."""
    ws, trust = attested.workspace, attested.trust
    new = issue_signer(trust.root_dir, DEMO_PASSPHRASE, trust.keystore, DEMO_PASSPHRASE, trust.trust_dir)
    (ws / "logs/late.jsonl").write_text('{"late": true}\n')
    attest_artifact(ws, "logs/late.jsonl", current_signer(trust.keystore, DEMO_PASSPHRASE), asset_key="x")
    name, key = log_key(trust.keystore, DEMO_PASSPHRASE)
    log_envelopes(ws, ["logs/late.jsonl"], ws / "tlog", ORIGIN, name, key)  # the envelope only, not the cert
    cause = f"NOT VERIFIED: cert-logged: signer certificate {new.serial_number:x} is not in the log tlog/"
    for extra in ([], ["--no-log-audit"]):
        assert main(["verify", str(ws / "logs/late.jsonl"), "--workspace", str(ws), *extra]) == 1
        out = capsys.readouterr().out
        assert cause in out and "ok   log" in out, out  # the log itself is sound: the certificate is the cause
    assert main(["verify", str(attested.report), "--workspace", str(ws)]) == 0  # the old signer was logged
    capsys.readouterr()

    _log_trust(attested)  # the next trust run logs the new certificate
    assert main(["verify", str(ws / "logs/late.jsonl"), "--workspace", str(ws)]) == 0
    assert f"signer certificate {new.serial_number:x} is leaf " in capsys.readouterr().out


def test_verify_fails_closed_without_a_log_to_find_the_signer_certificate_in(
        attested: Attested, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(attested.workspace / "tlog")
    assert main(["verify", str(attested.report), "--workspace", str(attested.workspace)]) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED: cert-logged: signer certificate" in out and "cannot be looked up: no workspace log at tlog/" in out
