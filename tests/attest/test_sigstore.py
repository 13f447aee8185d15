"""Sigstore bundles checked by stock sigstore-python (the `sigstore` CLI, offline, Lumen's trust root).

The CLI runs as a subprocess with every proxy variable pointing at a closed local port, so any attempt to
reach the network fails the test instead of silently succeeding.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE
from lumen_assets.attest.issue import attest_artifact, log_envelopes, unlogged_envelopes
from lumen_assets.attest.keys import (
    DEFAULT_IDENTITY,
    DEFAULT_ISSUER,
    OIDC_ISSUER_OID,
    TrustError,
    current_signer,
    init_log_key,
    init_root,
    issue_signer,
    load_cert,
    log_key,
    retire_signers,
)
from lumen_assets.attest.sigstore_bundle import TRUST_CONFIG, check_bundle, publish_sigstore_trust
from lumen_assets.attest.verifier import TrustLayout, verify_artifact
from lumen_assets.tlog.merkle import leaf_hash
from lumen_assets.tlog.publish import log_trust_files
from tests.attest.conftest import ORIGIN, Attested

REPORT = "controls/reports/report_2025-01-02.md"
OFFLINE_ENV = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
               "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "NO_PROXY": ""}


def _sigstore_cli() -> str:
    found = Path(sys.executable).parent / "sigstore"
    return str(found) if found.exists() else (shutil.which("sigstore") or "sigstore")


def stock_verify(workspace: Path, rel: str, bundle: Path | None = None, identity: str = DEFAULT_IDENTITY,
                 issuer: str = DEFAULT_ISSUER) -> subprocess.CompletedProcess:
    """Exactly the auditor's command from the README."""
    bundle = bundle or workspace / "attest" / (rel + ".sigstore.json")
    return subprocess.run(
        [_sigstore_cli(), "--trust-config", "attest/trust/trust_config.json", "verify", "identity", rel,
         "--bundle", str(bundle), "--offline", "--cert-identity", identity, "--cert-oidc-issuer", issuer],
        cwd=workspace, capture_output=True, text=True, timeout=120, env={**os.environ, **OFFLINE_ENV},
    )


@pytest.fixture
def sigstore_ws(attested_p256: Attested) -> Attested:
    publish_sigstore_trust(attested_p256.trust.trust_dir, DEFAULT_IDENTITY, DEFAULT_ISSUER)
    return attested_p256


def test_signer_certificate_has_the_sigstore_profile(sigstore_ws: Attested) -> None:
    cert = current_signer(sigstore_ws.trust.keystore, DEMO_PASSPHRASE).cert
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [DEFAULT_IDENTITY]
    assert cert.extensions.get_extension_for_oid(OIDC_ISSUER_OID).value.value == DEFAULT_ISSUER.encode()
    assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    assert len(scts) == 1
    trusted_root = json.loads((sigstore_ws.trust.trust_dir / TRUST_CONFIG).read_text())["trustedRoot"]
    assert base64.b64decode(trusted_root["ctlogs"][0]["logId"]["keyId"]) == scts[0].log_id


def test_stock_sigstore_cli_accepts_every_bundle_offline(sigstore_ws: Attested) -> None:
    for rel in (REPORT, "logs/bayes_posterior.jsonl"):
        result = stock_verify(sigstore_ws.workspace, rel)
        assert result.returncode == 0, result.stderr
        assert f"OK: {rel}" in result.stderr + result.stdout


def test_stock_sigstore_cli_rejects_a_changed_artefact_byte(sigstore_ws: Attested) -> None:
    data = bytearray(sigstore_ws.report.read_bytes())
    data[3] ^= 0x01
    sigstore_ws.report.write_bytes(bytes(data))
    result = stock_verify(sigstore_ws.workspace, REPORT)
    assert result.returncode != 0
    assert "no subject for digest" in result.stderr


def test_stock_sigstore_cli_rejects_changed_bundle_bytes(sigstore_ws: Attested, tmp_path: Path) -> None:
    bundle = sigstore_ws.workspace / "attest" / (REPORT + ".sigstore.json")
    original = bundle.read_bytes()
    positions = random.Random(14).sample(range(len(original)), 6)
    for position in positions:
        tampered = bytearray(original)
        tampered[position] ^= 0x01
        copy = tmp_path / f"tampered-{position}.json"
        copy.write_bytes(bytes(tampered))
        result = stock_verify(sigstore_ws.workspace, REPORT, bundle=copy)
        assert result.returncode != 0, f"byte {position} ({chr(original[position])!r}) changed, still verified"


