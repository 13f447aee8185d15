"""DSSE envelopes through securesystemslib: the standard PAE, Ed25519, the signer certificate alongside.

Why (seed segD §7.4, §7.8 #1): the seed's "PAE" left out LEN(type), used a newline and signed sha256(PAE),
so no standard tool verified it. securesystemslib's `Envelope` computes the DSSE v1 PAE
`DSSEv1 <len(type)> <type> <len(body)> <body>` and signs it directly.

The envelope is the DSSE JSON `{payload, payloadType, signatures: [{keyid, sig, cert}]}`; `keyid` is the
sha256 of the signer's SubjectPublicKeyInfo, `cert` carries the signer certificate PEM (an extra field the
DSSE spec lets verifiers ignore; the same certificate is also in the workspace trust folder).

Pure module: no dagster import.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from lumen_assets.attest.keys import cert_pem, key_id_of
from lumen_assets.attest.statement import PAYLOAD_TYPE


class EnvelopeError(ValueError):
    """An envelope that is malformed or whose signature does not verify."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding (for tests and readers; securesystemslib computes its own)."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_envelope(payload: bytes, key: Ed25519PrivateKey, cert: x509.Certificate,
                  payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    keyid = key_id_of(key.public_key())
    signer = CryptoSigner(key, SSlibKey.from_crypto(key.public_key(), keyid=keyid))
    envelope = Envelope(payload, payload_type, {})
    signature = envelope.sign(signer)
    signature.unrecognized_fields["cert"] = cert_pem(cert).decode()
    envelope.signatures[signature.keyid] = signature
    return envelope.to_dict()


def envelope_bytes(envelope: dict[str, Any]) -> bytes:
    """The exact bytes written to `.dsse.json` (and hashed into the log as the leaf input)."""
    return (json.dumps(envelope, indent=2, sort_keys=True) + "\n").encode()


def parse_envelope(data: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"envelope is not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or not {"payload", "payloadType", "signatures"} <= envelope.keys():
        raise EnvelopeError("envelope lacks payload, payloadType or signatures")
    if not isinstance(envelope["signatures"], list) or not envelope["signatures"]:
        raise EnvelopeError("envelope carries no signatures")
    return envelope


def envelope_payload(envelope: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(envelope["payload"], validate=True)
    except (ValueError, TypeError) as exc:
        raise EnvelopeError("envelope payload is not base64") from exc


def verify_envelope(envelope: dict[str, Any], cert: x509.Certificate) -> bytes:
    """Verify the envelope's signature with `cert`'s key through securesystemslib; return the payload."""
    public_key = cert.public_key()
    keyid = key_id_of(public_key)  # type: ignore[arg-type]
    try:
        parsed = Envelope.from_dict(json.loads(json.dumps(envelope)))  # from_dict mutates its input
        parsed.verify([SSlibKey.from_crypto(public_key, keyid=keyid)], threshold=1)
    except (VerificationError, ValueError, KeyError, TypeError) as exc:
        raise EnvelopeError(f"DSSE signature does not verify with certificate key {keyid[:16]}: {exc}") from exc
    return parsed.payload
