"""A tlog-tiles reader written from the specs alone (c2sp.org/tlog-tiles, signed-note, tlog-checkpoint and
RFC 6962 §2.1), sharing no code with lumen_assets: it is the independent client the server is tested with.

It verifies the checkpoint's note signature with the vkey, reads every level-0 tile (and partial tile) of
that tree size, checks every higher-level tile hash against the tiles below it, recomputes the root by the
RFC's recursive definition, checks every entry in the entry bundles hashes to its leaf, and builds RFC 6962
audit paths, all through a caller-supplied `get(path) -> bytes`.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH over leaf hashes, by the definition (k = largest power of two < n)."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]) over leaf hashes."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def tile_name(level: str | int, n: int, width: int) -> str:
    digits = f"{n:03d}" if n < 1000 else None
    if digits is None:
        parts = []
        while True:
            parts.append(f"{n % 1000:03d}")
            n //= 1000
            if n == 0:
                break
        digits = "/".join(["x" + p for p in reversed(parts[1:])] + [parts[0]])
    return f"tile/{level}/{digits}" + ("" if width == 256 else f".p/{width}")


def open_note(note: str, vkey: str) -> tuple[str, int, bytes]:
    """(origin, size, root) after checking the Ed25519 signature by the vkey's key (signed-note §vkeys)."""
    name, key_id_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 1, "not an Ed25519 vkey"
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    ok = False
    for line in sigs.splitlines():
        signer, blob_b64 = line.removeprefix("\u2014 ").split(" ")
        blob = base64.b64decode(blob_b64)
        if signer == name and blob[:4].hex() == key_id_hex:
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(blob[4:], text.encode())
            ok = True
    assert ok, "no signature by the pinned key"
    origin, size, root = text.splitlines()[:3]
    return origin, int(size), base64.b64decode(root)


class Reader:
    def __init__(self, get: Callable[[str], bytes], vkey: str) -> None:
        self.get, self.vkey = get, vkey

    def read(self) -> dict:
        origin, size, root = open_note(self.get("checkpoint").decode(), self.vkey)
        leaves: list[bytes] = []
        for n in range((size + 255) // 256):
            width = min(256, size - n * 256)
            data = self.get(tile_name(0, n, width))
            assert len(data) == width * 32, f"level-0 tile {n}: {len(data)} bytes"
            leaves += [data[i : i + 32] for i in range(0, len(data), 32)]
            bundle = self.get(tile_name("entries", n, width))
            entries, offset = [], 0
            while offset < len(bundle):
                (length,) = struct.unpack(">H", bundle[offset : offset + 2])
                entries.append(bundle[offset + 2 : offset + 2 + length])
                offset += 2 + length
            assert len(entries) == width, f"bundle {n}: {len(entries)} entries for width {width}"
            for i, entry in enumerate(entries):
                assert _h(b"\x00" + entry) == leaves[n * 256 + i], f"entry {n * 256 + i} does not hash to its leaf"
        # every level-1 tile hash is the MTH of one full level-0 tile
        full = size // 256
        if full:
            level1 = self.get(tile_name(1, 0, min(256, full)))
            for t in range(min(256, full)):
                assert level1[t * 32 : t * 32 + 32] == mth(leaves[t * 256 : t * 256 + 256]), f"level-1 hash {t}"
        assert mth(leaves) == root, "the tiles do not hash to the checkpoint's root"
        return {"origin": origin, "size": size, "root": root, "leaves": leaves}
