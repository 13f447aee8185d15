"""The durable log: same roots and proofs as the in-memory RFC 9162 tree; crash recovery; no rewrites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumen_assets.tlog.log import LogCorruptError, TransparencyLog
from lumen_assets.tlog.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion


def test_durable_log_matches_memory_tree_and_survives_reopen(tmp_path: Path) -> None:
    entries = [f"entry-{i}".encode() for i in range(1000)]
    with TransparencyLog.open(tmp_path, writer=True) as log:
        for start in range(0, 600, 37):
            log.append_batch(entries[start:min(start + 37, 600)])
        root_600 = log.root()
    with TransparencyLog.open(tmp_path, writer=True) as log:
        assert log.size == 600 and log.root() == root_600
        log.append_batch(entries[600:])
        memory = MemoryTree([leaf_hash(e) for e in entries])
        assert log.root() == memory.root()
        for index in (0, 1, 599, 600, 999):
            assert log.inclusion_proof(index) == memory.inclusion_proof(index)
            assert verify_inclusion(leaf_hash(entries[index]), index, 1000, log.inclusion_proof(index), log.root())
        proof = log.consistency_proof(600)
        assert proof == memory.consistency_proof(600)
        assert verify_consistency(600, 1000, proof, root_600, log.root())
        assert log.root(600) == root_600


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_any_batching_gives_the_same_tree(tmp_path_factory: pytest.TempPathFactory, batches: list[int]) -> None:
    directory = tmp_path_factory.mktemp("log")
    entries: list[bytes] = []
    with TransparencyLog(directory) as log:
        for size in batches:
            batch = [os.urandom(4) for _ in range(size)]
            entries += batch
            log.append_batch(batch)
        memory = MemoryTree([leaf_hash(e) for e in entries])
        assert log.root() == memory.root()
        assert log.inclusion_proof(len(entries) - 1) == memory.inclusion_proof(len(entries) - 1)


def test_torn_leaf_write_and_short_index_are_recovered(tmp_path: Path) -> None:
    entries = [bytes([i]) for i in range(100)]
    with TransparencyLog(tmp_path) as log:
        log.append_batch(entries)
        root = log.root()
    with open(tmp_path / "leaves.bin", "ab") as handle:  # a batch torn mid-record, never acknowledged
        handle.write(b"\x01" * 7)
    level3 = tmp_path / "levels" / "03.bin"
    os.truncate(level3, 32 * 5)  # index behind the leaves (crash before the index was synced)
    with TransparencyLog(tmp_path) as log:
        assert log.size == 100 and log.root() == root
        assert (tmp_path / "leaves.bin").stat().st_size == 3200


def test_index_longer_than_leaves_is_refused(tmp_path: Path) -> None:
    with TransparencyLog(tmp_path) as log:
        log.append_batch([b"a", b"b", b"c", b"d"])
    os.truncate(tmp_path / "leaves.bin", 32 * 2)  # someone cut leaves off the log
    with pytest.raises(LogCorruptError, match="refusing"):
        TransparencyLog(tmp_path)


def test_proof_beyond_the_log_is_an_error(tmp_path: Path) -> None:
    with TransparencyLog(tmp_path) as log:
        log.append_batch([b"a"])
        with pytest.raises(ValueError):
            log.inclusion_proof(0, 2)
        with pytest.raises(ValueError):
            log.inclusion_proof(1)
