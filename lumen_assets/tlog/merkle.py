"""RFC 9162 (Certificate Transparency v2, §2.1) Merkle tree hashing, inclusion and consistency proofs.

Why: the seed's tree (segD §7.5) hashed leaves and nodes without the 0x00 / 0x01 domain prefixes and
duplicated the last node of an odd level, so two different logs ([a,b,c] and [a,b,c,c]) had the same root
and no standard verifier accepted its proofs (segD §7.8). This module follows RFC 9162 exactly:

- leaf hash  = SHA-256(0x00 || entry)
- node hash  = SHA-256(0x01 || left || right)
- MTH of n > 1 leaves splits at k, the largest power of two strictly below n; MTH(empty) = SHA-256("").

Proof generation works on any `HashSource`: something that can return the hash of a *perfect, aligned*
subtree (level `l`, index `i` covers leaves [i*2^l, (i+1)*2^l)). Every subtree the RFC recursion visits
starts at a multiple of a power of two at least its own size, so it decomposes into O(log n) perfect
aligned nodes; the durable log (`lumen_assets.tlog.log`) stores exactly those nodes on disk, so proofs
cost O(log^2 n) hash reads at worst and no rebuild. `MemoryTree` is the in-memory version of the same store.

Pure module: no dagster import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x00 || entry)."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k such that k < n <= 2k (n >= 2), the RFC's split point."""
    if n < 2:
        raise ValueError(f"split needs n >= 2, got {n}")
    return 1 << ((n - 1).bit_length() - 1)


class HashSource(Protocol):
    """Hashes of perfect aligned subtrees: `perfect(level, index)` covers leaves [index*2^level, (index+1)*2^level)."""

    def perfect(self, level: int, index: int) -> bytes: ...


def subtree_hash(source: HashSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range whose start is aligned to a power of two >= its size.

    The range splits into perfect nodes by the binary digits of its size, largest first; the RFC's
    recursion (left = largest power of two below n) is exactly a right fold over those nodes.
    """
    size = end - start
    if size <= 0:
        if size == 0:
            return EMPTY_ROOT
        raise ValueError(f"bad range [{start}, {end})")
    parts: list[bytes] = []
    position = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            if position % (1 << level):
                raise ValueError(f"range [{start}, {end}) is not aligned for an RFC 9162 subtree")
            parts.append(source.perfect(level, position >> level))
            position += 1 << level
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = node_hash(part, result)
    return result


def inclusion_path(source: HashSource, index: int, tree_size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), leaf-most sibling first."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of size {tree_size}")
    path: list[bytes] = []
    start, end, m = 0, tree_size, index
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if m < k:
            path.append(subtree_hash(source, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(source, start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_path(source: HashSource, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), deepest node first."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree_hash(source, start, end))
            break
        k = largest_power_of_two_below(n)
        if m <= k:
            proof.append(subtree_hash(source, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(source, start, start + k))
            start, m, complete = start + k, m - k, False
    proof.reverse()
    return proof


class MemoryTree:
    """Perfect-node levels of a tree held in memory; `append` is amortised O(1) hashes per leaf."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append leaf hashes (already `leaf_hash`ed), completing parent nodes level by level."""
        new = list(leaf_hashes)
        level = 0
        while new:
            if level == len(self.levels):
                self.levels.append([])
            stored = self.levels[level]
            pending = [stored[-1]] if len(stored) % 2 else []
            stored.extend(new)
            seq = pending + new
            new = [node_hash(seq[i], seq[i + 1]) for i in range(0, len(seq) - 1, 2)]
            level += 1

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, tree_size: int | None = None) -> bytes:
        return subtree_hash(self, 0, self.size if tree_size is None else tree_size)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        return inclusion_path(self, index, self.size if tree_size is None else tree_size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_path(self, old_size, self.size if new_size is None else new_size)


def merkle_root(entries: Sequence[bytes]) -> bytes:
    """MTH over raw entries (each is leaf-hashed first); SHA-256("") for none (RFC 9162 §2.1.1)."""
    return MemoryTree([leaf_hash(e) for e in entries]).root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int | None = None) -> list[bytes]:
    """Audit path for leaf `index` in the tree of the first `tree_size` leaf hashes."""
    size = len(leaf_hashes) if tree_size is None else tree_size
    return MemoryTree(leaf_hashes[:size]).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None) -> list[bytes]:
    """Proof that the tree of the first `old_size` leaves is a prefix of the tree of `new_size` leaves."""
    size = len(leaf_hashes) if new_size is None else new_size
    return MemoryTree(leaf_hashes[:size]).consistency_proof(old_size)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` put the leaf hash `leaf` at `index` of the tree with `root`?"""
    if not (_is_hash(leaf) and _is_hash(root)) or not 0 <= index < tree_size:
        return False
    if not all(_is_hash(p) for p in proof):
        return False
    fn, sn, result = index, tree_size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (old_size, old_root) a prefix of (new_size, new_root)?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof or not (_is_hash(old_root) and _is_hash(new_root)) or not all(_is_hash(p) for p in proof):
        return False
    nodes = list(proof)
    if old_size & (old_size - 1) == 0:
        nodes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
