"""Off-chain verification: needs only the root, the keys, the claimed values (None: absent), the proof.

`verify_call` answers as a verifier contract would for a call's arguments (see `calldata`), so the
two can be held side by side. Pure: no chain, no web3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import multiproof
from .calldata import DecodedCall
from .curves import Point
from .kzg import KZG
from .paths import NodeId, OpeningPlan, plan_openings
from .proof import MULTI, InvalidProof, MalformedProof, Proof, ProofDocument
from .roots import check_root
from .slots import KeyLayout, value_hash
from .verifier_paths import path_for_function


def _plan(
    scheme: KZG, root: bytes, keys: Sequence[bytes], values: Sequence[bytes | None], proof: Proof
) -> OpeningPlan:
    if proof.scheme != scheme.name or proof.width != scheme.width:
        raise InvalidProof(
            f"proof is for {proof.scheme} width {proof.width}, "
            f"the verifier for {scheme.name} width {scheme.width}"
        )
    listed = iter(proof.commitments)

    def next_commitment(_: NodeId) -> bytes:
        try:
            return next(listed)
        except StopIteration:
            raise InvalidProof("the proof lists fewer commitments than its paths need") from None

    plan = plan_openings(
        scheme.field, KeyLayout(scheme.width), root, keys, values, proof.paths, next_commitment
    )
    if next(listed, None) is not None:
        raise InvalidProof("the proof lists more commitments than its paths need")
    return plan


def _points(scheme: KZG, plan: OpeningPlan) -> dict[NodeId, Point]:
    points = {}
    for node, data in plan.commitments.items():
        try:
            points[node] = scheme.curve.decode(data)
        except ValueError as exc:
            raise InvalidProof(f"commitment at depth {node[0]}: {exc}") from None
    return points


# The work a proof asks for is its openings, one per level of each key's path. A document under the
# size limit can still list 65,535 keys at depth 64 (4.2 million openings: 45 s and 2 GB here); a
# real one needs keys x levels, about 200,000 for 65,535 keys in a tree of 2^24 at width 256.
MAX_OPENINGS = 1 << 18


def verify(
    scheme: KZG, root: bytes, keys: Sequence[bytes], values: Sequence[bytes | None], proof: Proof
) -> None:
    """Return quietly when the proof shows exactly these claims under `root`; raise InvalidProof when it
    does not, and MalformedProof (InvalidRoot among them) for what no verifier takes: a root that is
    not a canonical point, a key or value not of 32 bytes, a path deeper than the tree, more than
    MAX_OPENINGS openings."""
    root = check_root(scheme.name, root)
    openings = sum(p.depth for p in proof.paths)
    if openings > MAX_OPENINGS:
        raise MalformedProof(
            f"the proof's paths ask for {openings:,} openings, over the {MAX_OPENINGS:,} this verifier checks"
        )
    plan = _plan(scheme, root, keys, values, proof)
    points = _points(scheme, plan)
    if proof.type == MULTI:
        claims = [multiproof.Claim(k, value_hash(v) if v is not None else None) for k, v in zip(keys, values)]
        tr = multiproof.transcript_for(scheme, root, claims, proof.path_bytes(), proof.commitments)
        multiproof.verify(scheme, tr, plan.openings, points, proof.openings[0], proof.openings[1])
        return
    if len(proof.openings) != len(plan.openings):
        raise InvalidProof(f"{len(proof.openings)} opening proofs for {len(plan.openings)} levels")
    for level, (o, pi) in enumerate(zip(plan.openings, proof.openings)):
        try:
            pi_point = scheme.curve.decode(pi)
        except ValueError as exc:
            raise InvalidProof(f"opening proof at level {level}: {exc}") from None
        if not scheme.verify(points[o.node], scheme.domain.points[o.index], o.y, pi_point):
            raise InvalidProof(f"the opening at level {level} fails its pairing check")


def verify_document(scheme: KZG, doc: ProofDocument, root: bytes | None = None) -> None:
    """Verify a `verkle prove` document; `root`, when given, must be the one the document names."""
    if root is not None and check_root(scheme.name, root) != doc.root:
        raise InvalidProof("the proof is for another root")
    verify(scheme, doc.root, doc.keys, doc.values, doc.proof)


def decode_call(scheme_name: str, width: int, function: str, args: Sequence[Any]) -> DecodedCall:
    """A verifier function's arguments (as `verifier_paths.verifier_args` gives them) read back."""
    return path_for_function(scheme_name, function).decode(scheme_name, width, args)


def verify_call(scheme: KZG, root: bytes, function: str, args: Sequence[Any]) -> bool:
    """What the verifier holding `root` (this package's encoding: 48 bytes compressed / 64 bytes x || y)
    returns for this call: True or False, or MalformedProof where the contract reverts."""
    call = decode_call(scheme.name, scheme.width, function, args)
    try:
        verify(scheme, root, call.keys, call.values, call.to_proof())
    except InvalidProof:
        return False
    return True
