"""An independent RFC 9162 implementation (pymerkle 7) agrees with ours on roots and proofs."""

from __future__ import annotations

import pytest

from lumen_assets.tlog.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion

pymerkle = pytest.importorskip("pymerkle")


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64, 100])
def test_roots_and_proofs_match_pymerkle(size: int) -> None:
    entries = [b"entry-%d" % i for i in range(size)]
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    for entry in entries:
        tree.append_entry(entry)
    ours = MemoryTree([leaf_hash(e) for e in entries])
    assert ours.root() == tree.get_root()
    for old in range(1, size + 1):
        assert ours.root(old) == tree.get_root(old)
        index = old - 1
        assert verify_inclusion(leaf_hash(entries[index]), index, size, ours.inclusion_proof(index), tree.get_root())
        assert verify_consistency(old, size, ours.consistency_proof(old), tree.get_root(old), tree.get_root())
