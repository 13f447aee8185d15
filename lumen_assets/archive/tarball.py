"""Deterministic tar building that hashes exactly the bytes it puts in the bundle.

Seed segC C2 hashed the live files, then tarred them a moment later, so a growing `logs/metrics.csv`
made SHA256SUMS disagree with its own tarball. Here each file is opened once, its size fixed at open,
and the same bytes feed the tar stream and the file's sha256. Members are sorted, PAX format, with
mtime = the partition day, uid/gid 0, no owner names and mode 0644, so the same inputs give the same
bundle bytes. Pure module: no dagster import.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import lzma
import os
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lumen_assets.archive.manifest import FileEntry

BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
CHUNK = 1 << 20


class FreezeError(RuntimeError):
    """A source that cannot be frozen faithfully (vanished, shrank, not a regular file)."""


class Writer(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> object: ...


@dataclass(frozen=True)
class SourceSelection:
    """Files chosen for a bundle, and what was left out and why (never silently)."""

    files: list[str]
    skipped: list[tuple[str, str]]


def collect_sources(root: Path, patterns: Sequence[str], never: Sequence[str]) -> SourceSelection:
    """Workspace-relative regular files matching `patterns` (recursive globs), minus `never` globs.

    `never` holds folder prefixes such as `archive/` and `.dagster/` and any configured exclude globs:
    the archive never bundles itself or Dagster's storage. Symlinks are skipped and reported, so a
    bundle never follows a link out of the workspace. Names that are not UTF-8 are skipped and reported
    (the manifest and SHA256SUMS are UTF-8).
    """
    chosen: set[str] = set()
    skipped: dict[str, str] = {}
    root_real = root.resolve()
    for pattern in patterns:
        for rel in glob.glob(pattern, root_dir=root, recursive=True):
            rel = Path(rel).as_posix()
            if any(_excluded(rel, rule) for rule in never):
                continue
            full = root / rel
            if full.is_symlink():
                skipped[rel] = "symlink"
            elif not full.resolve().is_relative_to(root_real):
                skipped[rel] = "outside the workspace (through a symlinked folder)"
            elif not _utf8(rel):
                skipped[rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")] = "file name is not UTF-8"
            elif full.is_file():
                chosen.add(rel)
    return SourceSelection(sorted(chosen), sorted(skipped.items()))


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _excluded(rel: str, rule: str) -> bool:
    if rule.endswith("/"):
        return rel == rule[:-1] or rel.startswith(rule)
    return fnmatch.fnmatchcase(rel, rule)


def member_info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    """A normalised regular-file header: the same name and size always give the same bytes."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def write_tar(
    root: Path,
    files: Iterable[str],
    out: Writer,
    *,
    mtime: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> list[FileEntry]:
    """Stream a deterministic PAX tar of `files` (sorted by the caller) into `out`; return per-file hashes."""
    entries = []
    direct = hasattr(out, "reserve") and hasattr(out, "commit")
    buffer = bytearray(0 if direct else CHUNK)
    view = memoryview(buffer)
    written = 0
    for rel in files:
        try:
            handle = open(root / rel, "rb")
        except FileNotFoundError:
            raise FreezeError(f"{rel}: vanished before it could be frozen") from None
        with handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise FreezeError(f"{rel}: not a regular file")
            size = status.st_size
            out.write(member_info(rel, size, mtime).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            digest = hashlib.sha256()
            remaining = size
            while remaining:
                if direct:  # read straight into the pipeline's buffer: one copy, hashed where it lies
                    with out.reserve() as space:  # type: ignore[attr-defined]
                        target = space[: min(len(space), remaining)]
                        count = handle.readinto(target)
                        if count:
                            digest.update(target[:count])
                        target.release()
                    if count:
                        out.commit(count)  # type: ignore[attr-defined]
                else:
                    count = handle.readinto(view[: min(CHUNK, remaining)])
                    if count:
                        chunk = view[:count]
                        digest.update(chunk)
                        out.write(chunk)
                if not count:
                    raise FreezeError(f"{rel}: shrank while being frozen ({size - remaining} of {size} bytes)")
                remaining -= count
            padding = -size % BLOCK
            if padding:
                out.write(bytes(padding))
            written += size
            if on_progress:
                on_progress(written)
        entries.append(FileEntry(rel, size, digest.hexdigest()))
    return entries


def end_of_archive(count: int) -> bytes:
    """The two zero blocks that end a tar, padded so `count` + them is a whole record (as GNU tar does)."""
    return bytes(2 * BLOCK + (-(count + 2 * BLOCK) % RECORD))


class TarFinisher:
    """Counts tar bytes so the end-of-archive blocks pad the stream to a whole record, as GNU tar does."""

    def __init__(self, out: Writer) -> None:
        self.out = out
        self.count = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out.write(data)
        self.count += len(data)

    def finish(self) -> None:
        self.write(bytes(2 * BLOCK))
        remainder = self.count % RECORD
        if remainder:
            self.write(bytes(RECORD - remainder))


class Compressor:
    """Optional gz/xz between the tar stream and the bundle file; deterministic (gzip header mtime 0)."""

    def __init__(self, kind: str, out: Writer) -> None:
        self.out = out
        if kind == "gz":
            self._engine = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip wrapper, mtime 0, no name
        elif kind == "xz":
            self._engine = lzma.LZMACompressor(format=lzma.FORMAT_XZ)
        elif kind == "none":
            self._engine = None
        else:
            raise ValueError(f"unknown compression {kind!r}")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._engine is None:
            self.out.write(data)
        else:
            compressed = self._engine.compress(data)
            if compressed:
                self.out.write(compressed)

    def finish(self) -> None:
        if self._engine is not None:
            tail = self._engine.flush()
            if tail:
                self.out.write(tail)


BUNDLE_NAMES = {"none": "bundle.tar", "gz": "bundle.tar.gz", "xz": "bundle.tar.xz"}
