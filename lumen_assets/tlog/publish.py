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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumen_assets.atomic import atomic_write_text
from lumen_assets.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint, sign_checkpoint
from lumen_assets.tlog.log import TransparencyLog
from lumen_assets.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion

CHECKPOINT_FILE = "checkpoint"
HISTORY_DIR = "checkpoints"
ENTRIES_FILE = "entries.jsonl"
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
                   private_key: Ed25519PrivateKey, now: dt.datetime | None = None) -> AppendResult:
    """Append (name, entry bytes) pairs as one batch, sign the new checkpoint, return proofs for them."""
    tlog_dir = Path(tlog_dir)
    now = now or dt.datetime.now(dt.UTC)
    with TransparencyLog.open(tlog_dir, writer=True) as log:
        previous_note = read_latest_note(tlog_dir)
        appended = log.append_batch([data for _, data in entries]) if entries else range(log.size, log.size)
        log.sync()
        checkpoint = Checkpoint(origin, log.size, log.root())
        note = sign_checkpoint(checkpoint, key_name, private_key)
        atomic_write_text(tlog_dir / HISTORY_DIR / f"{checkpoint.tree_size:012d}", note)
        atomic_write_text(tlog_dir / CHECKPOINT_FILE, note)
        result = AppendResult(previous_note, note, checkpoint)
        lines = []
        for (name, _), index in zip(entries, appended, strict=True):
            record = {"index": index, "name": name, "leaf_hash": log.leaf_hash_at(index).hex(),
                      "appended_at": now.isoformat()}
            result.leaves.append(record)
            lines.append(json.dumps(record) + "\n")
            result.proofs[name] = proof_record(log, index, note, checkpoint)
        if lines:
            with open(tlog_dir / ENTRIES_FILE, "a", encoding="utf-8") as handle:
                handle.writelines(lines)
                handle.flush()
    return result


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
