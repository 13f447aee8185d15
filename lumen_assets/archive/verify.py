"""Verify a frozen day against itself: manifest, SHA256SUMS, Merkle root, the tar's members, the encrypted copy.

Seed segC C2 `snapshot_verify.py` hashed the *live workspace* (so any log appended after the freeze
"failed") and never opened the tarball. Here every check reads the archive: the manifest against its
anchor in `archive/index.jsonl`, SHA256SUMS against the manifest byte for byte, the Merkle root recomputed,
each tar member re-hashed, the bundle's and the encrypted file's own digests, and (with the key) the
encrypted file decrypted and compared with the bundle. Every problem names the file that failed.
Pure module: no dagster import.
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from lumen_assets.archive.encryption import EncryptionError, iter_decrypt
from lumen_assets.archive.manifest import (
    MANIFEST_NAME,
    SUMS_NAME,
    FileEntry,
    ManifestError,
    files_merkle_root,
    parse_manifest,
    parse_sums,
    render_sums,
)
from lumen_assets.archive.restore import unsafe_reason

READ_CHUNK = 1 << 20
INDEX_FILE = "archive/index.jsonl"
TAR_MODES = {"none": "r|", "gz": "r|gz", "xz": "r|xz"}


@dataclass(frozen=True)
class Problem:
    """One failed check: the file (or object, or member) and what is wrong with it."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass
class VerifyReport:
    day: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, name: str, reason: str) -> None:
        self.problems.append(Problem(name, reason))


class HashingReader:
    """A read-only stream that hashes and counts everything read through it."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(READ_CHUNK):
            pass


def check_tar(source: BinaryIO, compression: str, entries: list[FileEntry], name: str, report: VerifyReport) -> None:
    """Stream the tar once: every member must be a safe regular file matching the manifest, in order."""
    expected = {e.path: e for e in entries}
    seen: list[str] = []
    try:
        with tarfile.open(fileobj=source, mode=TAR_MODES[compression]) as archive:
            for member in archive:
                reason = unsafe_reason(member)
                if reason:
                    report.fail(member.name, f"unsafe tar member ({reason})")
                    continue
                entry = expected.get(member.name)
                if entry is None:
                    report.fail(member.name, "in the bundle but not in the manifest")
                    continue
                seen.append(member.name)
                if member.size != entry.size:
                    report.fail(member.name, f"size {member.size} in the bundle, {entry.size} in the manifest")
                    continue
                extracted = archive.extractfile(member)
                assert extracted is not None
                if hashlib.file_digest(extracted, "sha256").hexdigest() != entry.sha256:
                    report.fail(member.name, "sha256 of the bundled bytes differs from the manifest")
    except Exception as exc:  # TarError, EOFError, zlib/lzma errors: a broken bundle is a finding, not a crash
        report.fail(name, f"not a readable tar ({type(exc).__name__}: {exc})")
        return
    for path in sorted(set(expected) - set(seen)):
        report.fail(path, "in the manifest but missing from the bundle")
    if seen != sorted(seen) or len(seen) != len(set(seen)):
        report.fail(name, "members are not in sorted, unique order")


def check_decrypts_to(source: BinaryIO, secret: str, bundle_sha256: str | None, bundle_size: int) -> str | None:
    """None when the encrypted stream authenticates and decrypts to the bundle's bytes, else why not."""
    digest, size = hashlib.sha256(), 0
    try:
        for chunk in iter_decrypt(source, secret):
            digest.update(chunk)
            size += len(chunk)
    except EncryptionError as exc:
        return str(exc)
    if size != bundle_size or (bundle_sha256 is not None and digest.hexdigest() != bundle_sha256):
        return "decrypts to bytes that differ from the bundle"
    return None


