"""Safe restore of a bundle into a destination folder (seed segC C2 `snapshot_restore.py`, fixed).

The seed ran a bare `tarfile.extractall(ROOT)`: a member named `../x` or `/etc/x`, or a symlink member,
wrote outside the workspace, and existing files were overwritten silently. Here the whole member list is
checked before anything is written; only regular files (and plain folders) with relative names and no
`..` are accepted; links, devices and FIFOs are refused; each target's real parent must lie inside DEST
(so a pre-existing symlinked folder cannot redirect a write); nothing existing is replaced without
`force`; each file is written atomically with mode 0644. The caller verifies the bundle first.
Pure module: no dagster import.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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


def restore_bundle(bundle_path: Path, dest: Path, *, force: bool = False) -> list[str]:
    """Extract a verified bundle into `dest`; returns the restored member names (refuses conflicts unless force)."""
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
            os.chmod(target, 0o644)
            restored.append(member.name)
    return restored
