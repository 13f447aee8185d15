"""Sigstore bundles (v0.3) for Lumen's attestations, and the private trust root stock `sigstore` verifies them with.

Why (issue 14, design card "attestations"): Lumen's DSSE envelopes are standard, but an auditor should not
need Lumen to check them. A private Sigstore deployment is a CA, a CT log, a transparency log and a
trusted root listing their keys; Lumen has all of them offline:

- CA        the Lumen root CA (ECDSA P-256); signer certificates carry a SAN URI (identity), the OIDC
            issuer extension, codeSigning and one embedded SCT (`sct.py`);
- CT log    the CT key held beside the root key (no CT server is contacted); `ctlogs` in the trusted root;
- tlog      Lumen's own RFC 9162 log and Ed25519 log key; each attestation also gets a `dsse/0.0.1`
            Rekor entry body as a second leaf (leaf = SHA-256(0x00 || RFC 8785 JSON of the body)), and the
            bundle carries its inclusion proof under a C2SP checkpoint plus a signed entry timestamp (SET)
            by the log key over `{body, integratedTime, logID, logIndex}`; the log id is
            SHA-256(key name || 0x0A || 0x01 || public key), whose first 4 bytes are the signed-note key id.

`attest/trust/trust_config.json` is a ClientTrustConfig (trusted root + an offline signing config) and
`attest/trust/sigstore.json` tells an auditor which identity and issuer to demand:

    sigstore --trust-config attest/trust/trust_config.json verify identity ARTEFACT \\
      --bundle attest/ARTEFACT.sigstore.json --offline --cert-identity ID --cert-oidc-issuer ISSUER

What stock sigstore does not check and `lumen verify` still does: the CRL, the checkpoint origin, the
checkpoint's tree size against the proof's, the key name on the checkpoint's signature line (sigstore matches
the 4-byte key hint only) and the bundle's exact bytes: another base64 spelling of a field (its unused low
bits before '=' padding, which every fixed-size hash and signature has) decodes to the same bytes and passes
stock sigstore; `check_bundle` demands Lumen's canonical spelling. The DSSE envelope inside the bundle is the one in
`attest/<path>.dsse.json` (same payload, same ECDSA signature), so both verifiers check one signature.

Pure module: no dagster import.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lumen_assets.atomic import atomic_write_bytes
from lumen_assets.attest.keys import (
    TRUST_CT,
    TRUST_LOG_VKEY,
    TRUST_ROOT,
    TrustError,
    cert_pem,
    trusted_roots,
)
from lumen_assets.attest.sct import SCT_LIST_OID, spki_sha256
from lumen_assets.tlog.checkpoint import parse_verifier_key

SIGSTORE_SUFFIX = ".sigstore.json"
TRUST_CONFIG = "trust_config.json"
TRUST_SIGSTORE = "sigstore.json"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _spki_der(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """The tlog's log id: SHA-256(name || \\n || 0x01 || raw key); its first 4 bytes are the note key id."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(key_name.encode() + b"\n\x01" + raw).digest()


def sigstore_ready(cert: x509.Certificate) -> bool:
    """Can stock sigstore verify this signer? ECDSA P-256 key with an embedded SCT."""
    if not isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        return False
    try:
        cert.extensions.get_extension_for_oid(SCT_LIST_OID)
    except x509.ExtensionNotFound:
        return False
    return True


# -- the trust root -----------------------------------------------------------------------------------


