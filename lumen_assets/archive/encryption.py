"""AES-256-GCM bundle encryption: read the seed's v1 files, write and read Lumen's streaming v2.

v1 (seed segC C5, `encrypt_aes_gcm`): ``LUMENENC | 0x01 | salt16 | nonce12 | ciphertext | tag16``, the
whole file sealed in one GCM call (so it must be held in memory), no AAD. The key is the env value
base64-decoded (non-strict) when that gives 32 bytes, else the value is a passphrase put through
HKDF-SHA256(salt, info=b"key") -- a KDF with no work factor (seed bug). Lumen only *reads* v1.

v2 (Lumen), a STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizar 2015) over AES-256-GCM::

    header (40 bytes) = MAGIC(8) | 0x02 | kdf(1: 0 raw key, 1 scrypt) | log2_n(1) | r(1) | p(1)
                        | salt(16) | segment_size(4, big-endian) | nonce_prefix(7)
    then segments      = ciphertext_i || tag_i, each of segment_size plaintext bytes except the last
                        (0..segment_size bytes), nonce_i = nonce_prefix | i (4, big-endian) | final(1)
    every segment authenticates the whole header as AAD.

The counter in the nonce detects reordering, the final flag detects truncation at a segment boundary,
the random per-file prefix plus the header AAD detect splicing between files, and memory is one segment
whatever the bundle size. The header says whether the key was raw or a passphrase (the seed left that to a
non-strict base64 guess) and carries the scrypt work factor. Pure module: no dagster import.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"LUMENENC"
V1 = 1
V2 = 2
V1_HEADER_SIZE = 8 + 1 + 16 + 12
V2_HEADER = struct.Struct(">8sBBBBB16sI7s")
V2_HEADER_SIZE = V2_HEADER.size  # 40
TAG_SIZE = 16
KDF_RAW = 0
KDF_SCRYPT = 1
MAX_SCRYPT_LOG2_N = 20  # refuse headers asking for more than ~1 GiB of scrypt memory (r=8)
MAX_SEGMENT_SIZE = 64 << 20

KeyKind = Literal["auto", "raw", "passphrase"]


class EncryptionError(ValueError):
    """An encrypted bundle that cannot be opened: wrong key, corrupted, truncated, reordered or not ours."""


@dataclass(frozen=True)
class KeyMaterial:
    """Either a raw 32-byte key or a passphrase (never both), resolved from an env value."""

    raw_key: bytes | None = None
    passphrase: bytes | None = None

    def __repr__(self) -> str:  # never print secrets into logs
        return f"KeyMaterial({'raw key' if self.raw_key else 'passphrase'})"


def resolve_key_material(secret: str, kind: KeyKind = "auto") -> KeyMaterial:
    """The env value as key material for writing v2: strict base64 of exactly 32 bytes is a raw key.

    Unlike the seed's non-strict decode, `auto` only takes the raw-key reading when the value is canonical
    base64 of 32 bytes; `raw`/`passphrase` force the reading (the header records which was used).
    """
    if not secret:
        raise EncryptionError("empty archive key")
    if kind in ("auto", "raw"):
        try:
            decoded = base64.b64decode(secret.strip(), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) == 32:
            return KeyMaterial(raw_key=decoded)
        if kind == "raw":
            raise EncryptionError("archive key is not base64 of exactly 32 bytes (key_kind: raw)")
    return KeyMaterial(passphrase=secret.encode("utf-8"))


# ---------------------------------------------------------------------------------------------- v1 (seed)


def seed_v1_key(secret: str, salt: bytes) -> bytes:
    """The seed's key resolution, verbatim in behaviour (segC C5 `_get_key_from_env` + `_kdf`)."""
    try:
        decoded = base64.b64decode(secret)
        if len(decoded) == 32:
            return decoded
    except (binascii.Error, ValueError):
        pass
    prk = hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).digest()  # RFC 5869 extract
    return hmac.new(prk, b"key\x01", hashlib.sha256).digest()  # RFC 5869 expand, one block


def decrypt_v1(blob: bytes, secret: str) -> bytes:
    """Open a seed v1 file held in memory (the format seals the whole file at once, so it cannot stream)."""
    if len(blob) < V1_HEADER_SIZE + TAG_SIZE or blob[:8] != MAGIC or blob[8] != V1:
        raise EncryptionError("not a LUMENENC v1 file")
    salt, nonce = blob[9:25], blob[25:37]
    try:
        return AESGCM(seed_v1_key(secret, salt)).decrypt(nonce, blob[37:], None)
    except InvalidTag:
        raise EncryptionError("v1 file failed authentication (wrong key or corrupted)") from None