def test_stock_sigstore_cli_rejects_another_identity_or_issuer(sigstore_ws: Attested) -> None:
    assert stock_verify(sigstore_ws.workspace, REPORT, identity="https://evil.example/signer").returncode != 0
    assert stock_verify(sigstore_ws.workspace, REPORT, issuer="https://evil.example").returncode != 0


def test_stock_sigstore_cli_rejects_a_bundle_under_another_trust_root(sigstore_ws: Attested, tmp_path: Path) -> None:
    """A bundle is only as good as the pinned trust root: a foreign Lumen root does not accept it."""
    other = tmp_path / "other-root"
    init_root(other, DEMO_PASSPHRASE, workspace=sigstore_ws.workspace)
    trust = sigstore_ws.workspace / "attest" / "trust"
    issue_signer(other, DEMO_PASSPHRASE, tmp_path / "other-keys", DEMO_PASSPHRASE, trust, rotate_root=True)
    shutil.rmtree(trust / "roots")  # pin ONLY the other root
    publish_sigstore_trust(trust, DEFAULT_IDENTITY, DEFAULT_ISSUER)
    result = stock_verify(sigstore_ws.workspace, REPORT)
    assert result.returncode != 0


_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _base64_token(data: bytes, position: int) -> tuple[int, int]:
    """[start, end) of the run of base64 characters around `position`."""
    start, end = position, position
    while start > 0 and data[start - 1] in _B64:
        start -= 1
    while end < len(data) and data[end] in _B64:
        end += 1
    return start, end


def _same_bytes_other_spelling(original: bytes, tampered: bytes, position: int) -> bool:
    """The change sits in the unused low bits of the last base64 character before '=' padding: both
    spellings decode to the very same bytes (Python's decoder, and so sigstore's, ignores those bits)."""
    start, end = _base64_token(original, position)
    if original[end - 1:end] != b"=" or tampered[position] not in _B64:
        return False
    try:
        return base64.b64decode(original[start:end]) == base64.b64decode(tampered[start:end])
    except ValueError:
        return False


@pytest.mark.slow
def test_every_bundle_byte_matters_to_sigstore(sigstore_ws: Attested) -> None:
    """In-process sweep (sigstore-python's API, as the CLI calls it): every single-bit change of every byte
    of one bundle (8 x ~5,200 bundles).

    Stock sigstore lets exactly two kinds of change through (measured with sigstore 4.5 on a 5,223-byte
    bundle: 19 of the 5,223 low-bit flips; 121 of all 41,784 single-bit changes, 11 of the first kind and
    110 of the second), and neither can be closed by the bundle's writer:
    1. the unused low bits of the last base64 character before '=' padding, in any base64 field whose
       length is not a multiple of 3 (rootHash, the proof's hashes, the SET, canonicalizedBody, the DSSE
       payload and signature, the checkpoint's signature): the field decodes to the very same bytes, so the
       bundle's content is unchanged; only its spelling differs (fixed-size hashes and signatures always
       have such bits);
    2. the key *name* on the checkpoint's signature line: sigstore matches the 4-byte key hint only (in C2SP
       signed notes the name is bound through the key hash, which a verifier must know the name to check).
    `lumen verify --sigstore-bundle` rejects both (canonical base64 and the exact bytes, the checkpoint
    under the pinned log key's name): asserted here for every survivor."""
    from sigstore.models import Bundle, ClientTrustConfig
    from sigstore.verify import Verifier, policy

    workspace = sigstore_ws.workspace
    original = (workspace / "attest" / (REPORT + ".sigstore.json")).read_bytes()
    config = ClientTrustConfig.from_json((workspace / "attest/trust/trust_config.json").read_text())
    verifier = Verifier(trusted_root=config.trusted_root)
    identity = policy.Identity(identity=DEFAULT_IDENTITY, issuer=DEFAULT_ISSUER)
    verifier.verify_dsse(Bundle.from_json(original), identity)
    survivors = []
    for bit in range(8):
        for position in range(len(original)):
            tampered = bytearray(original)
            tampered[position] ^= 1 << bit
            try:
                verifier.verify_dsse(Bundle.from_json(bytes(tampered)), identity)
            except Exception:  # noqa: BLE001 - any refusal is the expected outcome
                continue
            survivors.append(bytes(tampered))
    note_name = original.index(("\\u2014 " + ORIGIN).encode()) + len("\\u2014 ")
    envelope = (workspace / "attest" / (REPORT + ".dsse.json")).read_bytes()
    vkey = (workspace / "attest/trust/log.vkey").read_text().strip()
    classes = {"base64 spelling": 0, "checkpoint key name": 0}
    for tampered in survivors:
        position = next(i for i, (x, y) in enumerate(zip(original, tampered, strict=True)) if x != y)
        if note_name <= position < note_name + len(ORIGIN):
            classes["checkpoint key name"] += 1
        else:
            assert _same_bytes_other_spelling(original, tampered, position), (
                position, original[position - 20:position + 5], tampered[position - 20:position + 5])
            classes["base64 spelling"] += 1
        with pytest.raises(TrustError):  # ... and Lumen's own check catches what sigstore let through
            check_bundle(tampered, envelope, vkey, ORIGIN)
    check_bundle(original, envelope, vkey, ORIGIN)
    print(f"bundle of {len(original)} bytes, {8 * len(original)} single-bit changes: {len(survivors)} accepted by "
          f"stock sigstore ({classes}), all refused by lumen verify")


