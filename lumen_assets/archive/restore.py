"""Safe restore of a bundle into a destination folder (seed segC C2 `snapshot_restore.py`, fixed).

The seed ran a bare `tarfile.extractall(ROOT)`: a member named `../x` or `/etc/x`, or a symlink member,
wrote outside the workspace, and existing files were overwritten silently. Here the whole member list is
checked before anything is written; only regular files (and plain folders) with relative names and no
`..` are accepted; links, devices and FIFOs are refused; each target's real parent must lie inside DEST
(so a pre-existing symlinked folder cannot redirect a write); nothing existing is replaced without
`force`; each file is written atomically with the archive's mode. The caller verifies the bundle first; from the
remote store (`fetch_verified_bundle`) the download is checked, decrypted and its members checked before any write.
Pure module: no dagster import.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from lumen_assets.atomic import atomic_open

READ_CHUNK = 1 << 20


class RestoreError(RuntimeError):
    """A restore that was refused before writing anything; the message names the offending member or file."""


def unsafe_reason(member: tarfile.TarInfo) -> str | None:
    """Why a member may not be extracted, or None when it is a plain relative file or folder."""
    name = member.name
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if name.startswith("/") or PurePosixPath(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if "\\" in name:
        return "backslash in name"
    if ".." in PurePosixPath(name).parts:
        return "'..' in path"
    if member.issym() or member.islnk():
        return "link"
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        return "device or fifo"
    if not (member.isreg() or member.isdir()):
        return f"unsupported member type {member.type!r}"
    return None


@dataclass(frozen=True)
class RestorePlan:
    files: list[str]
    conflicts: list[str]


def plan_restore(bundle_path: Path, dest: Path, mode: str = "r:*") -> RestorePlan:
    """Read the member list, refuse the bundle if any member is unsafe, and list files that already exist."""
    dest_real = dest.resolve()
    files, conflicts = [], []
    with tarfile.open(bundle_path, mode) as archive:
        for member in archive.getmembers():
            reason = unsafe_reason(member)
            if reason:
                raise RestoreError(f"refused: tar member {member.name!r} is unsafe ({reason}); nothing was written")
            if member.isdir():
                continue
            target = dest / member.name
            if not _inside(target.parent, dest_real):
                raise RestoreError(f"refused: {member.name!r} would be written outside {dest} through a link")
            if target.exists() or target.is_symlink():
                conflicts.append(member.name)
            files.append(member.name)
    if len(files) != len(set(files)):
        raise RestoreError("refused: the bundle holds the same path twice")
    return RestorePlan(files, conflicts)


def _inside(path: Path, root_real: Path) -> bool:
    """True when `path`'s existing ancestors resolve inside `root_real` (symlinks followed)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        probe.resolve().relative_to(root_real)
    except ValueError:
        return False
    return True


def restore_bundle(bundle_path: Path, dest: Path, *, force: bool = False, mode: int = 0o644) -> list[str]:
    """Extract a verified bundle into `dest`; returns the restored member names (refuses conflicts unless force).
    Files get `mode` (the caller passes the archive's, so a 0600 bundle never restores as 0644)."""
    dest.mkdir(parents=True, exist_ok=True)
    plan = plan_restore(bundle_path, dest)
    if plan.conflicts and not force:
        shown = ", ".join(plan.conflicts[:10]) + (" ..." if len(plan.conflicts) > 10 else "")
        raise RestoreError(f"refused: {len(plan.conflicts)} file(s) already exist in {dest} ({shown}); use --force")
    dest_real = dest.resolve()
    restored = []
    with tarfile.open(bundle_path, "r:*") as archive:
        for member in archive:
            if member.isdir():
                continue
            target = dest / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _inside(target.parent, dest_real):  # re-checked: the folder may have changed since planning
                raise RestoreError(f"refused: {member.name!r} would be written outside {dest} through a link")
            if target.is_symlink():
                target.unlink()  # only reached with force: replace the link itself, never write through it
            source = archive.extractfile(member)
            assert source is not None
            with atomic_open(target, "wb") as handle:
                while chunk := source.read(READ_CHUNK):
                    handle.write(chunk)
            os.chmod(target, mode)
            restored.append(member.name)
    return restored