class DecryptingReader:
    """The plaintext of a sealed stream as a readable stream, hashed and counted as it is read. An
    authentication failure is kept in `error` (and raised to the reader), so a caller can name the file."""

    def __init__(self, source: BinaryIO, secret: str, *, hash_plaintext: bool = True) -> None:
        self._segments = iter_decrypt(source, secret)
        self._pending = memoryview(b"")
        # a sealed-only bundle has no plaintext digest to compare with (AES-GCM authenticates every byte and
        # each member is hashed against the manifest): skipping it saves a third of verify's SHA-256 work
        self.digest = hashlib.sha256() if hash_plaintext else None
        self.size = 0
        self.error: EncryptionError | None = None

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size is not None and size >= 0 else None
        while wanted is None or wanted > 0:
            if not len(self._pending):
                try:
                    segment = next(self._segments, None)
                except EncryptionError as exc:
                    self.error = exc
                    raise
                if segment is None:
                    break
                if self.digest is not None:
                    self.digest.update(segment)
                self.size += len(segment)
                self._pending = memoryview(segment)
            take = len(self._pending) if wanted is None else min(wanted, len(self._pending))
            parts.append(bytes(self._pending[:take]))
            self._pending = self._pending[take:]
            if wanted is not None:
                wanted -= take
        return b"".join(parts)

    def drain(self) -> None:
        while self.read(READ_CHUNK):
            pass


def check_sealed_tar(source: BinaryIO, secret: str, manifest: dict[str, Any], entries: list[FileEntry],
                     report: VerifyReport) -> None:
    """Decrypt the stored copy once, streaming: the tar inside is checked member by member, its digest
    compared with the manifest's bundle line. Any authentication failure is the encrypted file's problem."""
    bundle, name = manifest["bundle"], manifest["encrypted"]["name"]
    plain = DecryptingReader(source, secret, hash_plaintext=bundle["sha256"] is not None)
    before = len(report.problems)
    try:
        check_tar(plain, bundle.get("compression", "none"), entries, bundle["name"], report)  # type: ignore[arg-type]
        plain.drain()
    except EncryptionError:
        pass
    if plain.error is not None:  # what the tar check said about a cut or forged stream is noise: name the cause
        del report.problems[before:]
        report.fail(name, str(plain.error))
    elif plain.size != bundle["size"] or (plain.digest is not None and plain.digest.hexdigest() != bundle["sha256"]):
        report.fail(name, "decrypts to bytes that differ from the manifest's bundle sha256 or size")


def verify_day(day_dir: Path, index_record: dict[str, Any] | None, secret: str | None = None) -> VerifyReport:
    """All local checks for one day's folder; `index_record` is the day's line of archive/index.jsonl."""
    report = VerifyReport(day=day_dir.name)
    manifest_path = day_dir / MANIFEST_NAME
    if not manifest_path.exists():
        report.fail(MANIFEST_NAME, "missing")
        return report
    manifest_bytes = manifest_path.read_bytes()
    if index_record is None:
        report.fail(MANIFEST_NAME, "the day has no line in archive/index.jsonl to anchor it")
    elif hashlib.sha256(manifest_bytes).hexdigest() != index_record.get("manifest_sha256"):
        report.fail(MANIFEST_NAME, "sha256 differs from the one recorded in archive/index.jsonl")
    try:
        manifest, entries = parse_manifest(manifest_bytes.decode("utf-8"), str(manifest_path))
    except (ManifestError, UnicodeDecodeError) as exc:
        report.fail(MANIFEST_NAME, f"unreadable ({exc})")
        return report
    report.manifest = manifest
    report.files = len(entries)
    if manifest["day"] != day_dir.name:
        report.fail(MANIFEST_NAME, f"says day {manifest['day']}, folder is {day_dir.name}")
    if manifest["hash"].get("values") != {e.path: e.sha256 for e in entries} or manifest["sources"] != [e.path for e in entries]:
        report.fail(MANIFEST_NAME, "hash.values / sources disagree with files")
    if [e.path for e in entries] != sorted({e.path for e in entries}):
        report.fail(MANIFEST_NAME, "files are not sorted and unique")
    if files_merkle_root(entries) != manifest["merkle"]["root"] or manifest["merkle"].get("size") != len(entries):
        report.fail(MANIFEST_NAME, "Merkle root does not match the files")
    if index_record is not None:
        _check_index_record(index_record, manifest, entries, report)
    _check_sums(day_dir, entries, report)

    bundle = manifest["bundle"]
    encrypted = manifest.get("encrypted")
    # with encryption on only the sealed copy is kept; its tar is checked through decryption
    bundle_kept = not encrypted or (Path(bundle["name"]).name == bundle["name"] and (day_dir / bundle["name"]).exists())
    if bundle_kept:
        bundle_path = _listed_file(day_dir, bundle["name"], "bundle", report)
        if bundle_path is not None:
            with open(bundle_path, "rb") as handle:
                reader = HashingReader(handle)
                check_tar(reader, bundle.get("compression", "none"), entries, bundle["name"], report)  # type: ignore[arg-type]
                reader.drain()
            if reader.digest.hexdigest() != bundle["sha256"] or reader.size != bundle["size"]:
                report.fail(bundle["name"], "sha256 or size differs from the manifest")

    if encrypted:
        enc_path = _listed_file(day_dir, encrypted["name"], "encrypted", report)
        if enc_path is not None:
            with open(enc_path, "rb") as handle:
                reader = HashingReader(handle)
                if secret and bundle_kept:
                    why = check_decrypts_to(reader, secret, bundle["sha256"], bundle["size"])
                    if why:
                        report.fail(encrypted["name"], why)
                elif secret:
                    check_sealed_tar(reader, secret, manifest, entries, report)
                else:
                    report.notes.append(f"{encrypted['name']}: not decrypted (no archive key in the environment)"
                                        + ("" if bundle_kept else "; the bundle's members were not checked"))
                reader.drain()
            if reader.digest.hexdigest() != encrypted["sha256"] or reader.size != encrypted["size"]:
                report.fail(encrypted["name"], "sha256 or size differs from the manifest")
    return report


