"""Tailing an append-only JSONL file with a durable cursor (byte offset plus file identity).

The cursor survives restarts as JSON. A half-written last line is left for a later tick; a file that was
truncated, replaced (rotation: new inode) or rewritten in place (its first bytes changed) is read again
from the start. Each call reads at most `max_bytes` and `max_lines`, so one tick stays bounded however
much was appended.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

HEAD_BYTES = 256


@dataclass
class TailCursor:
    offset: int = 0
    line_no: int = 0  # lines consumed so far (the next line is line_no + 1)
    inode: int = 0
    device: int = 0
    head_len: int = 0  # how many leading bytes head_sha256 covers (up to HEAD_BYTES)
    head_sha256: str = ""  # hash of the file's first head_len bytes, to notice an in-place rewrite
    pending: list[list] = field(default_factory=list)  # [event_id, due_ns, actor, rule] not yet run

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> TailCursor:
        if not text:
            return cls()
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return cls()  # an unreadable cursor means starting over; run keys prevent duplicate runs


@dataclass(frozen=True)
class TailRead:
    lines: list[tuple[int, str]]  # (line number, text) of complete lines
    cursor: TailCursor
    reset_reason: str | None  # "truncated", "rotated", "rewritten" or None
    more: bool  # True when complete lines remain beyond this batch


def _head_hash(handle, length: int) -> str:
    handle.seek(0)
    return hashlib.sha256(handle.read(min(length, HEAD_BYTES))).hexdigest()


def reset_reason(handle, stat: os.stat_result, cursor: TailCursor) -> str | None:
    """Why the file behind `cursor` must be read again from the start: "rotated" (another file under the
    name), "truncated" (shorter than the offset) or "rewritten" (its first bytes changed); None if not."""
    if cursor.inode and (stat.st_ino, stat.st_dev) != (cursor.inode, cursor.device):
        return "rotated"
    if stat.st_size < cursor.offset:
        return "truncated"
    if cursor.head_len and _head_hash(handle, cursor.head_len) != cursor.head_sha256:
        return "rewritten"
    return None


def read_new_lines(path: Path | str, cursor: TailCursor, max_bytes: int, max_lines: int) -> TailRead:
    """Complete lines appended since `cursor`, and the cursor to store after handling them."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return TailRead([], cursor, None, False)
    next_cursor = TailCursor(**asdict(cursor))
    with open(path, "rb") as handle:
        reset = reset_reason(handle, stat, cursor)
        if reset:
            next_cursor.offset, next_cursor.line_no, next_cursor.head_len, next_cursor.head_sha256 = 0, 0, 0, ""
        next_cursor.inode, next_cursor.device = stat.st_ino, stat.st_dev
        handle.seek(next_cursor.offset)
        chunk = handle.read(max_bytes)
        complete_end = chunk.rfind(b"\n") + 1
        if complete_end == 0 and len(chunk) == max_bytes and chunk:
            raise ValueError(f"{path}: a line at byte {next_cursor.offset} is longer than {max_bytes} bytes")
        raw_lines = chunk[:complete_end].split(b"\n")[:-1] if complete_end else []
        taken = raw_lines[:max_lines]
        consumed = sum(len(line) + 1 for line in taken)
        lines = [
            (next_cursor.line_no + i + 1, line.decode("utf-8", errors="replace"))
            for i, line in enumerate(taken)
        ]
        more = len(raw_lines) > len(taken) or (len(chunk) == max_bytes and next_cursor.offset + complete_end < stat.st_size)
        next_cursor.offset += consumed
        next_cursor.line_no += len(taken)
        if next_cursor.head_len < min(next_cursor.offset, HEAD_BYTES):
            next_cursor.head_len = min(next_cursor.offset, HEAD_BYTES)
            next_cursor.head_sha256 = _head_hash(handle, next_cursor.head_len)
    return TailRead(lines, next_cursor, reset, more)


def last_line_timestamp(path: Path | str, max_bytes: int = 4096) -> str | None:
    """The first field of the last complete line (the newest metrics row's ts), read from the file's end."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    with open(path, "rb") as handle:
        handle.seek(max(0, size - max_bytes))
        tail = handle.read()
    lines = [line for line in tail.split(b"\n") if line.strip()]
    if not tail.endswith(b"\n") and lines:
        lines = lines[:-1]  # still being written
    if not lines:
        return None
    return lines[-1].split(b",", 1)[0].decode("utf-8", errors="replace").strip()


def file_identity(path: Path | str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_dev
