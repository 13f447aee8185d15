"""Keys and the X.509 trust chain: a root CA, signer certificates, a CRL, rotation, the log key.

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

Algorithms: new roots and signers are ECDSA P-256 (with SHA-256), because stock Sigstore clients refuse an
Ed25519 CA and verify DSSE signatures as ECDSA-SHA256 only. A P-256 root also holds a CT key
(`ct_key.pem`, see `sct.py`) and signer certificates carry what a Sigstore verifier demands: a SAN URI
(the signer identity), the OIDC-issuer extension 1.3.6.1.4.1.57264.1.1, an authority key id,
digitalSignature + codeSigning and one embedded SCT. Ed25519 roots and signers made by earlier versions
keep working: moving to a P-256 root is a root rotation (`issue_signer(..., rotate_root=True)`): the old
root and its CRL move to `trust/roots/<fingerprint>/`, stay trusted by `lumen verify`, and the old signer
stays usable for `overlap_days`, as with any signer rotation.

Layouts:
    root dir (offline):   root_key.pem, root_cert.pem, crl.pem, issued.jsonl, revoked.jsonl
    keystore (private):   keystore.json, signers/<serial>/key.pem, signers/<serial>/cert.pem, log/key.pem
    root dir (P-256):     + ct_key.pem (the CT key that signs the embedded SCTs)
    trust dir (public, workspace attest/trust/): root.pem, signers/<serial>.pem, crl.pem, log.vkey,
                          ct.pem (CT public key), roots/<fp>/{root,crl}.pem (rotated-out roots)

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
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lumen_assets.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from lumen_assets.tlog.checkpoint import verifier_key

ROOT_KEY = "root_key.pem"
ROOT_CERT = "root_cert.pem"
ROOT_CT_KEY = "ct_key.pem"
TRUST_CT = "ct.pem"
TRUST_ROOTS = "roots"
ALGORITHMS = ("ecdsa-p256", "ed25519")
OIDC_ISSUER_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
DEFAULT_IDENTITY = "https://lumen.local/signer"
DEFAULT_ISSUER = "https://lumen.local/root"
KEYSTORE_META = "keystore.json"
TRUST_ROOT = "root.pem"
TRUST_CRL = "crl.pem"
TRUST_LOG_VKEY = "log.vkey"


class TrustError(RuntimeError):
    """A key, certificate or trust-folder operation that must not proceed; the message says why."""


PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def generate_key(algorithm: str) -> PrivateKey:
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ed25519":
        return Ed25519PrivateKey.generate()
    raise TrustError(f"key algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")


def algorithm_of(key: PrivateKey | PublicKey) -> str:
    return "ed25519" if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey) else "ecdsa-p256"


def _hash_for(key: PrivateKey) -> hashes.HashAlgorithm | None:
    """Ed25519 signs without a separate hash; ECDSA P-256 signs with SHA-256."""
    return None if isinstance(key, Ed25519PrivateKey) else hashes.SHA256()


def _write_private(path: Path, key: PrivateKey, passphrase: str) -> None:
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


def load_private_key(path: Path, passphrase: str, ed25519_only: bool = False) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase.encode() if passphrase else None)
    except FileNotFoundError as exc:
        raise TrustError(f"{path}: private key not found") from exc
    except (ValueError, TypeError) as exc:
        raise TrustError(f"{path}: cannot decrypt the private key (wrong passphrase?)") from exc
    if ed25519_only and not isinstance(key, Ed25519PrivateKey):
        raise TrustError(f"{path}: not an Ed25519 private key")
    if not isinstance(key, Ed25519PrivateKey) and not (
            isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)):
        raise TrustError(f"{path}: not an Ed25519 or ECDSA P-256 private key")
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


def key_id_of(public_key: PublicKey) -> str:
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
              workspace: Path | None = None, now: dt.datetime | None = None,
              algorithm: str = "ecdsa-p256") -> RootPaths:
    """Create a self-signed root CA once. Refuses to overwrite a root or to write inside a workspace.

    A P-256 root also gets its CT key (`ct_key.pem`, same passphrase) for the signers' embedded SCTs."""
    out_dir = Path(out_dir)
    if workspace is not None and _inside(out_dir, Path(workspace)):
        raise TrustError(f"{out_dir} is inside the workspace {workspace}: the root key must stay outside it (custody)")
    if (out_dir / ROOT_KEY).exists() or (out_dir / ROOT_CERT).exists():
        raise TrustError(f"{out_dir} already holds a root; a root is never overwritten")
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    now = now or utcnow()
    key = generate_key(algorithm)
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
        .sign(key, _hash_for(key))
    )
    paths = RootPaths(out_dir, out_dir / ROOT_KEY, out_dir / ROOT_CERT, out_dir / TRUST_CRL)
    _write_private(paths.key, key, passphrase)
    if algorithm == "ecdsa-p256":
        _write_private(out_dir / ROOT_CT_KEY, generate_key("ecdsa-p256"), passphrase)
    atomic_write_bytes(paths.cert, cert_pem(cert))
    write_crl(out_dir, passphrase, now=now)
    return paths