def _check_index_record(record: dict[str, Any], manifest: dict[str, Any], entries: list[FileEntry],
                        report: VerifyReport) -> None:
    """The day's line in archive/index.jsonl must say what its manifest says (issue 13: an edited
    `merkle_root` there used to pass, as only `manifest_sha256` was compared)."""
    encrypted = manifest.get("encrypted") or {}
    stored = encrypted or manifest["bundle"]
    expected = {
        "date": manifest["day"],
        "merkle_root": manifest["merkle"]["root"],
        "bundle_sha256": manifest["bundle"]["sha256"],
        "stored": stored.get("name"),
        "stored_sha256": stored.get("sha256"),
        "files": len(entries),
        "bytes": sum(e.size for e in entries),
    }
    for key, value in expected.items():
        if key in record and record[key] != value:
            report.fail(INDEX_FILE, f"line for {manifest['day']}: {key} is {record[key]!r}, the manifest says {value!r}")
    missing = sorted(set(expected) - set(record) - {"stored", "stored_sha256", "bundle_sha256", "bytes"})
    if missing:
        report.fail(INDEX_FILE, f"line for {manifest['day']}: missing {', '.join(missing)}")


def _listed_file(day_dir: Path, name: str, role: str, report: VerifyReport) -> Path | None:
    """The day folder's file a manifest names, or None (failure recorded) when the name is not a plain
    file name (a tampered manifest must not point outside the folder) or the file is missing."""
    if Path(name).name != name:
        report.fail(MANIFEST_NAME, f"{role} name {name!r} is not a plain file name")
        return None
    path = day_dir / name
    if not path.exists():
        report.fail(name, "missing")
        return None
    return path


def _check_sums(day_dir: Path, entries: list[FileEntry], report: VerifyReport) -> None:
    sums_path = day_dir / SUMS_NAME
    if not sums_path.exists():
        report.fail(SUMS_NAME, "missing")
        return
    actual = sums_path.read_bytes()
    expected = render_sums(entries).encode("utf-8", "surrogateescape")
    if actual == expected:
        return
    try:
        rows = parse_sums(actual.decode("utf-8"), str(sums_path))
    except (ManifestError, UnicodeDecodeError) as exc:
        report.fail(SUMS_NAME, f"unreadable ({exc})")
        return
    by_path = {e.path: e.sha256 for e in entries}
    for digest, path in rows:
        if by_path.get(path) != digest:
            report.fail(SUMS_NAME, f"line for {path!r} disagrees with the manifest")
            return
    report.fail(SUMS_NAME, "differs from the manifest's file list")