# ------------------------------------------------------------------------------------------- v2 (Lumen)


@dataclass(frozen=True)
class V2Header:
    kdf: int
    log2_n: int
    r: int
    p: int
    salt: bytes
    segment_size: int
    nonce_prefix: bytes

    def pack(self) -> bytes:
        return V2_HEADER.pack(MAGIC, V2, self.kdf, self.log2_n, self.r, self.p, self.salt, self.segment_size, self.nonce_prefix)

    @classmethod
    def unpack(cls, data: bytes) -> V2Header:
        if len(data) < V2_HEADER_SIZE:
            raise EncryptionError("truncated v2 header")
        magic, version, kdf, log2_n, r, p, salt, segment_size, prefix = V2_HEADER.unpack(data[:V2_HEADER_SIZE])
        if magic != MAGIC or version != V2:
            raise EncryptionError("not a LUMENENC v2 file")
        if kdf not in (KDF_RAW, KDF_SCRYPT):
            raise EncryptionError(f"unknown kdf id {kdf}")
        if kdf == KDF_SCRYPT and not (1 <= log2_n <= MAX_SCRYPT_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16):
            raise EncryptionError(f"scrypt parameters out of the accepted range (log2_n={log2_n}, r={r}, p={p})")
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise EncryptionError(f"segment size {segment_size} out of range")
        return cls(kdf, log2_n, r, p, salt, segment_size, prefix)


def _derive(material: KeyMaterial, header: V2Header) -> bytes:
    if header.kdf == KDF_RAW:
        if material.raw_key is None:
            raise EncryptionError("bundle was sealed with a raw key but the archive key is a passphrase")
        return material.raw_key
    if material.passphrase is None:
        raise EncryptionError("bundle was sealed with a passphrase but the archive key is a raw key")
    return Scrypt(salt=header.salt, length=32, n=1 << header.log2_n, r=header.r, p=header.p).derive(material.passphrase)


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    if index >= 1 << 32:
        raise EncryptionError("too many segments for one v2 file")
    return prefix + struct.pack(">I", index) + (b"\x01" if final else b"\x00")