def _p256_rotation(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """Today's layout: an Ed25519 root and signer attest and log one artefact."""
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "logs" / "old.jsonl").write_text('{"signed":"by Ed25519"}\n')
    (ws / "logs" / "new.jsonl").write_text('{"signed":"by P-256"}\n')
    old_root, keystore, trust = tmp_path / "root-ed25519", ws / ".lumen/keys", ws / "attest/trust"
    init_root(old_root, DEMO_PASSPHRASE, algorithm="ed25519", workspace=ws)
    issue_signer(old_root, DEMO_PASSPHRASE, keystore, DEMO_PASSPHRASE, trust)
    init_log_key(keystore, DEMO_PASSPHRASE, trust, ORIGIN)
    return ws, old_root, keystore, trust


def test_rotation_from_ed25519_keeps_old_envelopes_verifying(tmp_path: Path) -> None:
    ws, old_root, keystore, trust = _p256_rotation(tmp_path)
    old_signer = current_signer(keystore, DEMO_PASSPHRASE)
    attest_artifact(ws, "logs/old.jsonl", old_signer, asset_key="x")
    name, key = log_key(keystore, DEMO_PASSPHRASE)
    log_trust_files(ws, "attest/trust", ws / "tlog", ORIGIN, name, key)  # as the trust run does
    log_envelopes(ws, unlogged_envelopes(ws), ws / "tlog", ORIGIN, name, key)
    assert not (ws / "attest/logs/old.jsonl.sigstore.json").exists()  # Ed25519: no Sigstore bundle

    # The move: a new P-256 root (its own ceremony), a rotation to a P-256 signer with the usual overlap.
    now = dt.datetime.now(dt.UTC)
    new_root = tmp_path / "root-p256"
    init_root(new_root, DEMO_PASSPHRASE, workspace=ws)
    with pytest.raises(Exception, match="rotate-root"):
        issue_signer(new_root, DEMO_PASSPHRASE, keystore, DEMO_PASSPHRASE, trust)
    issue_signer(new_root, DEMO_PASSPHRASE, keystore, DEMO_PASSPHRASE, trust, rotate_root=True, overlap_days=14)
    assert load_cert(trust / "root.pem") == load_cert(new_root / "root_cert.pem")
    assert len(list((trust / "roots").glob("*/root.pem"))) == 1
    attest_artifact(ws, "logs/new.jsonl", current_signer(keystore, DEMO_PASSPHRASE), asset_key="x")
    log_trust_files(ws, "attest/trust", ws / "tlog", ORIGIN, name, key)  # as the trust run does
    log_envelopes(ws, unlogged_envelopes(ws), ws / "tlog", ORIGIN, name, key)
    publish_sigstore_trust(trust, DEFAULT_IDENTITY, DEFAULT_ISSUER)

    layout = TrustLayout(log_origin=ORIGIN)
    old_report = verify_artifact(ws / "logs/old.jsonl", ws, layout)
    assert old_report.ok, old_report.failure
    assert "Ed25519" in next(s["detail"] for s in old_report.steps if s["step"] == "signature")
    new_report = verify_artifact(ws / "logs/new.jsonl", ws, layout)
    assert new_report.ok, new_report.failure
    assert "ECDSA P-256" in next(s["detail"] for s in new_report.steps if s["step"] == "signature")
    assert stock_verify(ws, "logs/new.jsonl").returncode == 0

    # The old signer's key stays until the overlap ends, then is retired; its envelope still verifies.
    assert retire_signers(keystore, now=now + dt.timedelta(days=13)) == []
    assert retire_signers(keystore, now=now + dt.timedelta(days=15)) == [format(old_signer.cert.serial_number, "x")]
    assert verify_artifact(ws / "logs/old.jsonl", ws, layout).ok

    # The rotated-out root still revokes: its CRL is published beside it, and the old envelope then fails.
    from lumen_assets.attest.keys import revoke

    revoke(old_root, DEMO_PASSPHRASE, format(old_signer.cert.serial_number, "x"), trust_dir=trust)
    failed = verify_artifact(ws / "logs/old.jsonl", ws, layout)
    assert failed.failure and failed.failure.startswith("revocation")
    assert verify_artifact(ws / "logs/new.jsonl", ws, layout).ok


