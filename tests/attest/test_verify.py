"""`verify_artifact` end to end, and each tamper the issue lists failing at the right step."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE, bootstrap_demo_trust
from lumen_assets.attest.envelope import pae
from lumen_assets.attest.keys import (
    TrustError,
    init_root,
    issue_signer,
    load_cert,
    revoke,
)
from lumen_assets.attest.verifier import TrustLayout, verify_artifact
from tests.attest.conftest import ORIGIN, Attested, attest_and_log

LAYOUT = TrustLayout(log_origin=ORIGIN)
REPORT = "controls/reports/report_2025-01-02.md"


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


def test_untouched_artefacts_verify(attested: Attested) -> None:
    for path in (attested.report, attested.posterior):
        report = verify_artifact(path, attested.workspace, LAYOUT)
        assert report.ok, report.failure
        assert [s["step"] for s in report.steps][-2:] == ["log", "cert-logged"]


def test_envelope_verifies_with_securesystemslib_alone(attested: Attested) -> None:
    """Independent of Lumen's verifier: the standard library accepts the envelope and the standard PAE."""
    data = json.loads((attested.workspace / "attest" / (REPORT + ".dsse.json")).read_text())
    cert = load_cert(next((attested.workspace / "attest/trust/signers").glob("*.pem")))
    keyid = data["signatures"][0]["keyid"]
    envelope = Envelope.from_dict(json.loads(json.dumps(data)))
    assert envelope.pae() == pae("application/vnd.in-toto+json", envelope.payload)
    assert envelope.pae().startswith(b"DSSEv1 28 application/vnd.in-toto+json ")
    envelope.verify([SSlibKey.from_crypto(cert.public_key(), keyid=keyid)], threshold=1)
    statement = json.loads(envelope.payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"][0]["name"] == REPORT


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_chain_verifies_with_openssl(attested: Attested) -> None:
    trust = attested.workspace / "attest" / "trust"
    signer = next((trust / "signers").glob("*.pem"))
    ok = subprocess.run(["openssl", "verify", "-CAfile", str(trust / "root.pem"), "-purpose", "any", str(signer)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    crl_check = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", str(trust / "root.pem"),
                                "-CRLfile", str(trust / "crl.pem"), str(signer)], capture_output=True, text=True)
    assert crl_check.returncode == 0, crl_check.stderr


@pytest.mark.parametrize(
    ("target", "step"),
    [
        ("artifact", "subject"),
        ("envelope", "signature"),
        ("proof", "inclusion"),
        ("checkpoint", "log"),
        ("log", "log"),
    ],
)
def test_flipped_byte_fails_at_the_right_step(attested: Attested, target: str, step: str) -> None:
    ws = attested.workspace
    path = {
        "artifact": attested.report,
        "envelope": ws / "attest" / (REPORT + ".dsse.json"),
        "proof": ws / "attest" / (REPORT + ".proof.json"),
        "checkpoint": ws / "tlog" / "checkpoint",
        "log": ws / "tlog" / "leaves.bin",
    }[target]
    if target == "envelope":
        data = json.loads(path.read_text())
        payload = bytearray(__import__("base64").b64decode(data["payload"]))
        payload[-3] ^= 0x01
        data["payload"] = __import__("base64").b64encode(bytes(payload)).decode()
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    elif target == "proof":
        data = json.loads(path.read_text())
        data["hashes"][0] = ("0" if data["hashes"][0][0] != "0" else "1") + data["hashes"][0][1:]
        path.write_text(json.dumps(data))
    elif target == "checkpoint":
        lines = path.read_text().split("\n")
        lines[2] = lines[2][:5] + ("A" if lines[2][5] != "A" else "B") + lines[2][6:]
        path.write_text("\n".join(lines))
    else:
        _flip(path, 40 if target == "log" else 3)
    report = verify_artifact(attested.report, ws, LAYOUT)
    assert not report.ok
    assert report.failure.startswith(step + ":"), report.failure


def test_flipped_byte_in_a_raw_envelope_file_fails(attested: Attested) -> None:
    path = attested.workspace / "attest" / (REPORT + ".dsse.json")
    raw = path.read_text()
    path.write_text(raw.replace('"keyid"', '"keyid" ', 1))  # whitespace only: same JSON, different bytes
    report = verify_artifact(attested.report, attested.workspace, LAYOUT)
    assert report.failure and report.failure.startswith("inclusion:")


def test_revoked_signer_fails(attested: Attested) -> None:
    serial = attested.trust.signer_serial
    revoke(attested.trust.root_dir, DEMO_PASSPHRASE, serial, trust_dir=attested.trust.trust_dir)
    report = verify_artifact(attested.report, attested.workspace, LAYOUT)
    assert report.failure and report.failure.startswith("revocation:") and "revoked" in report.failure


def test_expired_certificate_fails(attested: Attested) -> None:
    report = verify_artifact(attested.report, attested.workspace, LAYOUT,
                             now=dt.datetime.now(dt.UTC) + dt.timedelta(days=200))
    assert report.failure and report.failure.startswith("validity:") and "expired" in report.failure


def test_certificate_from_the_past_is_expired(tmp_path: Path, attested: Attested) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    issue_signer(attested.trust.root_dir, DEMO_PASSPHRASE, attested.trust.keystore, DEMO_PASSPHRASE,
                 attested.trust.trust_dir, days=180, now=past)
    extra = attested.workspace / "logs" / "other.jsonl"
    extra.write_text("{}\n")
    attest_and_log(attested.workspace, ["logs/other.jsonl"], attested.trust)
    report = verify_artifact(extra, attested.workspace, LAYOUT)
    assert report.failure and report.failure.startswith("validity:")


def test_different_root_fails(tmp_path: Path, attested: Attested) -> None:
    other = init_root(tmp_path / "other-root", "pw")
    shutil.copy(other.cert, attested.workspace / "attest" / "trust" / "root.pem")
    report = verify_artifact(attested.report, attested.workspace, LAYOUT)
    assert report.failure and report.failure.startswith("chain:")
    pinned = verify_artifact(attested.report, attested.workspace, LAYOUT, root_cert=other.cert)
    assert pinned.failure and pinned.failure.startswith("chain:")


def test_missing_envelope_is_named(attested: Attested) -> None:
    lonely = attested.workspace / "logs" / "unattested.csv"
    lonely.write_text("a\n")
    report = verify_artifact(lonely, attested.workspace, LAYOUT)
    assert report.failure and report.failure.startswith("envelope:")


def test_root_is_never_created_inside_the_workspace_or_overwritten(tmp_path: Path, attested: Attested) -> None:
    with pytest.raises(TrustError, match="outside"):
        init_root(attested.workspace / "root", "pw", workspace=attested.workspace)
    with pytest.raises(TrustError, match="never overwritten"):
        init_root(attested.trust.root_dir, "pw")
    key_file = attested.trust.root_dir / "root_key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED" in key_file.read_bytes()
    assert not list(attested.workspace.rglob("root_key.pem"))


def test_rotation_keeps_old_envelopes_valid_and_signs_with_the_new_key(attested: Attested) -> None:
    old_serial = attested.trust.signer_serial
    new_cert = issue_signer(attested.trust.root_dir, DEMO_PASSPHRASE, attested.trust.keystore, DEMO_PASSPHRASE,
                            attested.trust.trust_dir, overlap_days=7)
    assert verify_artifact(attested.report, attested.workspace, LAYOUT).ok
    attested.report.write_text("changed\n")
    attest_and_log(attested.workspace, [REPORT], attested.trust)
    report = verify_artifact(attested.report, attested.workspace, LAYOUT)
    assert report.ok, report.failure
    assert f"serial {new_cert.serial_number:x}" in report.steps[2]["detail"]
    meta = json.loads((attested.trust.keystore / "keystore.json").read_text())
    assert meta["signers"][old_serial]["retire_after"] is not None


def test_demo_bootstrap_is_idempotent(attested: Attested) -> None:
    again = bootstrap_demo_trust(attested.workspace, attested.trust.root_dir, algorithm="ed25519")
    assert again.signer_serial == attested.trust.signer_serial
    assert again.log_vkey == attested.trust.log_vkey
