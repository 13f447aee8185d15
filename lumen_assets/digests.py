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
