"""SHA-256 of a whole file, the one way Lumen hashes one: `hashlib.file_digest` streams it in blocks.

Pure module: no dagster import.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_file_or_none(path: Path) -> str | None:
    """Hex SHA-256 of the file's bytes, or None when there is no such file."""
    return sha256_file(path) if path.is_file() else None


def prefix_unchanged(data: bytes, length: int, sha256_hex: str) -> bool:
    """True when `data` still begins with the `length` bytes an earlier read hashed to `sha256_hex`: the file
    was only appended to since, so an incremental reader may go on from `length`."""
    return 0 <= length <= len(data) and hashlib.sha256(memoryview(data)[:length]).hexdigest() == sha256_hex


def file_identity(path: Path) -> list[int]:
    """What tells a file's version apart without reading it (inode, size, mtime, ctime), for digest caches."""
    stat = path.stat()
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
