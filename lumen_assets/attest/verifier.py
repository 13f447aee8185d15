"""The external verifier: what a third party runs to decide whether to trust one artefact.

Why (seed segD §7.4 `dsse_verify`, §7.8 #5-#6, §8.6): the seed's verifier compared the digest in an
*unsigned* statement file, checked no expiry, usage, revocation or root pin, and trusted whatever root a
server returned. Here every step is checked in order and the first failure is named:

 1. artifact     the file exists inside the workspace; its sha256
 2. envelope     attest/<path>.dsse.json exists and is an in-toto DSSE envelope
 3. certificate  the signer certificate carried in (or beside) the envelope belongs to the signing key
 4. signature    the DSSE signature verifies with that key (securesystemslib, standard PAE)
 5. chain        the certificate was issued by the pinned root (attest/trust/root.pem, or --root), or by a
                 rotated-out root the trust folder still trusts (attest/trust/roots/<fp>/root.pem)
 6. validity     certificate and root are within their validity period now
 7. usage        the certificate carries codeSigning and digitalSignature
 8. revocation   the issuing root's signed, current CRL does not list the certificate
 9. subject      the signed statement's subject is this path with this sha256
10. inclusion    attest/<path>.proof.json puts the envelope's exact bytes in the log under a checkpoint
                 signed by the pinned log key (attest/trust/log.vkey)
11. log          when the workspace log is present: the full audit of the log (lumen_assets/tlog/audit.py)
                 passes, the proof's checkpoint is in its history and consistent with the newest signed
                 checkpoint found (workspace history and any --checkpoint from outside; an older one
                 presented as the latest fails), and, with --witness, enough witnesses cosigned it
12. cert-logged  the signer certificate is itself an entry of the workspace log (certificates and CRLs are
                 logged, issue 13 §2); no log, or a certificate never logged, fails

Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from lumen_assets.attest.envelope import EnvelopeError, parse_envelope, verify_envelope
from lumen_assets.attest.keys import (
    TRUST_CRL,
    TRUST_LOG_VKEY,
    TRUST_ROOT,
    TrustError,
    key_id_of,
    load_cert,
    trusted_roots,
)
from lumen_assets.attest.statement import PAYLOAD_TYPE, StatementError, validate_statement
from lumen_assets.digests import sha256_file
from lumen_assets.tlog.audit import AuditError
from lumen_assets.tlog.audit import audit_log as audit_workspace_log
from lumen_assets.tlog.log import LEAVES_FILE
from lumen_assets.tlog.merkle import verify_consistency
from lumen_assets.tlog.publish import CHECKPOINT_FILE, ProofError, logged_entries, verify_proof
from lumen_assets.tlog.witness import count_cosignatures

ENVELOPE_SUFFIX = ".dsse.json"
PROOF_SUFFIX = ".proof.json"
CERT_LOGGED = "cert-logged"


@dataclass
class VerifyReport:
    artifact: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def passed(self, step: str, detail: str) -> None:
        self.steps.append({"step": step, "ok": True, "detail": detail})

    def as_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "ok": self.ok, "failure": self.failure, "steps": self.steps}


class _Fail(Exception):
    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step, self.detail = step, detail


@dataclass(frozen=True)
class Pins:
    """Anchors and views from outside the workspace (issue 13 §2-§3): the log's C2SP verifier key, signed
    checkpoints seen elsewhere (source, note text), and witness vkeys with how many must cosign."""

    log_key: str | None = None
    checkpoints: tuple[tuple[str, str], ...] = ()
    witnesses: tuple[str, ...] = ()
    witness_threshold: int | None = None


@dataclass(frozen=True)
class TrustLayout:
    """Where the verifier looks, relative to the workspace (config `attest` / `tlog` sections)."""

    attest_dir: str = "attest"
    trust_dir: str = "attest/trust"
    tlog_dir: str = "tlog"
    log_origin: str | None = None


def envelope_path(workspace: Path, rel: str, layout: TrustLayout = TrustLayout()) -> Path:
    return Path(workspace) / layout.attest_dir / (rel + ENVELOPE_SUFFIX)


def proof_path(workspace: Path, rel: str, layout: TrustLayout = TrustLayout()) -> Path:
    return Path(workspace) / layout.attest_dir / (rel + PROOF_SUFFIX)


def verify_artifact(artifact: Path, workspace: Path, layout: TrustLayout = TrustLayout(),
                    root_cert: Path | None = None, now: dt.datetime | None = None,
                    audit_log: bool = True, pins: Pins = Pins()) -> VerifyReport:
    """Run every step; the report's `failure` names the first step that failed and why."""
    workspace = Path(workspace).resolve()
    report = VerifyReport(str(artifact))
    try:
        _verify(Path(artifact), workspace, layout, root_cert, now or dt.datetime.now(dt.UTC), audit_log, report, pins)
    except _Fail as fail:
        report.steps.append({"step": fail.step, "ok": False, "detail": fail.detail})
        report.failure = f"{fail.step}: {fail.detail}"
    return report


