"""The log's own audit: recompute everything from the leaf data and name the first inconsistency.

Why (issue 13 §1): `lumen verify` used to trust the log's derived files. A flipped byte in `levels/01.bin`,
an edited or garbage line of `entries.jsonl`, a forged signature on an old checkpoint, an unsigned leaf
appended to `leaves.bin`, or `checkpoint` rolled back to an older signed one all passed. An auditor
recomputes instead, in this order, and stops at the first finding (file, index/offset, expected vs found):

 1. leaves.bin       a whole number of 32-byte leaf hashes
 2. checkpoints      every signed note (history, `checkpoint`, any from outside) verifies with the pinned log
                     key and origin; history file names are their sizes; no two differ at one size (fork);
                     `checkpoint` is the newest signed one (else: rolled back)
 3. pending          no leaf beyond the newest signed checkpoint unless `pending.json` marks it
 4. entry data       every leaf hash recomputes from its entry in `tile/entries/` (RFC 9162 leaf hash)
 5. levels           every stored node of `levels/NN.bin` is the hash of its two children
 6. roots            every checkpoint's root is the root of that many leaves; each is consistent with the
                     next by an RFC 9162 consistency proof
 7. entries.jsonl    one well-formed line per leaf, in order, with that leaf's hash; an envelope's line names
                     a subject of the logged envelope
 8. tiles            every published tile equals the index; every tile the newest checkpoint needs exists

`audit_increment` runs the same checks on just the leaves one append added (the trust run's asset checks).

Pure module: no dagster import.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumen_assets.jsonl import iter_jsonl
from lumen_assets.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from lumen_assets.tlog.log import LEAVES_FILE, LEVELS_DIR, TransparencyLog
from lumen_assets.tlog.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_path,
    leaf_hash,
    subtree_hash,
    verify_consistency,
)
from lumen_assets.tlog.publish import CHECKPOINT_FILE, ENTRIES_FILE, HISTORY_DIR, PENDING_FILE
from lumen_assets.tlog.tiles import (
    ENTRIES,
    TILE_DIR,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileError,
    decode_bundle,
    parse_tile_path,
    read_bundle,
    tile_path,
    tiles_for_size,
)


@dataclass(frozen=True)
class Finding:
    """One inconsistency: which file, where in it, what is wrong, and what was expected vs found."""

    file: str
    where: str
    cause: str
    expected: str = ""
    found: str = ""

    def __str__(self) -> str:
        text = self.file + (f" {self.where}" if self.where else "") + f": {self.cause}"
        if self.expected or self.found:
            text += f" (expected {self.expected}, found {self.found})"
        return text


class AuditError(Exception):
    """The audit's first finding."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(str(finding))
        self.finding = finding


@dataclass(frozen=True)
class SeenCheckpoint:
    """A signed checkpoint the audit verified, and where it came from."""

    source: str
    note: str
    checkpoint: Checkpoint


@dataclass
class AuditReport:
    leaves: int
    checkpoints: list[SeenCheckpoint]
    newest: SeenCheckpoint | None
    pending: int
    entries: int
    tiles: int
    levels: list[bytes] = field(repr=False, default_factory=list)

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def root_at(self, tree_size: int) -> bytes:
        return subtree_hash(self, 0, tree_size) if tree_size else EMPTY_ROOT

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return consistency_path(self, old_size, new_size)

    def summary(self) -> str:
        newest = f"newest signed checkpoint size {self.newest.checkpoint.tree_size} ({self.newest.source})" \
            if self.newest else "no checkpoint yet"
        sizes = len({item.checkpoint.tree_size for item in self.checkpoints})
        return (f"{self.leaves} leaves recomputed from their entries, {sizes} signed tree sizes "
                f"consistent, {newest}, {self.entries} entries.jsonl lines, {self.tiles} tiles match"
                + (f", {self.pending} pending leaves" if self.pending else ""))


def _fail(file: str, where: str, cause: str, expected: object = "", found: object = "") -> AuditError:
    return AuditError(Finding(file, where, cause, str(expected), str(found)))


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _parents(below: bytes, count: int) -> bytes:
    sha256 = hashlib.sha256
    return b"".join(sha256(b"\x01" + below[i * 64 : i * 64 + 64]).digest() for i in range(count))


def _first_difference(stored: bytes, computed: bytes) -> int:
    for i in range(0, min(len(stored), len(computed)), HASH_SIZE):
        if stored[i : i + HASH_SIZE] != computed[i : i + HASH_SIZE]:
            return i // HASH_SIZE
    return min(len(stored), len(computed)) // HASH_SIZE


