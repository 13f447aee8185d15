"""Certificates and CRLs are logged; a CRL rolled back below the newest logged CRL number is rejected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE
from lumen_assets.attest.keys import log_key, revoke
from lumen_assets.cli import main
from lumen_assets.tlog.audit import audit_log
from lumen_assets.tlog.publish import log_trust_files, logged_entries
from tests.attest.conftest import ORIGIN, Attested


def _log_trust(attested: Attested) -> list[dict]:
    name, key = log_key(attested.trust.keystore, DEMO_PASSPHRASE)
    return log_trust_files(attested.workspace, "attest/trust", attested.workspace / "tlog", ORIGIN, name, key)


def test_trust_files_are_logged_once_and_audited(attested: Attested) -> None:
    logged = _log_trust(attested)
    assert {(r["name"], r["kind"]) for r in logged} == {
        ("attest/trust/root.pem", "certificate"), ("attest/trust/crl.pem", "crl"),
        (f"attest/trust/signers/{attested.trust.signer_serial}.pem", "certificate")}
    assert _log_trust(attested) == []  # same bytes: nothing new
    assert [record["name"] for record, _ in logged_entries(attested.workspace / "tlog", "crl")] == ["attest/trust/crl.pem"]
    vkey = (attested.workspace / "attest/trust/log.vkey").read_text().strip()
    assert audit_log(attested.workspace / "tlog", vkey, ORIGIN).leaves == 2 + len(logged)


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
