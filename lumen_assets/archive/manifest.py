"""The bundle's self-description: `snapshot.manifest.json`, `SHA256SUMS.txt` and the Merkle root of its files.

Seed segC C2: the manifest keeps the seed's keys (`label`, `created_at`, `sources`, `hash.algo`,
`hash.values`) and adds, per file, size and sha256, plus an RFC 9162 Merkle root whose leaves bind each
file's *name* and hash (the seed's tree, segC C11, hashed bare file digests without domain separation).
A leaf entry is the file's `SHA256SUMS.txt` line, so the sums file and the root describe the same thing.

Paths are the tar member names (workspace-relative), so `sha256sum -c SHA256SUMS.txt` works both in an
extracted bundle and, as in the seed, at the workspace root. Pure module: no dagster import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lumen_assets.tlog.merkle import merkle_root

FORMAT = "lumen-archive/1"
MANIFEST_NAME = "snapshot.manifest.json"
SUMS_NAME = "SHA256SUMS.txt"
MERKLE_ALGORITHM = "RFC9162-SHA256"
MERKLE_LEAF = "SHA256SUMS line (utf-8), files in sorted order"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest or sums file that does not parse; the message names the file and the key or line."""


@dataclass(frozen=True)
class FileEntry:
    """One frozen file: its member name, byte size and the sha256 of the bytes that went into the tar."""

    path: str
    size: int
    sha256: str


def _escape(path: str) -> tuple[str, bool]:
    """GNU coreutils escaping for names with backslash, newline or CR (the line then starts with '\\')."""
    if not any(c in path for c in "\\\n\r"):
        return path, False
    return path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r"), True


def _unescape(path: str) -> str:
    out, i = [], 0
    while i < len(path):
        c = path[i]
        if c == "\\" and i + 1 < len(path):
            nxt = path[i + 1]
            out.append({"\\": "\\", "n": "\n", "r": "\r"}.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def sums_line(entry: FileEntry) -> str:
    """`<sha256>  <path>\\n`, as `sha256sum` writes it."""
    name, escaped = _escape(entry.path)
    prefix = "\\" if escaped else ""
    return f"{prefix}{entry.sha256}  {name}\n"


def render_sums(entries: Sequence[FileEntry]) -> str:
    return "".join(sums_line(e) for e in entries)


def parse_sums(text: str, source: str = SUMS_NAME) -> list[tuple[str, str]]:
    """(sha256, path) per line; a malformed line is an error naming its line number."""
    rows = []
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        escaped = line.startswith("\\")
        body = line[1:] if escaped else line
        digest, sep, name = body.partition("  ")
        if not sep or not _HEX64.match(digest) or not name:
            raise ManifestError(f"{source}:{line_no}: not a '<sha256>  <path>' line")
        rows.append((digest, _unescape(name) if escaped else name))
    return rows


def merkle_entries(entries: Sequence[FileEntry]) -> list[bytes]:
    return [sums_line(e).encode("utf-8", "surrogateescape") for e in entries]


def files_merkle_root(entries: Sequence[FileEntry]) -> str:
    """RFC 9162 Merkle tree head over the files' sums lines, hex (SHA-256("") for an empty bundle)."""
    return merkle_root(merkle_entries(entries)).hex()


def build_manifest(
    *,
    label: str,
    created_at: str,
    day: str,
    entries: Sequence[FileEntry],
    bundle: dict[str, Any],
    encrypted: dict[str, Any] | None,
) -> dict[str, Any]:
    """The manifest dict: the seed's keys first, then Lumen's."""
    return {
        "label": label,
        "created_at": created_at,
        "sources": [e.path for e in entries],
        "hash": {"algo": "sha256", "values": {e.path: e.sha256 for e in entries}},
        "format": FORMAT,
        "day": day,
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries],
        "merkle": {
            "algorithm": MERKLE_ALGORITHM,
            "leaf": MERKLE_LEAF,
            "size": len(entries),
            "root": files_merkle_root(entries),
        },
        "bundle": bundle,
        "encrypted": encrypted,
    }


def render_manifest(manifest: dict[str, Any]) -> str:
    """UTF-8 JSON, Korean unescaped, indent 2 (seed segC C2)."""
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    if key not in data:
        raise ManifestError(f"{source}: missing key '{key}'")
    if not isinstance(data[key], kind):
        raise ManifestError(f"{source}: key '{key}' has the wrong type")
    return data[key]


def parse_manifest(text: str, source: str = MANIFEST_NAME) -> tuple[dict[str, Any], list[FileEntry]]:
    """Validate a manifest's shape; returns the dict and its file entries."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{source}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: expected a JSON object")
    if _require(data, "format", str, source) != FORMAT:
        raise ManifestError(f"{source}: key 'format': unsupported {data['format']!r}")
    _require(data, "day", str, source)
    files = _require(data, "files", list, source)
    entries = []
    for i, item in enumerate(files):
        where = f"{source}: files[{i}]"
        if not isinstance(item, dict):
            raise ManifestError(f"{where}: expected an object")
        path, size, digest = item.get("path"), item.get("size"), item.get("sha256")
        if not isinstance(path, str) or not path:
            raise ManifestError(f"{where}.path: expected a non-empty string")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"{where}.size: expected a non-negative integer")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise ManifestError(f"{where}.sha256: expected 64 lowercase hex digits")
        entries.append(FileEntry(path, size, digest))
    merkle = _require(data, "merkle", dict, source)
    if not isinstance(merkle.get("root"), str):
        raise ManifestError(f"{source}: key 'merkle.root' missing")
    bundle = _require(data, "bundle", dict, source)
    for key in ("name", "size", "sha256"):
        if key not in bundle:
            raise ManifestError(f"{source}: key 'bundle.{key}' missing")
    encrypted = data.get("encrypted")
    if encrypted is not None:
        if not isinstance(encrypted, dict) or any(k not in encrypted for k in ("name", "size", "sha256")):
            raise ManifestError(f"{source}: key 'encrypted' needs name, size and sha256")
    if bundle["sha256"] is None and encrypted is None:  # only a sealed-only bundle has no plaintext digest
        raise ManifestError(f"{source}: key 'bundle.sha256' is null but the bundle is not encrypted")
    _require(data, "hash", dict, source)
    _require(data, "sources", list, source)
    return data, entries
