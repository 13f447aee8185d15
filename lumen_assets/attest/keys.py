"""Keys and the X.509 trust chain: a root CA, Ed25519 signer certificates, a CRL, rotation, the log key.

Why (seed segD §2-§4, §3.7-§3.8): the seed's CI regenerated the root CA on every run, kept keys
unencrypted, and its revocation check always passed. Here:

- the root (10 years, CA, pathLen 0, keyCertSign + cRLSign) is created once, by `init_root`, into a
  directory that must lie outside the workspace (custody: the root key never lives in the workspace);
  nothing in the pipeline creates or overwrites a root;
- signer certificates (180 days, codeSigning EKU, digitalSignature) are issued from the root; issuing a
  new one while another is current is a rotation: the old signer stays valid and usable for verification
  until `overlap_days` have passed, then its private key is retired (deleted), its certificate kept;
- revocation is an X.509 CRL signed by the root, copied into the workspace trust folder;
- every private key is PKCS#8 PEM encrypted with a passphrase (from the environment, read by the caller)
  and written 0600.

Layouts:
    root dir (offline):   root_key.pem, root_cert.pem, crl.pem, issued.jsonl, revoked.jsonl
    keystore (private):   keystore.json, signers/<serial>/key.pem, signers/<serial>/cert.pem, log/key.pem
    trust dir (public, workspace attest/trust/): root.pem, signers/<serial>.pem, crl.pem, log.vkey

Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lumen_assets.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from lumen_assets.tlog.checkpoint import verifier_key

ROOT_KEY = "root_key.pem"
ROOT_CERT = "root_cert.pem"
KEYSTORE_META = "keystore.json"
TRUST_ROOT = "root.pem"
TRUST_CRL = "crl.pem"
TRUST_LOG_VKEY = "log.vkey"
DEMO_PASSPHRASE = "lumen-demo-only-not-secret"


class TrustError(RuntimeError):
    """A key, certificate or trust-folder operation that must not proceed; the message says why."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, key: Ed25519PrivateKey, passphrase: str) -> None:
    if not passphrase:
        raise TrustError(f"refusing to write {path} unencrypted: the passphrase is empty")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(pem)


def load_private_key(path: Path, passphrase: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase.encode() if passphrase else None)
    except FileNotFoundError as exc:
        raise TrustError(f"{path}: private key not found") from exc
    except (ValueError, TypeError) as exc:
        raise TrustError(f"{path}: cannot decrypt the private key (wrong passphrase?)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise TrustError(f"{path}: not an Ed25519 private key")
    return key


def load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError as exc:
        raise TrustError(f"{path}: certificate not found") from exc
    except ValueError as exc:
        raise TrustError(f"{path}: not a PEM certificate") from exc


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate DER, hex: what a custody record and a pinning verifier compare."""
    return cert.fingerprint(hashes.SHA256()).hex()


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """DSSE keyid: sha256 hex of the SubjectPublicKeyInfo DER (stable for a key, unlike a cert-PEM hash)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


# -- the root ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RootPaths:
    directory: Path
    key: Path
    cert: Path
    crl: Path


def init_root(out_dir: Path, passphrase: str, common_name: str = "Lumen Root CA", years: int = 10,
              workspace: Path | None = None, now: dt.datetime | None = None) -> RootPaths:
    """Create a self-signed root CA once. Refuses to overwrite a root or to write inside a workspace."""
    out_dir = Path(out_dir)
    if workspace is not None and _inside(out_dir, Path(workspace)):
        raise TrustError(f"{out_dir} is inside the workspace {workspace}: the root key must stay outside it (custody)")
    if (out_dir / ROOT_KEY).exists() or (out_dir / ROOT_CERT).exists():
        raise TrustError(f"{out_dir} already holds a root; a root is never overwritten")
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    now = now or utcnow()
    key = Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lumen")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years + years // 4))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, None)
    )
    paths = RootPaths(out_dir, out_dir / ROOT_KEY, out_dir / ROOT_CERT, out_dir / TRUST_CRL)
    _write_private(paths.key, key, passphrase)
    atomic_write_bytes(paths.cert, cert_pem(cert))
    write_crl(out_dir, passphrase, now=now)
    return paths


