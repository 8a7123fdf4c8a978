"""The Merkle rules (brandgate/db/merkle.py) against RFC 9162's definitions written out naively here."""

from __future__ import annotations

import hashlib

import pytest

from brandgate.db import merkle

# --- an independent implementation: RFC 9162 §2.1 read literally, recursion over the entries ------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def naive_mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + naive_mth(entries[:k]) + naive_mth(entries[k:]))


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, entries[:k]), naive_mth(entries[k:])]
    return [*naive_path(m - k, entries[k:]), naive_mth(entries[:k])]


def naive_subproof(m: int, entries: list[bytes], whole: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if whole else [naive_mth(entries)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, entries[:k], whole), naive_mth(entries[k:])]
    return [*naive_subproof(m - k, entries[k:], False), naive_mth(entries[:k])]


def naive_proof(m: int, entries: list[bytes]) -> list[bytes]:
    return naive_subproof(m, entries, True)


# --- what the module under test computes, from leaf hashes only -------------------------------------


def entries_of(n: int, tag: bytes = b"event") -> list[bytes]:
    return [hashlib.sha256(tag + str(i).encode()).digest() for i in range(n)]


def leaves(entries: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(e) for e in entries]


def root_of(entries: list[bytes]) -> bytes:
    frontier = merkle.Frontier()
    for leaf in leaves(entries):
        frontier.append(leaf)
    return frontier.root


def inclusion(index: int, entries: list[bytes]) -> list[bytes]:
    spans = merkle.inclusion_spans(index, len(entries))
    return merkle.resolve(spans, merkle.subtree_hashes(leaves(entries), merkle.needed(spans)))


def consistency(old: int, entries: list[bytes]) -> list[bytes]:
    spans = merkle.consistency_spans(old, len(entries))
    return merkle.resolve(spans, merkle.subtree_hashes(leaves(entries), merkle.needed(spans)))


# Certificate Transparency's reference vectors (the leaf inputs and roots used by the Go and C++ logs).
CT_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_roots_match_the_reference_vectors_and_the_naive_tree() -> None:
    entries = [bytes.fromhex(x) for x in CT_INPUTS]
    for n in range(1, len(entries) + 1):
        assert root_of(entries[:n]).hex() == CT_ROOTS[n - 1]
        assert naive_mth(entries[:n]).hex() == CT_ROOTS[n - 1]
    assert root_of([]) == merkle.EMPTY_ROOT == naive_mth([])


def test_leaf_and_node_hashes_carry_the_rfc_prefixes() -> None:
    assert merkle.leaf_hash(b"x") == _h(b"\x00x")
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == _h(b"\x01" + b"a" * 32 + b"b" * 32)
    # a leaf can never pass for a node over the same bytes: second-preimage resistance
    assert merkle.leaf_hash(b"a" * 32 + b"b" * 32) != merkle.node_hash(b"a" * 32, b"b" * 32)


@pytest.mark.parametrize("n", [*range(1, 34), 63, 64, 65, 100, 127, 129])
def test_inclusion_proofs_equal_the_naive_path_and_verify(n: int) -> None:
    entries = entries_of(n)
    root = naive_mth(entries)
    assert root_of(entries) == root
    for m in range(n):
        proof = inclusion(m, entries)
        assert proof == naive_path(m, entries)
        assert merkle.verify_inclusion(m, n, merkle.leaf_hash(entries[m]), proof, root)
        # the same proof says nothing for another leaf, index or size
        assert not merkle.verify_inclusion(m, n, merkle.leaf_hash(b"other"), proof, root)
        if n > 1:
            assert not merkle.verify_inclusion((m + 1) % n, n, merkle.leaf_hash(entries[m]), proof, root)
            assert not merkle.verify_inclusion(m, n, merkle.leaf_hash(entries[m]), proof[:-1], root)


