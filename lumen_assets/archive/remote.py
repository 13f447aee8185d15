"""The remote copy of a day's bundle: object key, object metadata, and verification of the stored bytes.

Seed segC C5: the S3 key had no day in it (every day overwrote `SystemC/snapshots/bundle.tar.gz.lumen.enc`)
and the "integrity" check compared a metadata string with the local plaintext hash, so a corrupted object
body was never noticed. Here the key is `<prefix>/<day>/<file>`, the metadata carries the plaintext and the
stored-bytes sha256 and the format version, and verification downloads and hashes the object (and, with the
key, decrypts it and compares with the bundle). Stores are duck-typed (`head`, `open`), see
`resources/archive_store.py`. Pure module: no dagster import.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO, Protocol

from lumen_assets.archive.manifest import FileEntry
from lumen_assets.archive.verify import (
    HashingReader,
    Problem,
    VerifyReport,
    check_decrypts_to,
    check_sealed_tar,
)

META_PLAIN = "lumen-plain-sha256"
META_STORED = "lumen-stored-sha256"
META_FORMAT = "lumen-format"
META_MERKLE = "lumen-merkle-root"
META_DAY = "lumen-day"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ObjectStore(Protocol):
    def head(self, key: str) -> dict[str, str] | None: ...

    def open(self, key: str) -> BinaryIO: ...


def object_key(prefix: str, day: str, name: str) -> str:
    """`<prefix>/<day>/<name>`: one object per day (the seed overwrote one key every day)."""
    stem = prefix.strip("/")
    return f"{stem}/{day}/{name}" if stem else f"{day}/{name}"


def day_of_key(prefix: str, key: str) -> str | None:
    stem = prefix.strip("/")
    rest = key[len(stem) + 1 :] if stem and key.startswith(stem + "/") else (key if not stem else None)
    if rest is None:
        return None
    day = rest.split("/", 1)[0]
    return day if _DAY.match(day) else None


def stored_file(manifest: dict[str, Any]) -> tuple[str, str, int, str]:
    """(name, sha256, size, format) of the file that goes to the store: the encrypted one when present."""
    encrypted = manifest.get("encrypted")
    if encrypted:
        return encrypted["name"], encrypted["sha256"], encrypted["size"], encrypted.get("format", "LUMENENC-v2")
    bundle = manifest["bundle"]
    return bundle["name"], bundle["sha256"], bundle["size"], f"tar+{bundle.get('compression', 'none')}"


def object_metadata(manifest: dict[str, Any]) -> dict[str, str]:
    _, stored_sha, _, fmt = stored_file(manifest)
    metadata = {
        META_PLAIN: manifest["bundle"]["sha256"],  # None for a sealed-only bundle (AES-GCM authenticates it)
        META_STORED: stored_sha,
        META_FORMAT: fmt,
        META_MERKLE: manifest["merkle"]["root"],
        META_DAY: manifest["day"],
    }
    return {name: value for name, value in metadata.items() if value is not None}


def verify_remote(store: ObjectStore, key: str, manifest: dict[str, Any], secret: str | None = None) -> tuple[list[Problem], list[str]]:
    """Problems (and notes) for the remote copy of a day: presence, metadata, stored bytes, decryption."""
    problems: list[Problem] = []
    notes: list[str] = []
    metadata = store.head(key)
    if metadata is None:
        return [Problem(key, "missing from the remote store")], notes
    for name, expected in object_metadata(manifest).items():
        if metadata.get(name) != expected:
            problems.append(Problem(key, f"metadata {name} is {metadata.get(name)!r}, expected {expected!r}"))
    _, stored_sha, stored_size, _ = stored_file(manifest)
    bundle = manifest["bundle"]
    with store.open(key) as body:
        reader = HashingReader(body)
        if manifest.get("encrypted"):
            if secret and bundle["sha256"] is None:  # sealed only: every member re-hashed through decryption
                report = VerifyReport(day=manifest["day"])
                entries = [FileEntry(f["path"], f["size"], f["sha256"]) for f in manifest["files"]]
                check_sealed_tar(reader, secret, manifest, entries, report)
                problems += [Problem(key, f"{p.name}: {p.reason}" if p.name != key.rsplit("/", 1)[-1] else p.reason)
                             for p in report.problems]
            elif secret:
                why = check_decrypts_to(reader, secret, bundle["sha256"], bundle["size"])
                if why:
                    problems.append(Problem(key, why))
            else:
                notes.append(f"{key}: not decrypted (no archive key in the environment)")
        reader.drain()
    if reader.digest.hexdigest() != stored_sha or reader.size != stored_size:
        problems.append(Problem(key, "the stored bytes' sha256 or size differs from the manifest"))
    return problems, notes