def trust_config(trust_dir: Path) -> dict[str, Any]:
    """The ClientTrustConfig for the trust folder: CA roots (P-256/RSA only), the CT key, the log key."""
    trust_dir = Path(trust_dir)
    vkey_path, ct_path = trust_dir / TRUST_LOG_VKEY, trust_dir / TRUST_CT
    if not vkey_path.exists() or not ct_path.exists():
        raise TrustError(f"{trust_dir}: the Sigstore trust root needs {TRUST_LOG_VKEY} and {TRUST_CT} "
                         "(a P-256 root with its CT key, `lumen keys init-root`, and the log key)")
    name, log_key = parse_verifier_key(vkey_path.read_text())
    ct_key = serialization.load_pem_public_key(ct_path.read_bytes())
    roots = [root for root, _ in trusted_roots(trust_dir) if not isinstance(root.public_key(), Ed25519PublicKey)]
    if not roots:
        raise TrustError(f"{trust_dir}/{TRUST_ROOT}: no ECDSA P-256 root is trusted; Sigstore refuses an Ed25519 CA")
    start = _rfc3339(min(root.not_valid_before_utc for root in roots))
    authorities = [{
        "subject": {"organization": "Lumen", "commonName": root.subject.rfc4514_string()},
        "uri": "https://lumen.local/ca",
        "certChain": {"certificates": [{"rawBytes": _b64(root.public_bytes(serialization.Encoding.DER))}]},
        "validFor": {"start": _rfc3339(root.not_valid_before_utc), "end": _rfc3339(root.not_valid_after_utc)},
    } for root in roots]
    trusted_root = {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [{
            "baseUrl": f"https://{name}", "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": _b64(_spki_der(log_key)), "keyDetails": "PKIX_ED25519",
                          "validFor": {"start": start}},
            "logId": {"keyId": _b64(log_id(name, log_key))},
        }],
        "certificateAuthorities": authorities,
        "ctlogs": [{
            "baseUrl": "https://lumen.local/ct", "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": _b64(_spki_der(ct_key)), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": start}},
            "logId": {"keyId": _b64(spki_sha256(ct_key))},
        }],
        "timestampAuthorities": [],
    }
    # Lumen signs offline (no Fulcio, no OIDC, no Rekor server): the signing config names no services.
    signing_config = {"mediaType": SIGNING_CONFIG_MEDIA_TYPE, "caUrls": [], "oidcUrls": [], "rekorTlogUrls": [],
                      "tsaUrls": [], "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}}
    return {"mediaType": TRUST_CONFIG_MEDIA_TYPE, "trustedRoot": trusted_root, "signingConfig": signing_config}


def publish_sigstore_trust(trust_dir: Path, identity: str, issuer: str, trust_rel: str = "attest/trust") -> Path:
    """Write trust_config.json and sigstore.json ({trust_config, identity, issuer}) into the trust folder."""
    trust_dir = Path(trust_dir)
    config_bytes = (json.dumps(trust_config(trust_dir), indent=2) + "\n").encode()
    path = trust_dir / TRUST_CONFIG
    if not path.exists() or path.read_bytes() != config_bytes:
        atomic_write_bytes(path, config_bytes)
    pointer = (json.dumps({"trust_config": f"{trust_rel}/{TRUST_CONFIG}", "identity": identity,
                           "issuer": issuer}, indent=2) + "\n").encode()
    if not (trust_dir / TRUST_SIGSTORE).exists() or (trust_dir / TRUST_SIGSTORE).read_bytes() != pointer:
        atomic_write_bytes(trust_dir / TRUST_SIGSTORE, pointer)
    return path


# -- the tlog entry and the bundle --------------------------------------------------------------------


def signer_cert_of(envelope: dict[str, Any]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(envelope["signatures"][0]["cert"].encode())


def dsse_entry_body(envelope: dict[str, Any], envelope_file_bytes: bytes) -> bytes:
    """The Rekor `dsse/0.0.1` entry body for a Lumen envelope, as RFC 8785 JSON (the tlog leaf input).

    envelopeHash is the SHA-256 of the `.dsse.json` file's bytes (the other leaf), which ties the two."""
    payload = base64.b64decode(envelope["payload"])
    cert = signer_cert_of(envelope)
    body = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(envelope_file_bytes).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": envelope["signatures"][0]["sig"], "verifier": _b64(cert_pem(cert))}],
        },
    }
    return rfc8785.dumps(body)


def signed_entry_timestamp(log_key: Ed25519PrivateKey, body: bytes, integrated_time: int, log_id_bytes: bytes,
                           log_index: int) -> bytes:
    """The SET: the log key's signature over RFC 8785 `{body, integratedTime, logID, logIndex}`."""
    return log_key.sign(rfc8785.dumps({"body": _b64(body), "integratedTime": integrated_time,
                                       "logID": log_id_bytes.hex(), "logIndex": log_index}))