def read_pending(tlog_dir: Path) -> tuple[int, int] | None:
    """(first, count) of the leaves an unfinished append marked, or None."""
    path = Path(tlog_dir) / PENDING_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        return int(record["first"]), int(record["count"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(path.name, "", f"unreadable pending mark ({exc})") from exc


def envelope_subjects(entry: bytes) -> set[str] | None:
    """Subject names of an in-toto DSSE envelope, or None when the entry is not one."""
    try:
        envelope = json.loads(entry)
        statement = json.loads(base64.b64decode(envelope["payload"]))
        return {s["name"] for s in statement["subject"]}
    except (ValueError, KeyError, TypeError):
        return None


def load_checkpoints(tlog_dir: Path, vkey: str, origin: str | None, label: str,
                     outside: Sequence[tuple[str, str]] = ()) -> tuple[list[SeenCheckpoint], SeenCheckpoint | None]:
    """Every signed checkpoint (history, latest, outside), each verified; the workspace's `checkpoint` apart."""
    seen: list[SeenCheckpoint] = []

    def open_one(source: str, note: str) -> SeenCheckpoint:
        try:
            return SeenCheckpoint(source, note, open_checkpoint(note, vkey, origin=origin))
        except CheckpointError as exc:
            raise _fail(source, "", f"checkpoint does not verify: {exc}") from exc

    history = Path(tlog_dir) / HISTORY_DIR
    for path in sorted(history.iterdir()) if history.is_dir() else []:
        item = open_one(f"{label}/{HISTORY_DIR}/{path.name}", path.read_text())
        if path.name != f"{item.checkpoint.tree_size:012d}":
            raise _fail(item.source, "", "history file is not named after its tree size",
                        f"{item.checkpoint.tree_size:012d}", path.name)
        seen.append(item)
    latest = None
    latest_path = Path(tlog_dir) / CHECKPOINT_FILE
    if latest_path.exists():
        latest = open_one(f"{label}/{CHECKPOINT_FILE}", latest_path.read_text())
        seen.append(latest)
    elif seen:
        raise _fail(f"{label}/{CHECKPOINT_FILE}", "", "missing while the checkpoint history is not empty")
    for source, note in outside:
        seen.append(open_one(source, note))
    by_size: dict[int, SeenCheckpoint] = {}
    for item in seen:
        other = by_size.setdefault(item.checkpoint.tree_size, item)
        if other.checkpoint.root_hash != item.checkpoint.root_hash:
            raise _fail(item.source, "", f"a different root than {other.source} at the same size "
                        f"{item.checkpoint.tree_size} (the log forked)", other.checkpoint.root_hash.hex(),
                        item.checkpoint.root_hash.hex())
    return seen, latest


def newest_of(seen: Sequence[SeenCheckpoint]) -> SeenCheckpoint | None:
    return max(seen, key=lambda item: item.checkpoint.tree_size, default=None)


def check_not_rolled_back(latest: SeenCheckpoint | None, newest: SeenCheckpoint | None, label: str) -> None:
    """`checkpoint` must be the newest signed checkpoint anyone has shown (history or outside)."""
    if newest is None:
        return
    if latest is None or latest.checkpoint.tree_size < newest.checkpoint.tree_size:
        found = f"size {latest.checkpoint.tree_size}" if latest else "none"
        raise _fail(f"{label}/{CHECKPOINT_FILE}", "", f"rolled back: older than the newest signed checkpoint "
                    f"{newest.source}", f"size {newest.checkpoint.tree_size}", found)


def audit_log(tlog_dir: Path, vkey: str, origin: str | None = None, outside: Sequence[tuple[str, str]] = (),
              label: str = "tlog") -> AuditReport:
    """The full audit (see the module docstring). Raises AuditError with the first Finding."""
    tlog_dir = Path(tlog_dir)
    leaves_name = f"{label}/{LEAVES_FILE}"
    # 1. leaves.bin
    leaves_path = tlog_dir / LEAVES_FILE
    raw = leaves_path.read_bytes() if leaves_path.exists() else b""
    if len(raw) % HASH_SIZE:
        raise _fail(leaves_name, f"offset {len(raw) - len(raw) % HASH_SIZE}", "torn or foreign bytes at the end",
                    "a multiple of 32 bytes", f"{len(raw)} bytes")
    size = len(raw) // HASH_SIZE

    # 2. checkpoints
    seen, latest = load_checkpoints(tlog_dir, vkey, origin, label, outside)
    newest = newest_of(seen)
    check_not_rolled_back(latest, newest, label)
    if latest is not None:
        history_twin = [s for s in seen if s.source.startswith(f"{label}/{HISTORY_DIR}/")
                        and s.checkpoint.tree_size == latest.checkpoint.tree_size]
        if not history_twin:
            raise _fail(latest.source, "", f"not in the checkpoint history {label}/{HISTORY_DIR}/",
                        f"{label}/{HISTORY_DIR}/{latest.checkpoint.tree_size:012d}", "no such file")
    signed = newest.checkpoint.tree_size if newest else 0

    # 3. pending
    if signed > size:
        raise _fail(leaves_name, f"leaf {size} (offset {size * HASH_SIZE})", f"ends before the newest signed "
                    f"checkpoint {newest.source if newest else ''} (log truncated or rolled back)",
                    f"{signed} leaves", f"{size} leaves")
    pending = read_pending(tlog_dir)
    pending_count = 0
    if size > signed:
        if pending is None or not (pending[0] <= signed and pending[0] + pending[1] >= size):
            raise _fail(leaves_name, f"leaf {signed} (offset {signed * HASH_SIZE})", "beyond the newest signed "
                        f"checkpoint and not marked pending in {label}/{PENDING_FILE}", f"{signed} leaves",
                        f"{size} leaves")
        pending_count = size - signed

    # 4. entry data -> leaf hashes
    subjects: dict[int, set[str] | None] = {}
    for bundle in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - bundle * TILE_WIDTH)
        name = f"{label}/{tile_path(ENTRIES, bundle, width)}"
        try:
            entries = read_bundle(tlog_dir, bundle, width)
        except TileError as exc:
            raise _fail(name, "", f"unreadable entry bundle: {exc}") from exc
        if entries is None:
            raise _fail(name, "", "missing: no entry data for leaves "
                        f"{bundle * TILE_WIDTH}..{bundle * TILE_WIDTH + width - 1}")
        for offset, entry in enumerate(entries):
            index = bundle * TILE_WIDTH + offset
            expected = leaf_hash(entry)
            stored = raw[index * HASH_SIZE : (index + 1) * HASH_SIZE]
            if stored != expected:
                raise _fail(leaves_name, f"leaf {index} (offset {index * HASH_SIZE})",
                            f"does not hash from its entry in {name} (leaf or entry altered)",
                            expected.hex(), stored.hex())
            subjects[index] = envelope_subjects(entry)

    # 5. levels
    levels = [raw]
    level = 1
    while (size >> level) > 0 or (tlog_dir / LEVELS_DIR / f"{level:02d}.bin").exists():
        computed = _parents(levels[-1], size >> level)
        path = tlog_dir / LEVELS_DIR / f"{level:02d}.bin"
        name = f"{label}/{LEVELS_DIR}/{level:02d}.bin"
        stored = path.read_bytes() if path.exists() else b""
        if len(stored) % HASH_SIZE:
            raise _fail(name, f"offset {len(stored) - len(stored) % HASH_SIZE}", "torn bytes at the end",
                        "a multiple of 32 bytes", f"{len(stored)} bytes")
        if len(stored) > len(computed):
            node = len(computed) // HASH_SIZE
            raise _fail(name, f"node {node} (offset {len(computed)})", "more nodes than the leaves justify",
                        f"{node} nodes", f"{len(stored) // HASH_SIZE} nodes")
        if stored != computed[: len(stored)]:
            node = _first_difference(stored, computed)
            span = f"{node << level}..{((node + 1) << level) - 1}"
            raise _fail(name, f"node {node} (offset {node * HASH_SIZE})",
                        f"is not the hash of its children (index altered; covers leaves {span})",
                        computed[node * HASH_SIZE : (node + 1) * HASH_SIZE].hex(),
                        stored[node * HASH_SIZE : (node + 1) * HASH_SIZE].hex())
        if len(stored) < (signed >> level) * HASH_SIZE:
            node = len(stored) // HASH_SIZE
            raise _fail(name, f"node {node} (offset {len(stored)})", "short: the signed checkpoint needs more "
                        "nodes", f"{signed >> level} nodes", f"{node} nodes")
        levels.append(computed)
        level += 1
    report = AuditReport(size, seen, newest, pending_count, 0, 0, levels)

    # 6. roots and consistency
    for item in seen:
        computed_root = report.root_at(item.checkpoint.tree_size)
        if computed_root != item.checkpoint.root_hash:
            raise _fail(item.source, "", f"its root is not the root of the first {item.checkpoint.tree_size} "
                        "leaves on disk (log altered)", computed_root.hex(), item.checkpoint.root_hash.hex())
    chain = sorted({item.checkpoint.tree_size: item for item in seen}.values(), key=lambda s: s.checkpoint.tree_size)
    for old, new in zip(chain, chain[1:], strict=False):
        proof = report.consistency_proof(old.checkpoint.tree_size, new.checkpoint.tree_size)
        if not verify_consistency(old.checkpoint.tree_size, new.checkpoint.tree_size, proof,
                                  old.checkpoint.root_hash, new.checkpoint.root_hash):
            raise _fail(new.source, "", f"not consistent with {old.source}", "an append-only extension",
                        "a consistency proof that does not verify")

    # 7. entries.jsonl
    entries_name = f"{label}/{ENTRIES_FILE}"
    lines = 0
    for line in iter_jsonl(tlog_dir / ENTRIES_FILE):
        where = f"line {line.line_no}"
        if line.record is None:
            raise _fail(entries_name, where, f"not a log entry: {line.problem}")
        problem = entry_line_problem(line.record, lines, raw, size, subjects)
        if problem:
            raise _fail(entries_name, where, *problem)
        lines += 1
    if lines < size and not (pending is not None and pending[0] <= lines):
        raise _fail(entries_name, f"line {lines + 1}", f"missing: no line for leaf {lines}", f"{size} lines",
                    f"{lines} lines")
    report.entries = lines

    # 8. tiles
    report.tiles = check_tiles(tlog_dir, report, signed, label)
    return report


def entry_line_problem(record: dict[str, Any], expected_index: int, raw: bytes, size: int,
                       subjects: dict[int, set[str] | None]) -> tuple[str, str, str] | None:
    """(cause, expected, found) when an entries.jsonl record does not describe leaf `expected_index`."""
    index, name, recorded = record.get("index"), record.get("name"), record.get("leaf_hash")
    if not isinstance(index, int) or isinstance(index, bool) or not isinstance(name, str) or not isinstance(recorded, str):
        return "not a log entry (needs integer index, name and leaf_hash)", "index, name, leaf_hash", \
            ", ".join(sorted(record))
    if index != expected_index:
        return "out of order", f"index {expected_index}", f"index {index}"
    if index >= size:
        return f"entry for leaf {index} but leaves.bin has no such leaf", f"< {size} leaves", f"index {index}"
    actual = raw[index * HASH_SIZE : (index + 1) * HASH_SIZE].hex()
    if recorded != actual:
        return f"leaf_hash is not leaf {index}'s hash (line altered)", actual, recorded
    names = subjects.get(index)
    if record.get("kind", "envelope") == "envelope" and names is not None and name not in names:
        return f"name is not a subject of the envelope logged at leaf {index} (line altered)", \
            ", ".join(sorted(names)), name
    return None


def check_tiles(tlog_dir: Path, report: AuditReport, signed: int, label: str) -> int:
    """Every tile file equals the recomputed tree; every tile the newest checkpoint needs exists."""
    tile_root = Path(tlog_dir) / TILE_DIR
    count = 0
    for path in sorted(tile_root.rglob("*")) if tile_root.is_dir() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        rel = path.relative_to(tlog_dir).as_posix()
        name = f"{label}/{rel}"
        try:
            level, index, width = parse_tile_path(rel)
        except TileError as exc:
            raise _fail(name, "", f"not a tlog-tiles file: {exc}") from exc
        data = path.read_bytes()
        if level == ENTRIES:
            try:
                entries = decode_bundle(data, name)
            except TileError as exc:
                raise _fail(name, "", str(exc)) from exc
            if len(entries) != width:
                raise _fail(name, "", "wrong number of entries", width, len(entries))
            for offset, entry in enumerate(entries):
                leaf = index * TILE_WIDTH + offset
                if leaf >= report.leaves:
                    raise _fail(name, f"entry {offset}", "beyond the log's leaves", f"< {report.leaves}", leaf)
                if leaf_hash(entry) != report.perfect(0, leaf):
                    raise _fail(name, f"entry {offset} (leaf {leaf})", "does not hash to the log's leaf",
                                report.perfect(0, leaf).hex(), leaf_hash(entry).hex())
        else:
            assert isinstance(level, int)
            tree_level = TILE_HEIGHT * level
            nodes = report.levels[tree_level] if tree_level < len(report.levels) else b""
            start = index * TILE_WIDTH * HASH_SIZE
            expected = nodes[start : start + width * HASH_SIZE]
            if len(expected) != width * HASH_SIZE:
                raise _fail(name, "", "beyond the log's tree", f"{len(nodes) // HASH_SIZE} nodes at level "
                            f"{tree_level}", f"a tile up to node {index * TILE_WIDTH + width}")
            if data != expected:
                node = _first_difference(data, expected)
                raise _fail(name, f"hash {node} (offset {node * HASH_SIZE})", "differs from the log's tree",
                            expected[node * HASH_SIZE : (node + 1) * HASH_SIZE].hex(),
                            data[node * HASH_SIZE : (node + 1) * HASH_SIZE].hex() or f"{len(data)} bytes")
        count += 1
    for level, index, width in tiles_for_size(signed):
        full = Path(tlog_dir) / tile_path(level, index)
        if not full.exists() and not (Path(tlog_dir) / tile_path(level, index, width)).exists():
            raise _fail(f"{label}/{tile_path(level, index, width)}", "", "missing: the newest checkpoint needs it")
    return count


def audit_increment(tlog_dir: Path, previous: Checkpoint | None, current: Checkpoint,
                    label: str = "tlog") -> Finding | None:
    """The trust run's part of the audit: the leaves one append added, their index nodes, lines and tiles."""
    tlog_dir = Path(tlog_dir)
    old = previous.tree_size if previous else 0
    new = current.tree_size
    try:
        with TransparencyLog(tlog_dir) as log:
            if log.size != new:
                pending = read_pending(tlog_dir)
                if log.size < new or pending is None:
                    return Finding(f"{label}/{LEAVES_FILE}", f"leaf {min(log.size, new)}", "does not end at the "
                                   "new checkpoint", f"{new} leaves", f"{log.size} leaves")
            raw = log.read_level(0, 0, new)
            subjects: dict[int, set[str] | None] = {}
            for bundle in range(old // TILE_WIDTH, (new + TILE_WIDTH - 1) // TILE_WIDTH):
                width = min(TILE_WIDTH, new - bundle * TILE_WIDTH)
                name = f"{label}/{tile_path(ENTRIES, bundle, width)}"
                entries = read_bundle(tlog_dir, bundle, width)
                if entries is None:
                    return Finding(name, "", "missing: no entry data for the new leaves")
                for offset, entry in enumerate(entries):
                    index = bundle * TILE_WIDTH + offset
                    if index >= old and leaf_hash(entry) != raw[index * HASH_SIZE : (index + 1) * HASH_SIZE]:
                        return Finding(f"{label}/{LEAVES_FILE}", f"leaf {index} (offset {index * HASH_SIZE})",
                                       f"does not hash from its entry in {name}", leaf_hash(entry).hex(),
                                       raw[index * HASH_SIZE : (index + 1) * HASH_SIZE].hex())
                    subjects[index] = envelope_subjects(entry)
            level = 1
            while new >> level:
                first, last = (old >> level), (new >> level)
                below = log.read_level(level - 1, 2 * first, 2 * last)
                computed = _parents(below, last - first)
                stored = log.read_level(level, first, last)
                if stored != computed:
                    node = first + _first_difference(stored, computed)
                    return Finding(f"{label}/{LEVELS_DIR}/{level:02d}.bin", f"node {node} (offset {node * HASH_SIZE})",
                                   "is not the hash of its children (index altered)")
                level += 1
            if log.root(new) != current.root_hash:
                return Finding(f"{label}/{CHECKPOINT_FILE}", "", "root is not the root of the leaves on disk",
                               log.root(new).hex(), current.root_hash.hex())
            for level_no, index, width in tiles_for_size(new):
                if (index + 1) * TILE_WIDTH <= old >> (TILE_HEIGHT * level_no):
                    continue
                rel = tile_path(level_no, index, width)
                path = tlog_dir / rel
                expected = log.read_level(TILE_HEIGHT * level_no, index * TILE_WIDTH, index * TILE_WIDTH + width)
                if not path.exists() or path.read_bytes() != expected:
                    return Finding(f"{label}/{rel}", "", "missing or differs from the log's index")
    except (OSError, TileError, IndexError, ValueError) as exc:
        return Finding(label, "", f"log unreadable: {exc}")
    tail = [line for line in iter_jsonl(tlog_dir / ENTRIES_FILE)][-(new - old):] if new > old else []
    for offset, line in enumerate(tail):
        where = f"line {line.line_no}"
        if line.record is None:
            return Finding(f"{label}/{ENTRIES_FILE}", where, f"not a log entry: {line.problem}")
        problem = entry_line_problem(line.record, old + offset, raw, new, subjects)
        if problem:
            return Finding(f"{label}/{ENTRIES_FILE}", where, *problem)
    return None
