"""The durable append-only RFC 9162 log: leaf hashes and perfect-subtree hashes on disk.

Why: the seed kept leaves in a JSONL and recomputed the whole tree on every request (segD §7.8 #11).
Here an append costs amortised O(1) hashes and proofs cost O(log^2 n) 32-byte reads, with no rebuild.

Layout of the log directory (`tlog/` in the workspace):

- `leaves.bin`          level 0: the 32-byte leaf hashes, in order. This is the log's content. Every
                        `append_batch` writes its leaves and fsyncs this file before returning (the ack).
- `levels/NN.bin`       level NN >= 1: hash of each complete aligned subtree of 2^NN leaves. A derived
                        index: rebuilt from the level below on open if a crash left it short, fsynced by
                        `sync()` (which `checkpoint` signing calls) so a signed tree head is never ahead
                        of its index.
- `.lock`               an advisory lock held by writers (`TransparencyLog.open(..., writer=True)`).

Leaves are never rewritten: the files are only ever appended to, and `open` refuses a level file
longer than the leaves justify (that would mean a rewrite or a foreign file), rather than "fixing" it.

Pure module: no dagster import.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from lumen_assets.tlog.merkle import (
    HASH_SIZE,
    consistency_path,
    inclusion_path,
    subtree_hash,
)

LEAVES_FILE = "leaves.bin"
LEVELS_DIR = "levels"


class LogCorruptError(RuntimeError):
    """The on-disk log is inconsistent in a way that recovery must not paper over."""


class TransparencyLog:
    """An RFC 9162 Merkle log stored in `directory`; see the module docstring for the layout."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / LEVELS_DIR).mkdir(exist_ok=True)
        self._fds: dict[int, int] = {}
        self._counts: list[int] = []
        self._tails: list[bytes | None] = []  # last stored hash per level (the pending left sibling)
        self._recover()

    # -- opening and recovery -------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def open(cls, directory: Path | str, writer: bool = False) -> Iterator[TransparencyLog]:
        """Open the log; a writer holds the directory's exclusive lock until the block ends."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        lock_handle = open(directory / ".lock", "a+") if writer else None
        try:
            if lock_handle is not None:
                fcntl.flock(lock_handle.fileno(), fcntl.LOCK_EX)
            log = cls(directory)
            try:
                yield log
            finally:
                log.close()
        finally:
            if lock_handle is not None:
                fcntl.flock(lock_handle.fileno(), fcntl.LOCK_UN)
                lock_handle.close()

    def _path(self, level: int) -> Path:
        if level == 0:
            return self.directory / LEAVES_FILE
        return self.directory / LEVELS_DIR / f"{level:02d}.bin"

    def _fd(self, level: int) -> int:
        fd = self._fds.get(level)
        if fd is None:
            fd = os.open(self._path(level), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            self._fds[level] = fd
        return fd

    def _recover(self) -> None:
        """Find the size from leaves.bin; drop a torn partial record; complete short level files."""
        leaves_path = self._path(0)
        raw = leaves_path.stat().st_size if leaves_path.exists() else 0
        if raw % HASH_SIZE:
            # A torn write of a batch that was never acknowledged (its fsync did not return).
            os.truncate(leaves_path, raw - raw % HASH_SIZE)
        size = raw // HASH_SIZE
        self._counts = [size]
        self._tails = [self._read(0, size - 1) if size else None]
        level = 1
        while (size >> level) > 0 or self._path(level).exists():
            expected = size >> level
            path = self._path(level)
            have = path.stat().st_size // HASH_SIZE if path.exists() else 0
            if path.exists() and path.stat().st_size % HASH_SIZE:
                os.truncate(path, have * HASH_SIZE)
            if have > expected:
                raise LogCorruptError(
                    f"{path}: {have} nodes but {size} leaves justify only {expected}; refusing to rewrite the log"
                )
            self._counts.append(have)
            if have < expected:
                self._complete_level(level, expected)
            self._tails.append(self._read(level, expected - 1) if expected else None)
            level += 1

    def _complete_level(self, level: int, expected: int) -> None:
        have = self._counts[level]
        below = self._read_range(level - 1, 2 * have, 2 * expected)
        parents = [
            _node(below[i : i + HASH_SIZE], below[i + HASH_SIZE : i + 2 * HASH_SIZE])
            for i in range(0, len(below), 2 * HASH_SIZE)
        ]
        os.write(self._fd(level), b"".join(parents))
        self._counts[level] = expected

    # -- reading ------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._counts[0]

    def _read(self, level: int, index: int) -> bytes:
        data = os.pread(self._fd(level), HASH_SIZE, index * HASH_SIZE)
        if len(data) != HASH_SIZE:
            raise LogCorruptError(f"{self._path(level)}: node {index} is missing")
        return data

    def _read_range(self, level: int, start: int, end: int) -> bytes:
        length = (end - start) * HASH_SIZE
        data = os.pread(self._fd(level), length, start * HASH_SIZE)
        if len(data) != length:
            raise LogCorruptError(f"{self._path(level)}: nodes {start}..{end} are missing")
        return data

    def perfect(self, level: int, index: int) -> bytes:
        """Hash of the aligned subtree of 2^level leaves starting at leaf index * 2^level."""
        if level >= len(self._counts) or index >= self._counts[level]:
            raise IndexError(f"no complete subtree at level {level} index {index} in a log of {self.size}")
        return self._read(level, index)

    def read_level(self, level: int, start: int, end: int) -> bytes:
        """Nodes [start, end) of tree level `level` (0 = leaf hashes), concatenated; the tiles are cut from here."""
        if level >= len(self._counts) or not 0 <= start <= end <= self._counts[level]:
            raise IndexError(f"no nodes {start}..{end} at level {level} in a log of {self.size}")
        return self._read_range(level, start, end) if end > start else b""

    def leaf_hash_at(self, index: int) -> bytes:
        return self.perfect(0, index)

    def root(self, tree_size: int | None = None) -> bytes:
        size = self.size if tree_size is None else tree_size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is beyond the log's {self.size} leaves")
        return subtree_hash(self, 0, size)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        size = self.size if tree_size is None else tree_size
        if size > self.size:
            raise ValueError(f"tree size {size} is beyond the log's {self.size} leaves")
        return inclusion_path(self, index, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        size = self.size if new_size is None else new_size
        if size > self.size:
            raise ValueError(f"tree size {size} is beyond the log's {self.size} leaves")
        return consistency_path(self, old_size, size)

    # -- appending ----------------------------------------------------------------------------------

    def append(self, entry: bytes) -> int:
        """Append one entry (its exact bytes become the leaf input); returns its leaf index."""
        return self.append_batch([entry]).start

    def append_batch(self, entries: Sequence[bytes], fsync: bool = True) -> range:
        """Leaf-hash and append entries; leaves.bin is fsynced before this returns (the acknowledgement)."""
        sha256 = hashlib.sha256
        return self.append_leaf_hashes([sha256(b"\x00" + e).digest() for e in entries], fsync=fsync)

    def append_leaf_hashes(self, leaf_hashes: Sequence[bytes], fsync: bool = True) -> range:
        """Append precomputed leaf hashes (each exactly 32 bytes), completing parents level by level."""
        if any(len(h) != HASH_SIZE for h in leaf_hashes):
            raise ValueError("every leaf hash must be 32 bytes")
        first = self.size
        new = list(leaf_hashes)
        level = 0
        sha256 = hashlib.sha256
        while new:
            if level == len(self._counts):
                self._counts.append(0)
                self._tails.append(None)
            count = self._counts[level]
            os.write(self._fd(level), b"".join(new))
            if count % 2:
                seq = [self._tails[level], *new]
            else:
                seq = new
            self._counts[level] = count + len(new)
            self._tails[level] = new[-1]
            new = [sha256(b"\x01" + seq[i] + seq[i + 1]).digest() for i in range(0, len(seq) - 1, 2)]
            if level == 0 and fsync:
                os.fsync(self._fd(0))
            level += 1
        return range(first, self.size)

    def sync(self) -> None:
        """fsync every level file (the derived index) and the directory, e.g. before signing a checkpoint."""
        for fd in self._fds.values():
            os.fsync(fd)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> TransparencyLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()