def _load_root(root_dir: Path, passphrase: str) -> tuple[PrivateKey, x509.Certificate]:
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
    pem = builder.sign(key, _hash_for(key)).public_bytes(serialization.Encoding.PEM)
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
        publish_crl(trust_dir, load_cert(Path(root_dir) / ROOT_CERT), pem)
    return pem


# -- signers and the keystore ---------------------------------------------------------------------


def read_keystore(keystore: Path) -> dict[str, Any]:
    path = Path(keystore) / KEYSTORE_META
    if not path.exists():
        return {"current_signer": None, "signers": {}, "log_key_name": None}
    return json.loads(path.read_text())


def trust_setup_problem(
    keystore: Path, passphrase: str | None, passphrase_env: str = "LUMEN_SIGNER_PASS", need: tuple[str, ...] = ("signer", "log")
) -> str | None:
    """None when the trust assets can sign; else one line saying what is missing and which commands set it
    up (issue 11 §2: said by `lumen run` before it starts, and by the trust assets when they fail)."""
    meta = read_keystore(keystore)
    missing = []
    if "signer" in need and not meta.get("current_signer"):
        missing.append("no signer (`lumen keys init-root --out ROOT_DIR` outside the workspace, then "
                       "`lumen keys issue-signer --root ROOT_DIR --workspace W`)")
    if "log" in need and not meta.get("log_key_name"):
        missing.append("no log key (`lumen keys init-log --workspace W`)")
    if not passphrase:
        missing.append(f"${passphrase_env} is not set (export the keystore passphrase)")
    if not missing:
        return None
    return "trust is not set up: " + "; ".join(missing) + " - or try it all on `lumen demo`"


def _write_keystore(keystore: Path, meta: dict[str, Any]) -> None:
    atomic_write_text(Path(keystore) / KEYSTORE_META, json.dumps(meta, indent=2, sort_keys=True) + "\n")


def root_folder_name(root: x509.Certificate) -> str:
    """The folder under trust/roots/ that keeps a rotated-out root: its fingerprint's first 16 hex digits."""
    return fingerprint(root)[:16]


def trusted_roots(trust_dir: Path) -> list[tuple[x509.Certificate, Path]]:
    """(root certificate, its CRL path): the current root first, then rotated-out roots still trusted."""
    trust_dir = Path(trust_dir)
    found = []
    if (trust_dir / TRUST_ROOT).exists():
        found.append((load_cert(trust_dir / TRUST_ROOT), trust_dir / TRUST_CRL))
    for folder in sorted((trust_dir / TRUST_ROOTS).glob("*/")):
        if (folder / TRUST_ROOT).exists():
            found.append((load_cert(folder / TRUST_ROOT), folder / TRUST_CRL))
    return found


def publish_crl(trust_dir: Path, root: x509.Certificate, pem: bytes) -> Path:
    """Put a root's CRL where the verifier looks for that root: crl.pem, or beside a rotated-out root."""
    trust_dir = Path(trust_dir)
    current = trust_dir / TRUST_ROOT
    if not current.exists() or load_cert(current) == root:
        target = trust_dir / TRUST_CRL
    else:
        folder = trust_dir / TRUST_ROOTS / root_folder_name(root)
        if not (folder / TRUST_ROOT).exists():
            raise TrustError(f"{trust_dir} does not trust the root {root.subject.rfc4514_string()}; "
                             "refusing to publish its CRL")
        target = folder / TRUST_CRL
    atomic_write_bytes(target, pem)
    return target


