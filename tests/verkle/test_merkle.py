"""The Merkle baseline follows OpenZeppelin's rules; vectors worked out by hand from those rules."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from verkle.hashing import keccak256
from verkle.merkle import (
    MerkleTree,
    MultiProof,
    hash_pair,
    leaf_hash,
    process_multi_proof,
    verify,
    verify_multi,
)

K = [bytes([i]) * 32 for i in range(1, 4)]
V = [bytes([0x10 + i]) * 32 for i in range(1, 4)]


def test_leaf_and_pair_hashing_rules():
    # StandardMerkleTree leaf for (bytes32, bytes32): keccak256(bytes.concat(keccak256(abi.encode(k, v))))
    assert leaf_hash(K[0], V[0]) == keccak256(keccak256(K[0] + V[0]))
    a, b = sorted([leaf_hash(K[0], V[0]), leaf_hash(K[1], V[1])])
    assert hash_pair(a, b) == hash_pair(b, a) == keccak256(a + b)
    # known vector: keccak256 of 64 zero bytes (the EVM's empty-pair hash)
    assert (
        hash_pair(bytes(32), bytes(32)).hex()
        == "ad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5"
    )


def test_three_leaves_by_hand():
    h = sorted(leaf_hash(k, v) for k, v in zip(K, V))
    # array layout: tree[4] = h0, tree[3] = h1, tree[2] = h2; tree[1] = pair(h1, h0); root = pair(tree[1], h2)
    n1 = keccak256(min(h[0], h[1]) + max(h[0], h[1]))
    root = keccak256(min(n1, h[2]) + max(n1, h[2]))
    tree = MerkleTree(zip(K, V))
    assert tree.root == root
    k0 = next(k for k, v in zip(K, V) if leaf_hash(k, v) == h[0])
    v0 = V[K.index(k0)]
    assert tree.prove(k0, v0) == [h[1], h[2]]
    assert verify(root, h[0], [h[1], h[2]])
    k2 = next(k for k, v in zip(K, V) if leaf_hash(k, v) == h[2])
    assert tree.prove(k2, V[K.index(k2)]) == [n1]
    # multiproof of h0 and h2: leaves in tree-index order (4, 2), proof [h1], flags [false, true]
    mp = tree.prove_multi([(k0, v0), (k2, V[K.index(k2)])])
    assert mp == MultiProof((h[0], h[2]), (h[1],), (False, True))
    assert process_multi_proof(mp) == root
    # every leaf: no proof hashes, flags all true
    everything = tree.prove_multi(list(zip(K, V)))
    assert everything.proof == () and everything.flags == (True, True) and verify_multi(root, everything)


def test_single_leaf_tree():
    tree = MerkleTree([(K[0], V[0])])
    assert tree.root == leaf_hash(K[0], V[0]) and tree.prove(K[0], V[0]) == []
    assert verify_multi(tree.root, tree.prove_multi([(K[0], V[0])]))


@settings(max_examples=30)
@given(n=st.integers(1, 70), data=st.data())
def test_proofs_verify_and_tampering_fails(n, data):
    rng = random.Random(n)
    pairs = [(rng.randbytes(32), rng.randbytes(32)) for _ in range(n)]
    tree = MerkleTree(pairs)
    chosen = data.draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=n, unique=True))
    for k, v in chosen[:3]:
        proof = tree.prove(k, v)
        assert verify(tree.root, leaf_hash(k, v), proof)
        assert not verify(tree.root, leaf_hash(k, bytes(32)), proof)
        if proof:
            assert not verify(tree.root, leaf_hash(k, v), proof[:-1] + [bytes(32)])
    mp = tree.prove_multi(chosen)
    assert verify_multi(tree.root, mp)
    if mp.proof:
        assert not verify_multi(tree.root, MultiProof(mp.leaves, (bytes(32),) + mp.proof[1:], mp.flags))
    other = leaf_hash(rng.randbytes(32), rng.randbytes(32))
    assert not verify_multi(tree.root, MultiProof((other,) + mp.leaves[1:], mp.proof, mp.flags))
    assert not verify_multi(tree.root, MultiProof(mp.leaves, mp.proof, mp.flags + (True,)))