def build_bundle(envelope: dict[str, Any], body: bytes, proof: dict[str, Any], root_hash: bytes,
                 integrated_time: int, log_id_bytes: bytes, set_signature: bytes) -> bytes:
    """Bundle v0.3 bytes: the signer certificate, the DSSE envelope and one tlog entry (compact JSON)."""
    cert = signer_cert_of(envelope)
    index = int(proof["leaf_index"])
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "certificate": {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [{
                "logIndex": str(index),
                "logId": {"keyId": _b64(log_id_bytes)},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": str(integrated_time),
                "inclusionPromise": {"signedEntryTimestamp": _b64(set_signature)},
                "inclusionProof": {
                    "logIndex": str(index),
                    "rootHash": _b64(root_hash),
                    "treeSize": str(int(proof["tree_size"])),
                    "hashes": [_b64(bytes.fromhex(h)) for h in proof["hashes"]],
                    "checkpoint": {"envelope": proof["checkpoint"]},
                },
                "canonicalizedBody": _b64(body),
            }],
        },
        "dsseEnvelope": {
            "payload": envelope["payload"],
            "payloadType": envelope["payloadType"],
            "signatures": [{"sig": envelope["signatures"][0]["sig"]}],
        },
    }
    return json.dumps(bundle, separators=(",", ":")).encode()


def bundle_path(workspace: Path, rel: str, attest_dir: str = "attest") -> Path:
    return Path(workspace) / attest_dir / (rel + SIGSTORE_SUFFIX)


def bundle_entry_body(bundle_file: Path) -> bytes | None:
    """The canonicalized tlog body a bundle carries, or None when the bundle is missing or unreadable."""
    try:
        bundle = json.loads(bundle_file.read_bytes())
        return base64.b64decode(bundle["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


_BASE64_FIELDS = {"rawBytes", "keyId", "signedEntryTimestamp", "rootHash", "canonicalizedBody", "payload", "sig"}


def _canonical_base64(node: Any, where: str = "") -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _BASE64_FIELDS and isinstance(value, str):
                if base64.b64encode(base64.b64decode(value)).decode() != value:
                    raise TrustError(f"bundle {where}{key}: not canonical base64")
            elif key == "hashes" and isinstance(value, list):
                for i, item in enumerate(value):
                    if base64.b64encode(base64.b64decode(item)).decode() != item:
                        raise TrustError(f"bundle {where}hashes[{i}]: not canonical base64")
            else:
                _canonical_base64(value, f"{where}{key}.")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _canonical_base64(item, f"{where}[{i}].")


def check_bundle(bundle_bytes: bytes, envelope_raw: bytes, vkey: str, origin: str | None = None) -> int:
    """What stock sigstore leaves unchecked, checked against Lumen's own files; returns the bundle's log index.

    The bundle must be byte-for-byte as Lumen writes it (compact JSON, canonical base64), carry exactly the
    envelope and certificate of `attest/<path>.dsse.json` and the dsse entry body derived from them, and its
    checkpoint must be signed by the pinned log key under its own name, for the expected origin, at the
    proof's tree size and root."""
    from lumen_assets.tlog.checkpoint import CheckpointError, open_checkpoint

    try:
        bundle = json.loads(bundle_bytes)
        _canonical_base64(bundle)
        if json.dumps(bundle, separators=(",", ":")).encode() != bundle_bytes:
            raise TrustError("bundle is not in Lumen's compact JSON form (bytes were changed)")
        envelope = json.loads(envelope_raw)
        material = bundle["verificationMaterial"]
        entry = material["tlogEntries"][0]
        cert = signer_cert_of(envelope)
        if base64.b64decode(material["certificate"]["rawBytes"]) != cert.public_bytes(serialization.Encoding.DER):
            raise TrustError("bundle certificate is not the envelope's signer certificate")
        dsse = bundle["dsseEnvelope"]
        if (dsse["payload"], dsse["payloadType"], dsse["signatures"]) != (
                envelope["payload"], envelope["payloadType"], [{"sig": envelope["signatures"][0]["sig"]}]):
            raise TrustError("bundle DSSE envelope is not the workspace envelope")
        if base64.b64decode(entry["canonicalizedBody"]) != dsse_entry_body(envelope, envelope_raw):
            raise TrustError("bundle tlog body is not the dsse entry of the workspace envelope")
        proof = entry["inclusionProof"]
        checkpoint = open_checkpoint(proof["checkpoint"]["envelope"], vkey, origin=origin)
    except CheckpointError as exc:
        raise TrustError(f"bundle checkpoint: {exc}") from exc
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TrustError(f"bundle is malformed: {exc}") from exc
    if checkpoint.tree_size != int(proof["treeSize"]) or checkpoint.root_hash != base64.b64decode(proof["rootHash"]):
        raise TrustError(f"bundle proof is for tree size {proof['treeSize']}, its checkpoint for {checkpoint.tree_size}")
    if proof["logIndex"] != entry["logIndex"]:
        raise TrustError("bundle entry and proof name different log indexes")
    return int(entry["logIndex"])