# ----------------------------------------------------------------------------------- from the remote store


@dataclass(frozen=True)
class RemoteAnchor:
    """What a downloaded copy must match, and where that came from. The day's line in the local
    archive/index.jsonl is the anchor when it survives; otherwise only the object's own metadata is left
    (then an encrypted copy is still authenticated by AES-GCM with the key, a plaintext one by nothing more
    than the store's word: the restore says which)."""

    key: str
    stored_sha256: str
    merkle_root: str | None
    source: str  # "archive/index.jsonl" or "object metadata"


def remote_anchor(index_record: dict[str, Any] | None, metadata: dict[str, str], key: str) -> RemoteAnchor:
    from lumen_assets.archive.remote import META_MERKLE, META_STORED

    if index_record and index_record.get("stored_sha256"):
        return RemoteAnchor(key, index_record["stored_sha256"], index_record.get("merkle_root"), "archive/index.jsonl")
    stored = metadata.get(META_STORED)
    if not stored:
        raise RestoreError(f"refused: {key} has no {META_STORED} metadata and the day has no line in "
                           "archive/index.jsonl, so nothing anchors the download")
    return RemoteAnchor(key, stored, metadata.get(META_MERKLE), "object metadata")


def fetch_verified_bundle(store: Any, anchor: RemoteAnchor, secret: str | None, workdir: Path) -> Path:
    """Download `anchor.key` into the private `workdir`, check its sha256, decrypt it (AES-GCM
    authenticates every byte) when it is a sealed copy, and check the tar inside: every member safe, the
    Merkle root of the members' digests equal to the anchor's. Returns the verified plaintext bundle (in
    `workdir`, 0600); raises RestoreError naming what failed. Nothing outside `workdir` is written."""
    from lumen_assets.archive.encryption import EncryptionError, iter_decrypt
    from lumen_assets.archive.freeze import ENCRYPTED_SUFFIX
    from lumen_assets.archive.manifest import FileEntry, files_merkle_root

    name = anchor.key.rsplit("/", 1)[-1]
    downloaded = workdir / name
    digest, size = hashlib.sha256(), 0
    with store.open(anchor.key) as body, _private(downloaded) as out:
        while chunk := body.read(READ_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    if digest.hexdigest() != anchor.stored_sha256:
        raise RestoreError(f"refused: {anchor.key}: the downloaded bytes' sha256 {digest.hexdigest()} differs from "
                           f"{anchor.stored_sha256} ({anchor.source}); nothing was written")
    bundle = downloaded
    if name.endswith(ENCRYPTED_SUFFIX):
        if not secret:
            raise RestoreError(f"refused: {anchor.key} is encrypted and the archive key is not in the environment")
        bundle = workdir / name[: -len(ENCRYPTED_SUFFIX)]
        try:
            with open(downloaded, "rb") as sealed, _private(bundle) as out:
                for segment in iter_decrypt(sealed, secret):
                    out.write(segment)
        except EncryptionError as exc:
            raise RestoreError(f"refused: {anchor.key}: {exc}; nothing was written") from None
        downloaded.unlink()
    entries = []
    try:
        with tarfile.open(bundle, "r:*") as archive:
            for member in archive:
                reason = unsafe_reason(member)
                if reason:
                    raise RestoreError(f"refused: tar member {member.name!r} is unsafe ({reason}); nothing was written")
                if member.isreg():
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    entries.append(FileEntry(member.name, member.size, hashlib.file_digest(extracted, "sha256").hexdigest()))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise RestoreError(f"refused: {anchor.key} is not a readable tar ({exc}); nothing was written") from None
    if anchor.merkle_root is not None and files_merkle_root(entries) != anchor.merkle_root:
        raise RestoreError(f"refused: {anchor.key}: the members' Merkle root differs from {anchor.merkle_root} "
                           f"({anchor.source}); nothing was written")
    return bundle


@contextmanager
def _private(path: Path) -> Iterator[BinaryIO]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        yield handle