def _verify(artifact: Path, workspace: Path, layout: TrustLayout, root_cert: Path | None, now: dt.datetime,
            audit_log: bool, report: VerifyReport, pins: Pins = Pins()) -> None:
    # 1. artifact
    path = artifact if artifact.is_absolute() else (Path.cwd() / artifact)
    path = path.resolve()
    if not path.is_file():
        raise _Fail("artifact", f"{artifact} does not exist")
    try:
        rel = path.relative_to(workspace).as_posix()
    except ValueError as exc:
        raise _Fail("artifact", f"{artifact} is not inside the workspace {workspace}") from exc
    digest = sha256_file(path)
    report.artifact = rel
    report.passed("artifact", f"sha256 {digest}")

    # 2. envelope
    env_path = envelope_path(workspace, rel, layout)
    if not env_path.is_file():
        raise _Fail("envelope", f"no envelope at {env_path.relative_to(workspace)}")
    envelope_raw = env_path.read_bytes()
    try:
        envelope = parse_envelope(envelope_raw)
    except EnvelopeError as exc:
        raise _Fail("envelope", str(exc)) from exc
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise _Fail("envelope", f"payloadType {envelope['payloadType']!r} is not {PAYLOAD_TYPE!r}")
    report.passed("envelope", env_path.relative_to(workspace).as_posix())

    # 3. certificate, 4. signature
    trust = workspace / layout.trust_dir
    signature = envelope["signatures"][0]
    keyid = signature.get("keyid", "")
    try:
        if signature.get("cert"):
            cert = x509.load_pem_x509_certificate(signature["cert"].encode())
        else:
            matches = [p for p in (trust / "signers").glob("*.pem") if key_id_of(load_cert(p).public_key()) == keyid]
            if not matches:
                raise _Fail("certificate", f"no signer certificate for keyid {keyid[:16]} in {layout.trust_dir}")
            cert = load_cert(matches[0])
    except (ValueError, TrustError) as exc:
        raise _Fail("certificate", f"signer certificate is unreadable: {exc}") from exc
    if key_id_of(cert.public_key()) != keyid:  # type: ignore[arg-type]
        raise _Fail("certificate", "the envelope's keyid is not the certificate's key")
    report.passed("certificate", f"serial {cert.serial_number:x}, subject {cert.subject.rfc4514_string()}")
    try:
        payload = verify_envelope(envelope, cert)
    except EnvelopeError as exc:
        raise _Fail("signature", str(exc)) from exc
    algorithm = "Ed25519" if isinstance(cert.public_key(), Ed25519PublicKey) else "ECDSA P-256"
    report.passed("signature", f"DSSE v1 {algorithm} signature verifies (securesystemslib)")

    # 5. chain (the pinned root, or one of the trust folder's roots: current first, then rotated-out ones)
    try:
        if root_cert is not None:
            pinned = load_cert(root_cert)
            crl_path = next((path for root, path in trusted_roots(trust) if root == pinned), trust / TRUST_CRL)
            candidates = [(pinned, crl_path)]
        else:
            candidates = trusted_roots(trust)
            if not candidates:
                raise TrustError(f"{trust / TRUST_ROOT}: certificate not found")
    except TrustError as exc:
        raise _Fail("chain", str(exc)) from exc
    root, crl_path = candidates[0]
    for candidate, candidate_crl in candidates:  # names can repeat across rotations: the signature decides
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        root, crl_path = candidate, candidate_crl
        break
    try:
        root.verify_directly_issued_by(root)
        basic = root.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
        if not basic.ca or not usage.key_cert_sign:
            raise _Fail("chain", "the pinned root is not a CA certificate with keyCertSign")
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound) as exc:
        raise _Fail("chain", f"certificate does not chain to the pinned root {root.subject.rfc4514_string()}") from exc
    report.passed("chain", f"issued by {root.subject.rfc4514_string()}")

    # 6. validity
    for label, c in (("certificate", cert), ("root", root)):
        if not c.not_valid_before_utc <= now <= c.not_valid_after_utc:
            raise _Fail("validity", f"{label} is valid {c.not_valid_before_utc:%Y-%m-%d} to "
                                    f"{c.not_valid_after_utc:%Y-%m-%d}, not at {now:%Y-%m-%d %H:%M}Z (expired)")
    report.passed("validity", f"certificate valid until {cert.not_valid_after_utc.isoformat()}")

    # 7. usage
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise _Fail("usage", f"certificate lacks {exc}") from exc
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku or not ku.digital_signature:
        raise _Fail("usage", "certificate is not for codeSigning with digitalSignature")
    report.passed("usage", "codeSigning, digitalSignature")

    # 8. revocation
    try:
        crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    except (FileNotFoundError, ValueError) as exc:
        raise _Fail("revocation", f"no readable CRL at {crl_path.relative_to(workspace) if crl_path.is_relative_to(workspace) else crl_path}") from exc
    if crl.issuer != root.subject or not crl.is_signature_valid(root.public_key()):  # type: ignore[arg-type]
        raise _Fail("revocation", "the CRL is not signed by the pinned root")
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        raise _Fail("revocation", f"the CRL is stale (next update was {crl.next_update_utc.isoformat()})")
    _check_crl_not_rolled_back(crl, root, workspace / layout.tlog_dir)
    revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if revoked is not None:
        raise _Fail("revocation", f"certificate {cert.serial_number:x} was revoked on "
                                  f"{revoked.revocation_date_utc.isoformat()}")
    report.passed("revocation", f"not on the CRL ({len(crl)} revoked)")

    # 9. subject
    try:
        statement = validate_statement(json.loads(payload))
    except (ValueError, StatementError) as exc:
        raise _Fail("subject", f"signed statement is invalid: {exc}") from exc
    subjects = {s["name"]: s["digest"].get("sha256") for s in statement["subject"]}
    if rel not in subjects:
        raise _Fail("subject", f"the signed statement names {sorted(subjects)}, not {rel}")
    if subjects[rel] != digest:
        raise _Fail("subject", f"file sha256 {digest[:16]}… differs from the signed {subjects[rel][:16]}… (altered)")
    report.passed("subject", f"{rel} sha256 matches the signed statement")

    # 10. inclusion
    pf_path = proof_path(workspace, rel, layout)
    try:
        proof = json.loads(pf_path.read_text())
        vkey = pins.log_key or (trust / TRUST_LOG_VKEY).read_text().strip()
    except FileNotFoundError as exc:
        raise _Fail("inclusion", f"missing {exc.filename}") from exc
    except ValueError as exc:
        raise _Fail("inclusion", f"proof file is not JSON: {exc}") from exc
    try:
        proof_checkpoint = verify_proof(proof, envelope_raw, vkey, origin=layout.log_origin)
    except ProofError as exc:
        raise _Fail("inclusion", str(exc)) from exc
    report.passed("inclusion", f"leaf {proof['leaf_index']} of {proof_checkpoint.tree_size} under a signed checkpoint")

    # 11. log
    tlog = workspace / layout.tlog_dir
    if not audit_log or not (tlog / CHECKPOINT_FILE).exists():
        if pins.checkpoints or pins.witnesses:
            raise _Fail("log", "--checkpoint and --witness are checked against the workspace log, which is "
                               + ("absent" if audit_log else "skipped (--no-log-audit)"))
        report.passed("log", "skipped (no workspace log present)" if audit_log else "audit skipped (--no-log-audit)")
        _check_certificate_logged(cert, tlog, layout.tlog_dir, report)
        return
    try:
        audit = audit_workspace_log(tlog, vkey, proof_checkpoint.origin, pins.checkpoints, layout.tlog_dir)
    except AuditError as exc:
        raise _Fail("log", str(exc)) from exc
    size = proof_checkpoint.tree_size
    newest = audit.newest.checkpoint if audit.newest else proof_checkpoint
    if size > audit.leaves or audit.root_at(size) != proof_checkpoint.root_hash:
        raise _Fail("log", f"the proof's checkpoint (size {size}) is not in this log's history (a fork)")
    if not verify_consistency(size, newest.tree_size, audit.consistency_proof(size, newest.tree_size),
                              proof_checkpoint.root_hash, newest.root_hash):
        raise _Fail("log", f"no consistency from the proof's size {size} to the newest checkpoint")
    if audit.perfect(0, int(proof["leaf_index"])).hex() != proof["leaf_hash"]:
        raise _Fail("log", f"the log's leaf {proof['leaf_index']} is not this envelope (log altered)")
    if pins.witnesses:
        counted = count_cosignatures([s.note for s in audit.checkpoints if s.checkpoint == newest], pins.witnesses)
        need = pins.witness_threshold or len(pins.witnesses)
        if len(counted) < need:
            raise _Fail("log", f"the newest checkpoint (size {newest.tree_size}) carries {len(counted)} of "
                               f"{len(pins.witnesses)} witness cosignatures, {need} required")
        report.passed("witnesses", f"{len(counted)} of {len(pins.witnesses)} witnesses cosigned size "
                                   f"{newest.tree_size}: {', '.join(sorted(counted))}")
    report.passed("log", f"size {size} -> newest signed size {newest.tree_size} consistent; full audit: {audit.summary()}")
    _check_certificate_logged(cert, tlog, layout.tlog_dir, report)


