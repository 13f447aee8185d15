"""A faithful re-implementation of the seed's v1 encryptor (segC C5, `_remote_common.py` lines 4896-4930).

Kept byte-for-byte in behaviour, bugs included (non-strict base64, HKDF without a work factor, salt
always written), so the test proves Lumen opens what the seed wrote.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"LUMENENC"
VER = b"\x01"


def _kdf(passphrase: bytes, salt: bytes) -> bytes:
    prk = hmac.new(salt, passphrase, hashlib.sha256).digest()
    okm = hmac.new(prk, b"key\x01", hashlib.sha256).digest()
    return okm


def _get_key_from_env(env_key: str) -> tuple[bytes, bool]:
    raw = os.environ.get(env_key)
    if not raw:
        raise RuntimeError(f"missing env key: {env_key}")
    try:
        k = base64.b64decode(raw)
        if len(k) == 32:
            return k, True
    except Exception:
        pass
    return raw.encode("utf-8"), False


def encrypt_aes_gcm(src: Path, dst: Path, env_key: str) -> dict:
    key_or_pw, is_key = _get_key_from_env(env_key)
    salt = secrets.token_bytes(16)
    key = key_or_pw if is_key else _kdf(key_or_pw, salt)
    nonce = secrets.token_bytes(12)
    data = src.read_bytes()
    ct = AESGCM(key).encrypt(nonce, data, None)
    dst.write_bytes(MAGIC + VER + salt + nonce + ct)
    return {
        "salt_b64": base64.b64encode(salt).decode(),
        "nonce_b64": base64.b64encode(nonce).decode(),
        "algo": "AES-GCM",
        "len": len(ct),
    }
