"""RFC 9162 Merkle tree hashing: leaves, nodes, tree roots, inclusion and consistency proofs.

The rules are written once, here, and tested against an independent implementation
(tests/brandgate/test_audit_merkle.py). Proof generation does not hold the leaves: it names
the subtrees it needs as half-open leaf ranges, which are either complete, aligned subtrees
(2**level leaves starting at a multiple of 2**level, stored or computed once) or the right
edge of a tree, itself a fold of complete ones. So a proof over a tree of any size costs
O(log n) complete subtree hashes, whatever stores them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# (level, index): the complete subtree of leaves [index * 2**level, (index + 1) * 2**level)
Subtree = tuple[int, int]
# (start, end): the leaves a proof element covers, as RFC 9162's D[start:end]
Span = tuple[int, int]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two smaller than `size` (size >= 2): where RFC 9162 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def complete_subtrees(start: int, end: int) -> list[Subtree]:
    """The complete subtrees that make up D[start:end], largest first.

    Valid for every span a proof names and for D[0:n]: `start` is then aligned to the
    largest power of two not above `end - start`.
    """
    found = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start % (1 << level):
            raise ValueError(f"leaves {start}-{end} do not start on a {1 << level}-leaf boundary")
        found.append((level, start >> level))
        start += 1 << level
    return found


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root over complete subtrees given largest first (a tree's right edge)."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def inclusion_spans(index: int, size: int) -> list[Span]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]) as spans, nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    spans: list[Span] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            spans.append((start + k, end))
            end = start + k
        else:
            spans.append((start, start + k))
            start += k
    spans.reverse()
    return spans


def consistency_spans(old_size: int, new_size: int) -> list[Span]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]) as spans, in proof order."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"a tree of {old_size} leaves cannot be a prefix of one of {new_size}")
    if old_size in (0, new_size):
        return []
    spans: list[Span] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            spans.append((start + k, end))
            end = start + k
        else:
            spans.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        spans.append((start, end))
    spans.reverse()
    return spans


def needed(spans: Iterable[Span]) -> set[Subtree]:
    return {part for start, end in spans for part in complete_subtrees(start, end)}


def resolve(spans: Sequence[Span], known: Mapping[Subtree, bytes]) -> list[bytes]:
    """The hashes of `spans` from their complete subtrees' hashes (`known` holds at least `needed`)."""
    return [fold([known[part] for part in complete_subtrees(start, end)]) for start, end in spans]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` lead from leaf hash `leaf` at `index` to `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of `new_size` leaves an append-only extension of the older one?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # every tree extends the empty one
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


def subtree_hashes(leaves: Sequence[bytes], wanted: Iterable[Subtree]) -> dict[Subtree, bytes]:
    """Complete subtree hashes computed from leaf hashes in memory (small trees, tests, benchmarks)."""
    found = {}
    for level, index in wanted:
        found[(level, index)] = _complete(leaves[index << level : (index + 1) << level])
    return found


def _complete(leaves: Sequence[bytes]) -> bytes:
    layer = list(leaves)
    while len(layer) > 1:
        layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


class Frontier:
    """The right edge of a growing tree: append leaf hashes, get each complete subtree as it closes.

    Holds O(log n) hashes whatever the size, so a whole trail is folded in constant memory.
    """

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        parts = complete_subtrees(0, size)
        if len(parts) != len(edge):
            raise ValueError(f"a tree of {size} leaves has {len(parts)} edge subtrees, not {len(edge)}")
        self.size = size
        self._stack: list[tuple[int, int, bytes]] = [(lv, ix, h) for (lv, ix), h in zip(parts, edge, strict=True)]

    def append(self, leaf: bytes, closed: Callable[[int, int, bytes], None] | None = None) -> None:
        """Add the next leaf hash; `closed(level, index, hash)` hears of every subtree it completes."""
        level, index, digest = 0, self.size, leaf
        while self._stack and self._stack[-1][0] == level:
            _, left_index, left = self._stack.pop()
            level, index, digest = level + 1, left_index >> 1, node_hash(left, digest)
            if closed is not None:
                closed(level, index, digest)
        self._stack.append((level, index, digest))
        self.size += 1

    @property
    def edge(self) -> list[bytes]:
        return [digest for _, _, digest in self._stack]

    @property
    def root(self) -> bytes:
        return fold(self.edge)


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "Span",
    "Subtree",
    "complete_subtrees",
    "consistency_spans",
    "fold",
    "inclusion_spans",
    "leaf_hash",
    "needed",
    "node_hash",
    "resolve",
    "split_point",
    "subtree_hashes",
    "verify_consistency",
    "verify_inclusion",
]