def _check_certificate_logged(cert: x509.Certificate, tlog: Path, label: str, report: VerifyReport) -> None:
    """Issue 13 §2: certificates are logged, so a signer certificate slipped into the trust folder or an envelope
    without ever being published in the log cannot sign. Runs after the log step, so a damaged log is named as
    such first. Fails closed: no log, or no logged certificate with these exact DER bytes, is a failure."""
    serial = f"{cert.serial_number:x}"
    if not (tlog / LEAVES_FILE).is_file():
        raise _Fail(CERT_LOGGED, f"signer certificate {serial} cannot be looked up: no workspace log at {label}/ "
                                 "(every signing certificate must be in the log)")
    der = cert.public_bytes(Encoding.DER)
    for record, data in logged_entries(tlog, "certificate"):
        try:
            if x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER) == der:
                report.passed(CERT_LOGGED, f"signer certificate {serial} is leaf {record['index']} of the log")
                return
        except ValueError:
            continue
    raise _Fail(CERT_LOGGED, f"signer certificate {serial} is not in the log {label}/: a certificate never "
                             "logged is not trusted (the trust run logs every certificate before it signs)")


def crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _check_crl_not_rolled_back(crl: x509.CertificateRevocationList, root: x509.Certificate, tlog: Path) -> None:
    """Issue 13 §2: the CRL must not be numbered below the newest root-signed CRL in the log."""
    newest: tuple[int, str] | None = None
    for record, data in logged_entries(tlog, "crl"):
        try:
            logged = x509.load_pem_x509_crl(data)
        except ValueError:
            continue
        number = crl_number(logged)
        if number is not None and logged.is_signature_valid(root.public_key()) and (newest is None or number > newest[0]):  # type: ignore[arg-type]
            newest = (number, f"leaf {record['index']}")
    if newest is not None and (crl_number(crl) or -1) < newest[0]:
        raise _Fail("revocation", f"CRL number {crl_number(crl)} is lower than the newest logged CRL number "
                                  f"{newest[0]} ({newest[1]}): CRL rolled back")