def test_the_bundle_leaf_is_the_rfc8785_dsse_entry_in_lumens_log(sigstore_ws: Attested) -> None:
    import rfc8785

    from lumen_assets.tlog.log import TransparencyLog

    bundle = json.loads((sigstore_ws.workspace / "attest" / (REPORT + ".sigstore.json")).read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    body = base64.b64decode(entry["canonicalizedBody"])
    assert rfc8785.dumps(json.loads(body)) == body
    assert json.loads(body)["kind"] == "dsse" and json.loads(body)["apiVersion"] == "0.0.1"
    with TransparencyLog(sigstore_ws.workspace / "tlog") as log:
        assert log.leaf_hash_at(int(entry["logIndex"])) == leaf_hash(body)
    assert entry["inclusionProof"]["checkpoint"]["envelope"].startswith(ORIGIN + "\n")


def test_demo_bootstrap_moves_an_ed25519_demo_to_p256_and_stays_idempotent(attested: Attested) -> None:
    """`lumen demo` on a workspace from before the move: a P-256 demo root beside the old one, a rotation."""
    from lumen_assets.attest.demo_trust import bootstrap_demo_trust

    moved = bootstrap_demo_trust(attested.workspace, attested.trust.root_dir)
    assert moved.root_dir != attested.trust.root_dir and moved.signer_serial != attested.trust.signer_serial
    assert isinstance(load_cert(moved.trust_dir / "root.pem").public_key(), ec.EllipticCurvePublicKey)
    assert bootstrap_demo_trust(attested.workspace, attested.trust.root_dir).signer_serial == moved.signer_serial
    layout = TrustLayout(log_origin=ORIGIN)
    assert verify_artifact(attested.report, attested.workspace, layout).ok  # the Ed25519 envelope


def test_lumen_verify_checks_what_stock_sigstore_leaves_out(sigstore_ws: Attested, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A changed key name on the checkpoint's signature line passes stock sigstore, not `lumen verify`."""
    from lumen_assets.cli import main

    ws = sigstore_ws.workspace
    bundle = ws / "attest" / (REPORT + ".sigstore.json")
    args = ["verify", str(sigstore_ws.report), "--workspace", str(ws), "--sigstore-bundle"]
    assert main([*args, str(bundle)]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    renamed = tmp_path / "renamed.sigstore.json"
    original = bundle.read_bytes()
    position = original.index(("\\u2014 " + ORIGIN).encode()) + len("\\u2014 ")
    renamed.write_bytes(original[:position] + b"m" + original[position + 1:])
    assert stock_verify(ws, REPORT, bundle=renamed).returncode == 0
    assert main([*args, str(renamed)]) == 1
    assert "checkpoint" in capsys.readouterr().err


def test_lumen_verify_refuses_another_base64_spelling_stock_sigstore_accepts(sigstore_ws: Attested, tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The proof's rootHash (32 bytes: 2 unused bits in its last base64 character) spelled differently: the
    same bytes, so stock sigstore accepts the bundle; `lumen verify` wants Lumen's exact (canonical) bytes."""
    from lumen_assets.cli import main

    ws = sigstore_ws.workspace
    bundle = ws / "attest" / (REPORT + ".sigstore.json")
    original = bundle.read_bytes()
    root_hash = json.loads(original)["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    respelled = root_hash[:42] + alphabet[alphabet.index(root_hash[42]) | 1] + "="
    assert respelled != root_hash and base64.b64decode(respelled) == base64.b64decode(root_hash)
    other = tmp_path / "respelled.sigstore.json"
    other.write_bytes(original.replace(f'"rootHash":"{root_hash}"'.encode(), f'"rootHash":"{respelled}"'.encode()))
    assert other.read_bytes() != original
    assert stock_verify(ws, REPORT, bundle=other).returncode == 0
    assert main(["verify", str(sigstore_ws.report), "--workspace", str(ws), "--sigstore-bundle", str(other)]) == 1
    assert "canonical base64" in capsys.readouterr().err
