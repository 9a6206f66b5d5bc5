"""The baseline: a binary keccak256 Merkle tree whose proofs OpenZeppelin's MerkleProof accepts.

Same rules as OpenZeppelin's StandardMerkleTree for (bytes32 key, bytes32 value) leaves:
    leaf  = keccak256(keccak256(abi.encode(key, value)))     (double hash: a leaf is never 64 bytes)
    pair  = keccak256(min(a, b) || max(a, b))                 (commutative, so proofs carry no sides)
Leaves sorted by hash, tree stored as an array (node i has children 2i+1, 2i+2, leaves at the end),
single proofs as in `MerkleProof.verify`, multiproofs as in `MerkleProof.multiProofVerify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .hashing import keccak256


def leaf_hash(key: bytes, value: bytes) -> bytes:
    return keccak256(keccak256(key + value))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak256(a + b) if a < b else keccak256(b + a)


class MerkleError(ValueError):
    pass


@dataclass(frozen=True)
class MultiProof:
    leaves: tuple[bytes, ...]  # in the order multiProofVerify consumes them
    proof: tuple[bytes, ...]
    flags: tuple[bool, ...]

    @property
    def size(self) -> int:
        """Bytes of proof: 32 per hash plus one bit per flag."""
        return 32 * len(self.proof) + (len(self.flags) + 7) // 8


class MerkleTree:
    def __init__(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        hashes = sorted({leaf_hash(k, v) for k, v in items})
        if not hashes:
            raise MerkleError("a Merkle tree needs at least one leaf")
        n = len(hashes)
        tree: list[bytes] = [b""] * (2 * n - 1)
        for i, h in enumerate(hashes):
            tree[len(tree) - 1 - i] = h
        for i in range(len(tree) - 1 - n, -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        self.tree = tree
        self.position = {h: len(tree) - 1 - i for i, h in enumerate(hashes)}

    @property
    def root(self) -> bytes:
        return self.tree[0]

    def _index(self, key: bytes, value: bytes) -> int:
        try:
            return self.position[leaf_hash(key, value)]
        except KeyError:
            raise MerkleError(f"({key.hex()}, {value.hex()}) is not a leaf of this tree") from None

    def prove(self, key: bytes, value: bytes) -> list[bytes]:
        i = self._index(key, value)
        proof = []
        while i > 0:
            proof.append(self.tree[i - 1 if i % 2 == 0 else i + 1])
            i = (i - 1) // 2
        return proof

    def prove_multi(self, pairs: Sequence[tuple[bytes, bytes]]) -> MultiProof:
        indices = sorted({self._index(k, v) for k, v in pairs}, reverse=True)
        stack = list(indices)
        proof, flags = [], []
        head = 0  # stack[head:] is the queue
        while head < len(stack) and stack[head] > 0:
            j = stack[head]
            head += 1
            sibling = j - 1 if j % 2 == 0 else j + 1
            if head < len(stack) and stack[head] == sibling:
                flags.append(True)
                head += 1
            else:
                flags.append(False)
                proof.append(self.tree[sibling])
            stack.append((j - 1) // 2)
        return MultiProof(tuple(self.tree[i] for i in indices), tuple(proof), tuple(flags))


def multi_proof_args(tree: MerkleTree, pairs: Sequence[tuple[bytes, bytes]]) -> list[Any]:
    """`multiProofVerify`'s arguments: the proof, its flags, and the leaves' keys and values in the
    order the proof consumes them."""
    mp = tree.prove_multi(pairs)
    by_hash = {leaf_hash(k, v): (k, v) for k, v in pairs}
    ordered = [by_hash[h] for h in mp.leaves]
    return [list(mp.proof), list(mp.flags), [k for k, _ in ordered], [v for _, v in ordered]]


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    computed = leaf
    for sibling in proof:
        computed = hash_pair(computed, sibling)
    return computed


def verify(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    return process_proof(leaf, proof) == root


def process_multi_proof(mp: MultiProof) -> bytes:
    """OpenZeppelin's processMultiProof: leaves and computed hashes are consumed as one queue."""
    n_leaves, n_flags = len(mp.leaves), len(mp.flags)
    if n_leaves + len(mp.proof) != n_flags + 1:
        raise MerkleError("invalid multiproof length")
    hashes: list[bytes] = []
    leaf_pos = hash_pos = proof_pos = 0

    def next_hash() -> bytes:
        nonlocal leaf_pos, hash_pos
        if leaf_pos < n_leaves:
            leaf_pos += 1
            return mp.leaves[leaf_pos - 1]
        hash_pos += 1
        return hashes[hash_pos - 1]

    for flag in mp.flags:
        a = next_hash()
        if flag:
            b = next_hash()
        else:
            if proof_pos >= len(mp.proof):
                raise MerkleError("multiproof runs out of proof hashes")
            b = mp.proof[proof_pos]
            proof_pos += 1
        hashes.append(hash_pair(a, b))
    if n_flags:
        if proof_pos != len(mp.proof):
            raise MerkleError("multiproof has unused proof hashes")
        return hashes[-1]
    return mp.leaves[0] if n_leaves else mp.proof[0]


def verify_multi(root: bytes, mp: MultiProof) -> bool:
    try:
        return process_multi_proof(mp) == root
    except (MerkleError, IndexError):
        return False