def _load_root(root_dir: Path, passphrase: str) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    return load_private_key(root_dir / ROOT_KEY, passphrase), load_cert(root_dir / ROOT_CERT)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_crl(root_dir: Path, passphrase: str, next_update_days: int = 30, now: dt.datetime | None = None) -> bytes:
    """(Re)sign the root's CRL from revoked.jsonl; returns the PEM."""
    key, root = _load_root(root_dir, passphrase)
    now = now or utcnow()
    revoked = _read_jsonl(root_dir / "revoked.jsonl")
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=next_update_days))
        .add_extension(x509.CRLNumber(len(revoked) + int(now.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    )
    for record in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(record["serial"], 16))
            .revocation_date(dt.datetime.fromisoformat(record["revoked_at"]))
            .build()
        )
    pem = builder.sign(key, None).public_bytes(serialization.Encoding.PEM)
    atomic_write_bytes(root_dir / TRUST_CRL, pem)
    return pem


def revoke(root_dir: Path, passphrase: str, serial: str, reason: str = "unspecified",
           trust_dir: Path | None = None, now: dt.datetime | None = None) -> bytes:
    """Add a serial (hex) to the CRL, re-sign it, and publish it to the trust folder if given."""
    serial = serial.lower().removeprefix("0x")
    int(serial, 16)  # a clear ValueError for a non-hex serial
    now = now or utcnow()
    path = root_dir / "revoked.jsonl"
    records = _read_jsonl(path)
    if all(r["serial"] != serial for r in records):
        records.append({"serial": serial, "revoked_at": now.isoformat(), "reason": reason})
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
    pem = write_crl(root_dir, passphrase, now=now)
    if trust_dir is not None:
        atomic_write_bytes(Path(trust_dir) / TRUST_CRL, pem)
    return pem


# -- signers and the keystore ---------------------------------------------------------------------


def read_keystore(keystore: Path) -> dict[str, Any]:
    path = Path(keystore) / KEYSTORE_META
    if not path.exists():
        return {"current_signer": None, "signers": {}, "log_key_name": None}
    return json.loads(path.read_text())


def _write_keystore(keystore: Path, meta: dict[str, Any]) -> None:
    atomic_write_text(Path(keystore) / KEYSTORE_META, json.dumps(meta, indent=2, sort_keys=True) + "\n")


def publish_root(trust_dir: Path, root: x509.Certificate) -> None:
    """Put the root in the trust folder; never replace a different root that is already pinned there."""
    path = Path(trust_dir) / TRUST_ROOT
    if path.exists():
        if load_cert(path) != root:
            raise TrustError(f"{path} pins a different root; refusing to overwrite it")
        return
    atomic_write_bytes(path, cert_pem(root))


def issue_signer(root_dir: Path, root_passphrase: str, keystore: Path, signer_passphrase: str, trust_dir: Path,
                 days: int = 180, overlap_days: int = 14, common_name: str = "Lumen Signer",
                 now: dt.datetime | None = None) -> x509.Certificate:
    """Issue a signer certificate; if one is current, this is a rotation with an overlap period."""
    now = now or utcnow()
    root_key, root = _load_root(root_dir, root_passphrase)
    key = Ed25519PrivateKey.generate()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lumen")]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, None)
    )
    serial = serial_hex(cert)
    keystore = Path(keystore)
    _write_private(keystore / "signers" / serial / "key.pem", key, signer_passphrase)
    atomic_write_bytes(keystore / "signers" / serial / "cert.pem", cert_pem(cert))
    meta = read_keystore(keystore)
    previous = meta.get("current_signer")
    if previous and previous in meta["signers"]:
        meta["signers"][previous]["retire_after"] = (now + dt.timedelta(days=overlap_days)).isoformat()
    meta["signers"][serial] = {"not_before": cert.not_valid_before_utc.isoformat(),
                               "not_after": cert.not_valid_after_utc.isoformat(), "retire_after": None}
    meta["current_signer"] = serial
    _write_keystore(keystore, meta)
    with open(root_dir / "issued.jsonl", "a") as handle:
        handle.write(json.dumps({"serial": serial, "issued_at": now.isoformat(), "subject": common_name}) + "\n")
    trust_dir = Path(trust_dir)
    publish_root(trust_dir, root)
    atomic_write_bytes(trust_dir / "signers" / f"{serial}.pem", cert_pem(cert))
    atomic_write_bytes(trust_dir / TRUST_CRL, (root_dir / TRUST_CRL).read_bytes())
    return cert


