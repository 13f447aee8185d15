"""An embedded RFC 6962 signed certificate timestamp (SCT), issued by a CT key Lumen holds.

Why: Sigstore clients (sigstore-python 4.x) require every signing certificate to carry exactly one
embedded SCT signed by a key listed under `ctlogs` in the trusted root. A private Sigstore deployment
runs its own CT log; Lumen has no CT server, so the offline root ceremony holds a P-256 "CT key"
(`ct_key.pem` beside the root key) that signs the precertificate timestamp at issuance, and its public
key is published in the trust folder and in the trusted root. No CT log is contacted.

The SCT is a precertificate entry (RFC 6962 §3.2): the signature covers the TBSCertificate *without*
the SCT-list extension plus the SHA-256 of the issuer's SubjectPublicKeyInfo, which is exactly what
`cryptography`'s `tbs_precertificate_bytes` gives back for the final certificate, so a verifier can
recompute it. Only the TLS framing is written here; all cryptography is `cryptography`'s.

Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_HASH_SHA256, _SIG_ECDSA = 4, 3
_PRECERT_ENTRY = 1


def spki_sha256(public_key) -> bytes:  # noqa: ANN001 - any cryptography public key
    """RFC 6962 key id: SHA-256 of the SubjectPublicKeyInfo DER (CT log id, precert issuer key hash)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


def _u24(n: int) -> bytes:
    return struct.pack("!I", n)[1:]


def _der_octet_string(data: bytes) -> bytes:
    n = len(data)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x04" + length + data


def sign_with_sct(builder: x509.CertificateBuilder, issuer_key: ec.EllipticCurvePrivateKey,
                  issuer_public_key, ct_key: ec.EllipticCurvePrivateKey,  # noqa: ANN001
                  now: dt.datetime) -> x509.Certificate:
    """Sign `builder` with `issuer_key`, embedding one SCT over its precertificate signed by `ct_key`."""
    precert = builder.sign(issuer_key, hashes.SHA256())
    tbs = precert.tbs_certificate_bytes
    timestamp_ms = int(now.timestamp() * 1000)
    signed = (struct.pack("!BBQH", 0, 0, timestamp_ms, _PRECERT_ENTRY) + spki_sha256(issuer_public_key)
              + _u24(len(tbs)) + tbs + struct.pack("!H", 0))
    signature = ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    sct = (b"\x00" + spki_sha256(ct_key.public_key()) + struct.pack("!QH", timestamp_ms, 0)
           + bytes([_HASH_SHA256, _SIG_ECDSA]) + struct.pack("!H", len(signature)) + signature)
    sct_list = struct.pack("!HH", len(sct) + 2, len(sct)) + sct
    cert = builder.add_extension(x509.UnrecognizedExtension(SCT_LIST_OID, _der_octet_string(sct_list)),
                                 critical=False).sign(issuer_key, hashes.SHA256())
    if cert.tbs_precertificate_bytes != tbs:  # the SCT must cover exactly what a verifier recomputes
        raise ValueError("precertificate TBS changed when the SCT was embedded")
    return cert