@pytest.mark.parametrize("n", [*range(1, 34), 64, 65, 100])
def test_consistency_proofs_equal_the_naive_proof_and_verify(n: int) -> None:
    entries = entries_of(n)
    new_root = naive_mth(entries)
    for m in range(0, n + 1):
        proof = consistency(m, entries)
        assert proof == (naive_proof(m, entries) if m > 0 else [])
        old_root = naive_mth(entries[:m])
        assert merkle.verify_consistency(m, n, old_root, new_root, proof)
        if 0 < m < n:
            assert not merkle.verify_consistency(m, n, old_root, merkle.leaf_hash(b"x"), proof)
            assert not merkle.verify_consistency(m, n, merkle.leaf_hash(b"x"), new_root, proof)
            assert not merkle.verify_consistency(m, n, old_root, new_root, proof[1:])


def test_out_of_range_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_spans(5, 5)
    with pytest.raises(ValueError, match="prefix"):
        merkle.consistency_spans(6, 5)
    assert not merkle.verify_inclusion(5, 5, b"\x00" * 32, [], b"\x00" * 32)
    assert not merkle.verify_consistency(6, 5, b"", b"", [])


def test_the_frontier_holds_the_edge_and_resumes_from_it() -> None:
    entries = entries_of(45)
    closed: dict[tuple[int, int], bytes] = {}
    first = merkle.Frontier()
    for leaf in leaves(entries[:29]):
        first.append(leaf, lambda lv, ix, h: closed.__setitem__((lv, ix), h))
    resumed = merkle.Frontier(29, first.edge)
    for leaf in leaves(entries[29:]):
        resumed.append(leaf, lambda lv, ix, h: closed.__setitem__((lv, ix), h))
    assert resumed.root == naive_mth(entries)
    # every complete subtree it announced is the one the naive tree has there
    for (level, index), digest in closed.items():
        assert digest == naive_mth(entries[index << level : (index + 1) << level])
    assert len(closed) == 45 - bin(45).count("1")  # a tree of n leaves has n - popcount(n) complete inner nodes


# --- tampering: what a rewrite of the history does to every proof ------------------------------------


def _edited(entries: list[bytes], i: int) -> list[bytes]:
    return [*entries[:i], b"edited" + entries[i], *entries[i + 1 :]]


def _deleted(entries: list[bytes], i: int) -> list[bytes]:
    return [*entries[:i], *entries[i + 1 :]]


def _reordered(entries: list[bytes], i: int) -> list[bytes]:
    swapped = list(entries)
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    return swapped


def _inserted(entries: list[bytes], i: int) -> list[bytes]:
    return [*entries[:i], b"inserted", *entries[i:]]


@pytest.mark.parametrize("rewrite", [_edited, _deleted, _reordered, _inserted])
def test_any_rewrite_breaks_later_inclusion_and_earlier_consistency(rewrite: object) -> None:
    """Against a head published before the rewrite, nothing the rewritten log serves verifies."""
    n = 21
    entries = entries_of(n)
    head_size, head_root = n, naive_mth(entries)
    for i in range(n - 1):
        forged = rewrite(entries, i)  # type: ignore[operator]
        # every event at or after the rewrite, proven from the rewritten log, fails against the published head
        for m in range(i, min(n, len(forged))):
            original = entries[m]
            if original not in forged:
                continue
            at = forged.index(original)
            proof = inclusion(at, forged[:head_size]) if at < head_size else []
            assert not merkle.verify_inclusion(at, head_size, merkle.leaf_hash(original), proof, head_root)
        # the rewritten log (grown further, all hashes recomputed) is not an extension of any earlier head
        # that covered the rewritten place
        grown = [*forged, *entries_of(5, b"later")]
        new_root = naive_mth(grown)
        for old in range(i + 1, n + 1):
            old_root = naive_mth(entries[:old])
            proof = consistency(old, grown)
            assert not merkle.verify_consistency(old, len(grown), old_root, new_root, proof)
        # heads before the rewritten place still hold: the rewrite is located, not just detected
        for old in range(1, i + 1):
            assert merkle.verify_consistency(old, len(grown), naive_mth(entries[:old]), new_root,
                                             consistency(old, grown))  # fmt: skip