def publish_root(trust_dir: Path, root: x509.Certificate, rotate: bool = False) -> None:
    """Put the root in the trust folder; never silently replace a different root that is pinned there.

    With `rotate`, a different pinned root is moved (with its CRL) to trust/roots/<fingerprint>/, where
    `lumen verify` keeps trusting it for the envelopes its signers made, and `root` becomes the current one.
    """
    trust_dir = Path(trust_dir)
    path = trust_dir / TRUST_ROOT
    if path.exists():
        pinned = load_cert(path)
        if pinned == root:
            return
        if not rotate:
            raise TrustError(f"{path} pins a different root; refusing to overwrite it "
                             "(a root rotation is explicit: `lumen keys issue-signer --rotate-root`)")
        folder = trust_dir / TRUST_ROOTS / root_folder_name(pinned)
        atomic_write_bytes(folder / TRUST_ROOT, cert_pem(pinned))
        if (trust_dir / TRUST_CRL).exists():
            atomic_write_bytes(folder / TRUST_CRL, (trust_dir / TRUST_CRL).read_bytes())
    atomic_write_bytes(path, cert_pem(root))


def _load_ct_key(root_dir: Path, passphrase: str) -> ec.EllipticCurvePrivateKey | None:
    path = Path(root_dir) / ROOT_CT_KEY
    if not path.exists():
        return None
    key = load_private_key(path, passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TrustError(f"{path}: the CT key must be ECDSA P-256")
    return key


def issue_signer(root_dir: Path, root_passphrase: str, keystore: Path, signer_passphrase: str, trust_dir: Path,
                 days: int = 180, overlap_days: int = 14, common_name: str = "Lumen Signer",
                 now: dt.datetime | None = None, identity: str = DEFAULT_IDENTITY,
                 oidc_issuer: str = DEFAULT_ISSUER, rotate_root: bool = False) -> x509.Certificate:
    """Issue a signer certificate; if one is current, this is a rotation with an overlap period.

    The signer's algorithm follows the root's. A P-256 root with a CT key issues Sigstore-ready signers:
    SAN URI `identity`, OIDC-issuer extension `oidc_issuer`, one embedded SCT. Issuing from a root other
    than the pinned one needs `rotate_root` (see `publish_root`)."""
    now = now or utcnow()
    trust_dir = Path(trust_dir)
    root_key, root = _load_root(root_dir, root_passphrase)
    pinned = trust_dir / TRUST_ROOT
    if pinned.exists() and load_cert(pinned) != root and not rotate_root:
        raise TrustError(f"{pinned} pins a different root; issuing from {root_dir} is a root rotation "
                         "(`lumen keys issue-signer --rotate-root`)")
    ct_key = _load_ct_key(root_dir, root_passphrase)
    key = generate_key(algorithm_of(root_key))
    builder = (
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
    )
    if isinstance(root_key, ec.EllipticCurvePrivateKey):
        builder = (builder
                   .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]),
                                  critical=False)
                   .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_OID, oidc_issuer.encode()), critical=False))
    if ct_key is not None and isinstance(root_key, ec.EllipticCurvePrivateKey):
        from lumen_assets.attest.sct import sign_with_sct

        cert = sign_with_sct(builder, root_key, root_key.public_key(), ct_key, now)
    else:
        cert = builder.sign(root_key, _hash_for(root_key))
    serial = serial_hex(cert)
    keystore = Path(keystore)
    _write_private(keystore / "signers" / serial / "key.pem", key, signer_passphrase)
    atomic_write_bytes(keystore / "signers" / serial / "cert.pem", cert_pem(cert))
    meta = read_keystore(keystore)
    previous = meta.get("current_signer")
    if previous and previous in meta["signers"]:
        meta["signers"][previous]["retire_after"] = (now + dt.timedelta(days=overlap_days)).isoformat()
    meta["signers"][serial] = {"not_before": cert.not_valid_before_utc.isoformat(),
                               "not_after": cert.not_valid_after_utc.isoformat(), "retire_after": None,
                               "algorithm": algorithm_of(key)}
    meta["current_signer"] = serial
    _write_keystore(keystore, meta)
    with open(root_dir / "issued.jsonl", "a") as handle:
        handle.write(json.dumps({"serial": serial, "issued_at": now.isoformat(), "subject": common_name}) + "\n")
    publish_root(trust_dir, root, rotate=rotate_root)
    atomic_write_bytes(trust_dir / "signers" / f"{serial}.pem", cert_pem(cert))
    publish_crl(trust_dir, root, (root_dir / TRUST_CRL).read_bytes())
    if ct_key is not None:
        atomic_write_bytes(trust_dir / TRUST_CT, ct_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
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
    key: PrivateKey
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
        key = load_private_key(path, passphrase, ed25519_only=True)
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
    return name, load_private_key(Path(keystore) / "log" / "key.pem", passphrase, ed25519_only=True)  # type: ignore[return-value]
