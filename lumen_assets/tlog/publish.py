"""Appending envelopes to the workspace log: signed checkpoints, their history, and per-entry proof files.

Why (seed segD §7.9, §8): the seed's leaf was ambiguous (sha256 of payload, of the artefact, or a base64
signature) and proofs were against an unsigned root. Here the leaf input is the exact bytes of the
envelope file, every append ends in a new signed checkpoint (`tlog/checkpoint`, history in
`tlog/checkpoints/`), and each envelope gets `.proof.json` beside it: leaf index, tree size, sibling
hashes in hex and the checkpoint it proves against.

Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumen_assets.atomic import atomic_write_bytes, atomic_write_text
from lumen_assets.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint, sign_checkpoint
from lumen_assets.tlog.log import TransparencyLog
from lumen_assets.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from lumen_assets.tlog.tiles import TileError, write_entry_bundles, write_hash_tiles

CHECKPOINT_FILE = "checkpoint"
HISTORY_DIR = "checkpoints"
ENTRIES_FILE = "entries.jsonl"
PENDING_FILE = "pending.json"
PROOF_VERSION = 1


class ProofError(ValueError):
    """A proof file that is malformed or does not verify; the message says which step failed."""


@dataclass
class AppendResult:
    previous_note: str | None
    note: str
    checkpoint: Checkpoint
    leaves: list[dict[str, Any]] = field(default_factory=list)   # {index, name, leaf_hash}
    proofs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> proof record


def read_latest_note(tlog_dir: Path) -> str | None:
    path = Path(tlog_dir) / CHECKPOINT_FILE
    return path.read_text() if path.exists() else None


def proof_record(log: TransparencyLog, index: int, note: str, checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "version": PROOF_VERSION,
        "scheme": "rfc9162",
        "hash_alg": "sha256",
        "log_origin": checkpoint.origin,
        "leaf_index": index,
        "tree_size": checkpoint.tree_size,
        "leaf_hash": log.leaf_hash_at(index).hex(),
        "hashes": [h.hex() for h in log.inclusion_proof(index, checkpoint.tree_size)],
        "checkpoint": note,
    }


def append_entries(tlog_dir: Path, entries: list[tuple[str, bytes]], origin: str, key_name: str,
                   private_key: Ed25519PrivateKey, now: dt.datetime | None = None,
                   kinds: list[str] | None = None) -> AppendResult:
    """Append (name, entry bytes) pairs as one batch, sign the new checkpoint, return proofs for them.

    Order, so that a crash at any point leaves a state the audit accepts: (1) `pending.json` marks the
    leaves about to be appended, (2) their entry bundles are written, (3) the leaves are appended and
    fsynced, (4) the hash tiles for the new size are cut from the index, (5) the checkpoint is signed
    into the history and then `checkpoint`, (6) entries.jsonl gets one line per leaf, (7) the mark goes.
    `kinds` labels each entry in entries.jsonl (default "envelope"; trust files are "certificate"/"crl").
    """
    tlog_dir = Path(tlog_dir)
    now = now or dt.datetime.now(dt.UTC)
    kinds = kinds or ["envelope"] * len(entries)
    with TransparencyLog.open(tlog_dir, writer=True) as log:
        previous_note = read_latest_note(tlog_dir)
        first = log.size
        recover_pending(tlog_dir, log)
        if entries:
            atomic_write_text(tlog_dir / PENDING_FILE, json.dumps(
                {"first": first, "count": len(entries), "names": [name for name, _ in entries], "kinds": kinds,
                 "started_at": now.isoformat()}) + "\n")
            try:
                write_entry_bundles(tlog_dir, first, [data for _, data in entries])
            except TileError as exc:
                (tlog_dir / PENDING_FILE).unlink(missing_ok=True)
                raise ProofError(f"cannot publish entry data: {exc}") from exc
        appended = log.append_batch([data for _, data in entries]) if entries else range(log.size, log.size)
        log.sync()
        if previous_note is not None:
            refuse_inconsistent_root(log, previous_note, tlog_dir)
        write_hash_tiles(tlog_dir, log, first, log.size)
        checkpoint = Checkpoint(origin, log.size, log.root())
        note = sign_checkpoint(checkpoint, key_name, private_key)
        atomic_write_text(tlog_dir / HISTORY_DIR / f"{checkpoint.tree_size:012d}", note)
        atomic_write_text(tlog_dir / CHECKPOINT_FILE, note)
        result = AppendResult(previous_note, note, checkpoint)
        lines = []
        for (name, _), kind, index in zip(entries, kinds, appended, strict=True):
            record = {"index": index, "name": name, "leaf_hash": log.leaf_hash_at(index).hex(),
                      "appended_at": now.isoformat()}
            if kind != "envelope":
                record["kind"] = kind
            result.leaves.append(record)
            lines.append(json.dumps(record) + "\n")
            result.proofs[name] = proof_record(log, index, note, checkpoint)
        if lines:
            with open(tlog_dir / ENTRIES_FILE, "a", encoding="utf-8") as handle:
                handle.writelines(lines)
                handle.flush()
                os.fsync(handle.fileno())
        (tlog_dir / PENDING_FILE).unlink(missing_ok=True)
    return result


def refuse_inconsistent_root(log: TransparencyLog, previous_note: str, tlog_dir: Path) -> None:
    """Never sign a root the previous checkpoint does not extend (issue 13: a flipped node of `levels/` that an
    append builds on would otherwise be signed into the next checkpoint, and only the check after it would
    complain). O(log n): an RFC 9162 consistency proof from the index. Raises ProofError naming the sizes;
    the appended leaves stay marked pending, so `lumen tlog audit` names the damaged file."""
    from lumen_assets.tlog.checkpoint import parse_checkpoint_body

    try:
        previous = parse_checkpoint_body(previous_note[: previous_note.find("\n\n") + 1])
    except CheckpointError as exc:
        raise ProofError(f"{tlog_dir}/{CHECKPOINT_FILE} is unreadable ({exc}); not signing a new checkpoint") from exc
    size = log.size
    if previous.tree_size > size or not verify_consistency(
            previous.tree_size, size, log.consistency_proof(previous.tree_size, size), previous.root_hash, log.root(size)):
        raise ProofError(f"not signing size {size}: the index under {tlog_dir} no longer yields the root of the previous "
                         f"checkpoint (size {previous.tree_size}); a stored node or leaf changed since it was signed. "
                         "Run `lumen tlog audit` to name it, then restore the log from its last good copy")


def recover_pending(tlog_dir: Path, log: TransparencyLog) -> int:
    """After a crash mid-append: give the leaves it did append their entries.jsonl lines (from the pending
    mark), so the next checkpoint covers them with every leaf described. Returns how many lines it wrote."""
    from lumen_assets.jsonl import iter_jsonl

    path = Path(tlog_dir) / PENDING_FILE
    if not path.exists():
        return 0
    try:
        mark = json.loads(path.read_text())
        first, names = int(mark["first"]), list(mark["names"])
        kinds = list(mark.get("kinds") or ["envelope"] * len(names))
    except (ValueError, KeyError, TypeError) as exc:
        raise ProofError(f"{path}: unreadable pending mark ({exc}); inspect it with `lumen tlog audit`") from exc
    lines = sum(1 for _ in iter_jsonl(Path(tlog_dir) / ENTRIES_FILE))
    records = []
    for index in range(max(lines, first), min(log.size, first + len(names))):
        record = {"index": index, "name": names[index - first], "leaf_hash": log.leaf_hash_at(index).hex(),
                  "appended_at": mark.get("started_at"), "recovered": True}
        if kinds[index - first] != "envelope":
            record["kind"] = kinds[index - first]
        records.append(json.dumps(record) + "\n")
    if records:
        with open(Path(tlog_dir) / ENTRIES_FILE, "a", encoding="utf-8") as handle:
            handle.writelines(records)
            os.fsync(handle.fileno())
    return len(records)


def verify_proof(proof: dict[str, Any], entry: bytes, vkey: str, origin: str | None = None) -> Checkpoint:
    """Check a `.proof.json` record for `entry`: leaf hash, checkpoint signature, inclusion. Raises ProofError."""
    try:
        index, size = int(proof["leaf_index"]), int(proof["tree_size"])
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        recorded_leaf = bytes.fromhex(proof["leaf_hash"])
        note = proof["checkpoint"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"proof file is malformed: {exc}") from exc
    actual_leaf = leaf_hash(entry)
    if recorded_leaf != actual_leaf:
        raise ProofError("envelope bytes do not match the proof's leaf hash (envelope or proof altered)")
    try:
        checkpoint = open_checkpoint(note, vkey, origin=origin)
    except CheckpointError as exc:
        raise ProofError(f"checkpoint: {exc}") from exc
    if checkpoint.tree_size != size:
        raise ProofError(f"proof is for tree size {size} but its checkpoint is for {checkpoint.tree_size}")
    if not verify_inclusion(actual_leaf, index, size, hashes, checkpoint.root_hash):
        raise ProofError(f"inclusion proof for leaf {index} does not verify against the checkpoint root")
    return checkpoint


def check_consistency(tlog_dir: Path, old: Checkpoint, new: Checkpoint) -> bool:
    """Is `new` an append-only extension of `old`, by a consistency proof drawn from the log?"""
    with TransparencyLog(tlog_dir) as log:
        if new.tree_size > log.size:
            return False
        proof = log.consistency_proof(old.tree_size, new.tree_size)
    return verify_consistency(old.tree_size, new.tree_size, proof, old.root_hash, new.root_hash)


def audit_root(tlog_dir: Path, tree_size: int, chunk: int = 1 << 16) -> bytes:
    """Recompute the root of the first `tree_size` leaves from leaves.bin alone (O(n) time, O(log n) memory).

    A monitor's full audit: it ignores the derived index, so a flipped byte anywhere in the leaves shows.
    """
    from lumen_assets.tlog.merkle import EMPTY_ROOT, node_hash

    stack: list[tuple[int, bytes]] = []  # (height, hash) of completed perfect subtrees, left to right
    with open(Path(tlog_dir) / "leaves.bin", "rb") as handle:
        remaining = tree_size
        while remaining:
            data = handle.read(min(chunk, remaining) * 32)
            if not data or len(data) % 32:
                raise ProofError(f"leaves.bin ends before {tree_size} leaves")
            for offset in range(0, len(data), 32):
                node, height = data[offset:offset + 32], 0
                while stack and stack[-1][0] == height:
                    node = node_hash(stack.pop()[1], node)
                    height += 1
                stack.append((height, node))
            remaining -= len(data) // 32
    if not stack:
        return EMPTY_ROOT
    result = stack[-1][1]
    for _, node in reversed(stack[:-1]):
        result = node_hash(node, result)
    return result


def logged_records(tlog_dir: Path) -> list[dict[str, Any]]:
    """The well-formed entries.jsonl records (the audit is what rejects malformed ones)."""
    from lumen_assets.jsonl import iter_jsonl

    return [line.record for line in iter_jsonl(Path(tlog_dir) / ENTRIES_FILE) if line.record is not None]


def logged_entries(tlog_dir: Path, kind: str) -> list[tuple[dict[str, Any], bytes]]:
    """(entries.jsonl record, entry bytes from the entry bundles) of every logged entry of `kind`."""
    from lumen_assets.tlog.tiles import TILE_WIDTH, read_bundle

    tlog_dir = Path(tlog_dir)
    leaves = tlog_dir / "leaves.bin"
    size = leaves.stat().st_size // 32 if leaves.exists() else 0
    found, bundles = [], {}
    for record in logged_records(tlog_dir):
        index = record.get("index")
        if record.get("kind", "envelope") != kind or not isinstance(index, int) or not 0 <= index < size:
            continue
        bundle = index // TILE_WIDTH
        if bundle not in bundles:
            bundles[bundle] = read_bundle(tlog_dir, bundle, min(TILE_WIDTH, size - bundle * TILE_WIDTH)) or []
        entries = bundles[bundle]
        offset = index % TILE_WIDTH
        if offset < len(entries) and leaf_hash(entries[offset]).hex() == record.get("leaf_hash"):
            found.append((record, entries[offset]))
    return found


def trust_files(workspace: Path, trust_dir: str) -> list[tuple[str, str]]:
    """(workspace-relative path, kind) of the public trust material: root and signer certificates, the CRL."""
    trust = Path(workspace) / trust_dir
    files = [(trust / "root.pem", "certificate")]
    files += [(path, "certificate") for path in sorted((trust / "signers").glob("*.pem"))]
    files.append((trust / "crl.pem", "crl"))
    return [(path.relative_to(workspace).as_posix(), kind) for path, kind in files if path.is_file()]


def log_trust_files(workspace: Path, trust_dir: str, tlog_dir: Path, origin: str, key_name: str,
                    private_key: Ed25519PrivateKey) -> list[dict[str, Any]]:
    """Append every certificate and CRL whose exact bytes are not in the log yet; returns their entries lines.

    Why (issue 13 §2): a CRL, even root-signed, can be replaced by an older one that does not yet revoke a
    signer. Once each CRL is logged, a verifier rejects a CRL numbered below the newest logged one.
    """
    known = {record.get("leaf_hash") for record in logged_records(tlog_dir)}
    new = []
    for rel, kind in trust_files(workspace, trust_dir):
        data = (Path(workspace) / rel).read_bytes()
        if leaf_hash(data).hex() not in known:
            new.append((rel, data, kind))
            known.add(leaf_hash(data).hex())
    if not new:
        return []
    result = append_entries(tlog_dir, [(rel, data) for rel, data, _ in new], origin, key_name, private_key,
                            kinds=[kind for _, _, kind in new])
    return result.leaves


def backfill_tiles(tlog_dir: Path, candidates: list[bytes]) -> int:
    """Publish entry bundles and tiles for a log written before they existed; returns the leaves covered.

    The entries are found among `candidates` (the envelopes and trust files still on disk) by leaf hash.
    A leaf whose entry is gone (its envelope was re-issued since) cannot be published: that is an error
    saying so, rather than a log whose audit can never pass.
    """
    from lumen_assets.tlog.tiles import TILE_DIR, TILE_WIDTH, encode_bundle, tile_path

    tlog_dir = Path(tlog_dir)
    if (tlog_dir / TILE_DIR).exists() or not (tlog_dir / "leaves.bin").exists():
        return 0
    with TransparencyLog.open(tlog_dir, writer=True) as log:
        size = log.size
        if size == 0:
            return 0
        by_hash = {leaf_hash(c): c for c in candidates}
        entries = [by_hash.get(log.leaf_hash_at(i)) for i in range(size)]
        missing = [i for i, entry in enumerate(entries) if entry is None]
        if missing:
            raise ProofError(f"{tlog_dir} predates its entry bundles, and leaves {missing[:10]}"
                             f"{'…' if len(missing) > 10 else ''} have no entry left to publish (their envelopes were "
                             f"re-issued since); move {tlog_dir} aside to start a new log (keep the old one: its "
                             "proofs still verify against its checkpoints)")
        history = tlog_dir / HISTORY_DIR
        sizes = sorted({int(p.name) for p in history.iterdir() if p.name.isdigit()} | {size}) if history.is_dir() else [size]
        previous = 0
        for tree_size in sizes:
            if not 0 < tree_size <= size:
                continue
            write_hash_tiles(tlog_dir, log, previous, tree_size)
            index, width = divmod(tree_size, TILE_WIDTH)
            for full in range(previous // TILE_WIDTH, index):
                atomic_write_bytes(tlog_dir / tile_path("entries", full),
                                        encode_bundle(entries[full * TILE_WIDTH:(full + 1) * TILE_WIDTH]))
            if width:
                atomic_write_bytes(tlog_dir / tile_path("entries", index, width),
                                        encode_bundle(entries[index * TILE_WIDTH:tree_size]))
            previous = tree_size
    return size
