"""From keys, claims and per-key path summaries to the list of KZG openings a proof must establish.

Prover and verifier run this same walk, so they agree on the openings, their order, and the order in
which node commitments appear in the proof. Opening (node, slot) -> y, where y is:
    a deeper node on the path   -> H(0x00 || its commitment)
    the key's own leaf          -> H(0x01 || key || keccak(value))      (kind "present")
    nothing                     -> 0                                    (kind "empty")
    another key's leaf          -> H(0x01 || other key || other hash)   (kind "other")
Every key contributes one opening per level, in key order, even where keys share a node: the
multiproof proves repeated openings at no extra size, and a Solidity verifier then needs no
de-duplication. A slot reached by several keys must get the same y from each (KZG would refuse two
values anyway; checking first gives the clearer reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .field import PrimeField
from .proof import EMPTY, PRESENT, InvalidProof, MalformedProof, PathInfo, check_depths
from .slots import KeyLayout, check_key, check_value, leaf_field, node_field, value_hash

NodeId = tuple[int, int]  # (depth, prefix)
ROOT: NodeId = (0, 0)


@dataclass(frozen=True)
class Opening:
    node: NodeId
    index: int
    y: int


@dataclass(frozen=True)
class OpeningPlan:
    openings: tuple[Opening, ...]
    commitments: dict[NodeId, bytes]  # every node used, root included
    order: tuple[NodeId, ...]  # nodes below the root, in the order the proof lists them


def claim_field(field: PrimeField, key: bytes, value: bytes | None, path: PathInfo, layout: KeyLayout) -> int:
    """The y of the last opening on a key's path, after checking the path agrees with the claim."""
    if path.kind == PRESENT:
        if value is None:
            raise InvalidProof(f"key {key.hex()}: the proof shows it present, the claim says absent")
        return leaf_field(field, key, value_hash(value))
    if value is not None:
        raise InvalidProof(f"key {key.hex()}: the claim gives a value, the proof shows the key absent")
    if path.kind == EMPTY:
        return 0
    if path.other_key == key:
        raise InvalidProof(f"key {key.hex()}: 'other leaf' names the key itself")
    if layout.indices(path.other_key, path.depth) != layout.indices(key, path.depth):
        raise InvalidProof(f"key {key.hex()}: the other leaf's key is not on this key's path")
    return leaf_field(field, path.other_key, path.other_value_hash)


def check_claims(keys: Sequence[bytes], values: Sequence[bytes | None]) -> None:
    """Keys of exactly 32 bytes and values of 32 bytes or None, as the contracts take them (bytes32).
    A longer key's extra bytes land in its node ids, so its walk starts not at the root but at a node
    whose commitment the proof supplies: anything could be 'proven' of it, under any root."""
    try:
        for key in keys:
            check_key(key)
        for value in values:
            if value is not None:
                check_value(value)
    except ValueError as exc:
        raise MalformedProof(str(exc)) from None


def check_keys(keys: Sequence[bytes]) -> None:
    if not keys:
        raise InvalidProof("no keys to verify")
    for a, b in zip(keys, keys[1:]):
        if a >= b:
            raise InvalidProof("keys must be listed in ascending order without repeats")


def plan_openings(
    field: PrimeField,
    layout: KeyLayout,
    root: bytes,
    keys: Sequence[bytes],
    values: Sequence[bytes | None],
    paths: Sequence[PathInfo],
    commitment_of: Callable[[NodeId], bytes],
) -> OpeningPlan:
    """Walk every key's path. `commitment_of` supplies the commitment of each node below the root
    the first time the walk needs it (the prover reads the tree, the verifier the proof's list)."""
    check_claims(keys, values)
    check_keys(keys)
    if len(paths) != len(keys) or len(values) != len(keys):
        raise InvalidProof(f"{len(keys)} keys, {len(values)} values and {len(paths)} paths do not match")
    check_depths(paths, layout.width)
    commitments: dict[NodeId, bytes] = {ROOT: root}
    order: list[NodeId] = []
    slots: dict[tuple[NodeId, int], int] = {}
    openings: list[Opening] = []

    def commitment(node: NodeId) -> bytes:
        if node not in commitments:
            commitments[node] = commitment_of(node)
            order.append(node)
        return commitments[node]

    for key, value, path in zip(keys, values, paths):
        k = layout.padded(key)
        for depth in range(path.depth):
            node = (depth, layout.prefix(k, depth))
            commitment(node)
            index = layout.index(k, depth)
            if depth + 1 < path.depth:
                y = node_field(field, commitment((depth + 1, layout.prefix(k, depth + 1))))
            else:
                y = claim_field(field, key, value, path, layout)
            if slots.setdefault((node, index), y) != y:
                raise InvalidProof(
                    f"key {key.hex()}: the proof gives slot {index} of a node two different contents"
                )
            openings.append(Opening(node, index, y))
    return OpeningPlan(tuple(openings), commitments, tuple(order))
