"""Proofs from a tree: one key with an opening per level, or any number of keys in one multiproof."""

from __future__ import annotations

from collections.abc import Sequence

from . import multiproof
from .paths import NodeId, OpeningPlan, plan_openings
from .proof import EMPTY, MULTI, OTHER, PRESENT, SINGLE, PathInfo, Proof, ProofDocument, path_bytes
from .slots import check_key, value_hash
from .tree import Leaf, Node, VerkleTree


def path_info(tree: VerkleTree, key: bytes) -> tuple[PathInfo, bytes | None]:
    """Where the key's path ends, and the key's value (None when absent)."""
    path, end = tree.path(key)
    depth = len(path)
    if end is None:
        return PathInfo(depth, EMPTY), None
    assert isinstance(end, Leaf)
    if end.key == key:
        return PathInfo(depth, PRESENT), end.value
    return PathInfo(depth, OTHER, end.key, value_hash(end.value)), None


def _node(tree: VerkleTree, node_id: NodeId) -> Node:
    depth, prefix = node_id
    node = tree.root
    for d in range(depth):
        shift = (depth - 1 - d) * tree.layout.bits
        child = node.children[(prefix >> shift) & (tree.scheme.width - 1)]
        assert isinstance(child, Node)
        node = child
    return node


def _plan(
    tree: VerkleTree, keys: Sequence[bytes]
) -> tuple[list[bytes], list[bytes | None], list[PathInfo], OpeningPlan]:
    keys = sorted({check_key(k) for k in keys})
    infos = [path_info(tree, k) for k in keys]
    paths = [i for i, _ in infos]
    values = [v for _, v in infos]
    plan = plan_openings(
        tree.scheme.field,
        tree.layout,
        tree.root_commitment,
        keys,
        values,
        paths,
        lambda node_id: _node(tree, node_id).encoded,
    )
    return keys, values, paths, plan


def prove_multi(tree: VerkleTree, keys: Sequence[bytes]) -> ProofDocument:
    keys, values, paths, plan = _plan(tree, keys)
    claims = [multiproof.Claim(k, value_hash(v) if v is not None else None) for k, v in zip(keys, values)]
    listed = tuple(plan.commitments[n] for n in plan.order)
    tr = multiproof.transcript_for(tree.scheme, tree.root_commitment, claims, path_bytes(paths), listed)
    vectors = {nid: tree.node_values(_node(tree, nid)) for nid in plan.commitments}
    d, pi = multiproof.prove(tree.scheme, tr, plan.openings, vectors)
    proof = Proof(MULTI, tree.scheme.name, tree.scheme.width, tuple(paths), listed, (d, pi))
    return ProofDocument(proof, tree.root_commitment, tuple(keys), tuple(values))


def prove_single(tree: VerkleTree, key: bytes) -> ProofDocument:
    """One key, one KZG opening per level: what the point-evaluation precompile checks one by one."""
    keys, values, paths, plan = _plan(tree, [key])
    openings = tuple(
        tree.scheme.curve.encode(tree.scheme.open_in_domain(tree.node_values(_node(tree, o.node)), o.index))
        for o in plan.openings
    )
    proof = Proof(
        SINGLE,
        tree.scheme.name,
        tree.scheme.width,
        tuple(paths),
        tuple(plan.commitments[n] for n in plan.order),
        openings,
    )
    return ProofDocument(proof, tree.root_commitment, tuple(keys), tuple(values))