class StreamEncryptor:
    """Writes a v2 file to `out` incrementally; memory is one segment plus the caller's chunk."""

    def __init__(
        self,
        out: BinaryIO,
        material: KeyMaterial,
        *,
        segment_size: int = 256 << 10,
        scrypt_log2_n: int = 15,
        scrypt_r: int = 8,
        scrypt_p: int = 1,
    ) -> None:
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise EncryptionError(f"segment size {segment_size} out of range")
        raw = material.raw_key is not None
        self.header = V2Header(
            kdf=KDF_RAW if raw else KDF_SCRYPT,
            log2_n=0 if raw else scrypt_log2_n,
            r=0 if raw else scrypt_r,
            p=0 if raw else scrypt_p,
            salt=bytes(16) if raw else os.urandom(16),
            segment_size=segment_size,
            nonce_prefix=os.urandom(7),
        )
        self._aad = self.header.pack()
        self._aead = AESGCM(_derive(material, self.header))
        self._out = out
        # two fixed buffers, reused for every segment: no per-segment allocation (and page faults)
        self._segment = bytearray(segment_size)
        self._filled = 0
        self._sealed = bytearray(segment_size + TAG_SIZE)
        self._index = 0
        self._closed = False
        out.write(self._aad)

    @property
    def buffered(self) -> int:
        """Plaintext bytes held back (at most one segment)."""
        return self._filled

    def _seal(self, plaintext: bytes | bytearray | memoryview, final: bool) -> None:
        nonce = _nonce(self.header.nonce_prefix, self._index, final)
        sealed_size = len(plaintext) + TAG_SIZE
        if not hasattr(self._aead, "encrypt_into"):  # cryptography < 45 (or < 46): allocate per segment
            self._out.write(self._aead.encrypt(nonce, plaintext, self._aad))
            self._index += 1
            return
        reserve = getattr(self._out, "reserve", None)
        target = reserve(sealed_size) if reserve is not None else None
        if target is not None:  # seal straight into the output's own buffer (hashed and written from there)
            with target:
                self._aead.encrypt_into(nonce, plaintext, self._aad, target)
            self._out.commit(sealed_size)  # type: ignore[attr-defined]
        else:  # seal into the reused buffer
            with memoryview(self._sealed) as view:
                self._aead.encrypt_into(nonce, plaintext, self._aad, view[:sealed_size])
                self._out.write(view[:sealed_size])
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview, *, more_follows: bool = False) -> None:
        """Buffer into the fixed segment; a full segment is sealed only once more data follows it
        (only close() knows which segment is the final one). A caller that knows more data follows
        `data` says so (`more_follows`): whole segments at the end of `data` are then sealed straight
        from it, with no copy into the segment buffer."""
        if self._closed:
            raise EncryptionError("write after close")
        size = self.header.segment_size
        view = memoryview(data).cast("B")
        segment = memoryview(self._segment)
        while len(view):
            if self._filled == size:
                self._seal(segment, final=False)
                self._filled = 0
            if self._filled == 0 and (len(view) > size or (more_follows and len(view) == size)):
                self._seal(view[:size], final=False)  # a whole segment straight from the caller, no copy
                view = view[size:]
                continue
            take = min(size - self._filled, len(view))
            segment[self._filled : self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]

    def close(self) -> None:
        if not self._closed:
            self._seal(memoryview(self._segment)[: self._filled], final=True)
            self._filled = 0
            self._closed = True


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    parts, remaining = [], size
    while remaining:
        chunk = source.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def iter_decrypt_v2(source: BinaryIO, material: KeyMaterial, header_bytes: bytes | None = None) -> Iterator[bytes]:
    """Yield authenticated plaintext segments of a v2 stream; raise EncryptionError on any tampering.

    A caller must not act on the plaintext until the iterator ends without error (the last segment's
    final flag is what proves nothing was cut off); `decrypt_to` does that with an atomic write.
    """
    if header_bytes is None:
        header_bytes = _read_exactly(source, V2_HEADER_SIZE)
    header = V2Header.unpack(header_bytes)
    aead = AESGCM(_derive(material, header))
    block = header.segment_size + TAG_SIZE
    current = _read_exactly(source, block)
    index = 0
    while True:
        if len(current) < TAG_SIZE:
            raise EncryptionError(f"truncated: segment {index} is missing or shorter than a tag")
        following = _read_exactly(source, block) if len(current) == block else b""
        final = not following
        try:
            plaintext = aead.decrypt(_nonce(header.nonce_prefix, index, final), current, header_bytes)
        except InvalidTag:
            raise EncryptionError(
                f"segment {index} failed authentication (wrong key, or the file was corrupted, truncated or reordered)"
            ) from None
        yield plaintext
        if final:
            return
        current, index = following, index + 1


def read_version(source: BinaryIO) -> tuple[int, bytes]:
    """Peek the magic and version; returns (version, bytes consumed)."""
    head = _read_exactly(source, 9)
    if len(head) < 9 or head[:8] != MAGIC:
        raise EncryptionError("not a LUMENENC file (bad magic)")
    if head[8] not in (V1, V2):
        raise EncryptionError(f"unsupported LUMENENC version {head[8]}")
    return head[8], head


def iter_decrypt(source: BinaryIO, secret: str) -> Iterator[bytes]:
    """Plaintext of a v1 or v2 file from a readable binary stream (v1 is read whole, as its format needs)."""
    version, head = read_version(source)
    if version == V1:
        yield decrypt_v1(head + source.read(), secret)
        return
    rest = _read_exactly(source, V2_HEADER_SIZE - len(head))
    header = V2Header.unpack(head + rest)
    material = resolve_key_material(secret, "raw" if header.kdf == KDF_RAW else "passphrase")
    yield from iter_decrypt_v2(source, material, head + rest)


def encrypt_bytes(plaintext: bytes, material: KeyMaterial, **kwargs: int) -> bytes:
    """Convenience for tests and small payloads: the whole v2 file as bytes."""
    import io

    out = io.BytesIO()
    encryptor = StreamEncryptor(out, material, **kwargs)
    encryptor.write(plaintext)
    encryptor.close()
    return out.getvalue()


def decrypt_bytes(blob: bytes, secret: str) -> bytes:
    import io

    return b"".join(iter_decrypt(io.BytesIO(blob), secret))