def retire_signers(keystore: Path, now: dt.datetime | None = None) -> list[str]:
    """Delete private keys of rotated-out signers whose overlap has ended (certificates are kept)."""
    now = now or utcnow()
    meta = read_keystore(keystore)
    retired = []
    for serial, info in meta["signers"].items():
        retire_after = info.get("retire_after")
        key_path = Path(keystore) / "signers" / serial / "key.pem"
        if retire_after and dt.datetime.fromisoformat(retire_after) <= now and key_path.exists():
            key_path.unlink()
            retired.append(serial)
    return retired


@dataclass(frozen=True)
class ActiveSigner:
    key: Ed25519PrivateKey
    cert: x509.Certificate
    keyid: str


def current_signer(keystore: Path, passphrase: str) -> ActiveSigner:
    meta = read_keystore(keystore)
    serial = meta.get("current_signer")
    if not serial:
        raise TrustError(f"{keystore}: no signer has been issued (run `lumen keys issue-signer` or `lumen demo`)")
    key = load_private_key(Path(keystore) / "signers" / serial / "key.pem", passphrase)
    cert = load_cert(Path(keystore) / "signers" / serial / "cert.pem")
    return ActiveSigner(key, cert, key_id_of(cert.public_key()))  # type: ignore[arg-type]


def init_log_key(keystore: Path, passphrase: str, trust_dir: Path, name: str) -> str:
    """Create the Ed25519 log key (once) and publish its note verifier key; returns the vkey."""
    path = Path(keystore) / "log" / "key.pem"
    if path.exists():
        key = load_private_key(path, passphrase)
    else:
        key = Ed25519PrivateKey.generate()
        _write_private(path, key, passphrase)
    vkey = verifier_key(name, key.public_key())
    meta = read_keystore(keystore)
    meta["log_key_name"] = name
    _write_keystore(keystore, meta)
    atomic_write_text(Path(trust_dir) / TRUST_LOG_VKEY, vkey + "\n")
    return vkey


def log_key(keystore: Path, passphrase: str) -> tuple[str, Ed25519PrivateKey]:
    meta = read_keystore(keystore)
    name = meta.get("log_key_name")
    if not name:
        raise TrustError(f"{keystore}: no log key (run `lumen keys init-log` or `lumen demo`)")
    return name, load_private_key(Path(keystore) / "log" / "key.pem", passphrase)


# -- the demo ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoTrust:
    root_dir: Path
    keystore: Path
    trust_dir: Path
    signer_serial: str
    log_vkey: str
    passphrase: str
    root_fingerprint: str


def bootstrap_demo_trust(workspace_root: Path, outside_dir: Path, passphrase: str = DEMO_PASSPHRASE,
                         keystore_rel: str = ".lumen/keys", trust_rel: str = "attest/trust",
                         log_name: str = "lumen.local/tlog") -> DemoTrust:
    """Throwaway trust for `lumen demo`: a root OUTSIDE the workspace, a signer and a log key inside it.

    The demo passphrase is public; the caller should say so and export it as LUMEN_SIGNER_PASS (and
    LUMEN_ROOT_PASS) for the run. Re-running reuses an existing demo root and signer.
    """
    workspace_root, outside_dir = Path(workspace_root).resolve(), Path(outside_dir).resolve()
    keystore, trust_dir = workspace_root / keystore_rel, workspace_root / trust_rel
    if not (outside_dir / ROOT_KEY).exists():
        init_root(outside_dir, passphrase, common_name="Lumen DEMO Root CA (throwaway)", workspace=workspace_root)
    meta = read_keystore(keystore)
    if not meta.get("current_signer"):
        issue_signer(outside_dir, passphrase, keystore, passphrase, trust_dir)
        meta = read_keystore(keystore)
    vkey = init_log_key(keystore, passphrase, trust_dir, log_name)
    return DemoTrust(outside_dir, keystore, trust_dir, meta["current_signer"], vkey, passphrase,
                     fingerprint(load_cert(outside_dir / ROOT_CERT)))
