"""Membership, non-membership and multiproofs: valid ones verify (also with c-kzg / py_ecc),
tampered ones never do."""

from __future__ import annotations

import random

import ckzg
import pytest
from py_ecc import optimized_bn128 as bn

from verkle import multiproof
from verkle.offchain import verify, verify_document
from verkle.paths import plan_openings
from verkle.proof import EMPTY, OTHER, PRESENT, InvalidProof, MalformedProof, PathInfo, Proof, ProofDocument
from verkle.prover import prove_multi, prove_single
from verkle.slots import KeyLayout, value_hash
from verkle.srs import ceremony_file
from verkle.tree import VerkleTree

REJECTED = (InvalidProof, MalformedProof)


@pytest.fixture(scope="module")
def c_kzg_setup():
    return ckzg.load_trusted_setup(str(ceremony_file()), 0)


def sibling_key(tree: VerkleTree, present: bytes) -> bytes:
    """An absent key whose path ends at `present`'s leaf (same slot, different key)."""
    return present[:-1] + bytes([present[-1] ^ 1])


def empty_slot_key(tree: VerkleTree, rng: random.Random) -> bytes:
    while True:
        key = rng.randbytes(32)
        path, end = tree.path(key)
        if end is None:
            return key


def keys_of_every_kind(tree: VerkleTree, contents: dict[bytes, bytes], rng: random.Random) -> list[bytes]:
    present = sorted(contents)[:: max(1, len(contents) // 5)][:5]
    other = [k for k in (sibling_key(tree, p) for p in present) if k not in contents][:2]
    return present + other + [empty_slot_key(tree, rng)]


TREES = ["tree256", "tree16", "tree_bn"]


@pytest.mark.parametrize("tree_name", TREES)
def test_valid_proofs_of_every_kind_verify(tree_name, request):
    tree, contents = request.getfixturevalue(tree_name)
    rng = random.Random(1)
    keys = keys_of_every_kind(tree, contents, rng)
    doc = prove_multi(tree, keys)
    assert {p.kind for p in doc.proof.paths} == {PRESENT, OTHER, EMPTY}
    assert [contents.get(k) for k in doc.keys] == list(doc.values)
    verify_document(tree.scheme, doc)
    verify_document(tree.scheme, ProofDocument.from_json_text(doc.to_json_text()))
    assert Proof.from_bytes(doc.proof.to_bytes()) == doc.proof
    for key in keys[:1] + keys[-3:]:
        single = prove_single(tree, key)
        verify_document(tree.scheme, single)
        assert Proof.from_bytes(single.proof.to_bytes()) == single.proof


def test_single_openings_verify_with_c_kzg(tree256, c_kzg_setup):
    tree, contents = tree256
    for key in keys_of_every_kind(tree, contents, random.Random(2)):
        doc = prove_single(tree, key)
        lay = KeyLayout(tree.scheme.width)
        listed = iter(doc.proof.commitments)
        plan = plan_openings(
            tree.scheme.field,
            lay,
            doc.root,
            doc.keys,
            doc.values,
            doc.proof.paths,
            lambda _, listed=listed: next(listed),
        )
        for o, pi in zip(plan.openings, doc.proof.openings):
            z = tree.scheme.domain.points[o.index].to_bytes(32, "big")
            assert ckzg.verify_kzg_proof(
                plan.commitments[o.node], z, o.y.to_bytes(32, "big"), pi, c_kzg_setup
            )


def test_multiproof_final_check_verifies_with_c_kzg(tree256, c_kzg_setup):
    """A multiproof reduces to one opening of E - D at t: c-kzg (and so 0x0a) accepts it."""
    tree, contents = tree256
    keys = sorted(contents)[:40] + [empty_slot_key(tree, random.Random(3))]
    doc = prove_multi(tree, keys)
    listed = iter(doc.proof.commitments)
    scheme = tree.scheme
    plan = plan_openings(
        scheme.field,
        KeyLayout(scheme.width),
        doc.root,
        doc.keys,
        doc.values,
        doc.proof.paths,
        lambda _, listed=listed: next(listed),
    )
    claims = [multiproof.Claim(k, value_hash(v) if v else None) for k, v in zip(doc.keys, doc.values)]
    tr = multiproof.transcript_for(scheme, doc.root, claims, doc.proof.path_bytes(), doc.proof.commitments)
    points = {n: scheme.curve.decode(c) for n, c in plan.commitments.items()}
    diff, t, y = multiproof.final_check_inputs(scheme, tr, plan.openings, points, doc.proof.openings[0])
    assert ckzg.verify_kzg_proof(
        scheme.curve.encode(diff),
        t.to_bytes(32, "big"),
        y.to_bytes(32, "big"),
        doc.proof.openings[1],
        c_kzg_setup,
    )
    assert not ckzg.verify_kzg_proof(
        scheme.curve.encode(diff),
        t.to_bytes(32, "big"),
        ((y + 1) % scheme.field.modulus).to_bytes(32, "big"),
        doc.proof.openings[1],
        c_kzg_setup,
    )


def test_bn254_single_openings_verify_with_py_ecc(tree_bn):
    tree, contents = tree_bn
    scheme = tree.scheme
    key = sorted(contents)[3]
    doc = prove_single(tree, key)
    listed = iter(doc.proof.commitments)
    plan = plan_openings(
        scheme.field,
        KeyLayout(16),
        doc.root,
        doc.keys,
        doc.values,
        doc.proof.paths,
        lambda _, listed=listed: next(listed),
    )
    for o, pi_bytes in zip(plan.openings, doc.proof.openings):
        c, pi = scheme.curve.decode(plan.commitments[o.node]), scheme.curve.decode(pi_bytes)
        z = scheme.domain.points[o.index]
        lhs = bn.add(bn.add(c, bn.neg(bn.multiply(bn.G1, o.y))), bn.multiply(pi, z))
        product = bn.pairing(bn.G2, lhs, False) * bn.pairing(scheme.setup.g2_tau, bn.neg(pi), False)
        assert bn.final_exponentiate(product) == bn.FQ12.one()


def _rejects(scheme, doc: ProofDocument, data: bytes) -> bool:
    try:
        verify(scheme, doc.root, doc.keys, doc.values, Proof.from_bytes(data))
    except REJECTED:
        return True
    return False


@pytest.mark.parametrize("kind,flips", [("multi", 2000), ("single", 1000)])
def test_random_byte_flips_are_rejected(tree256, kind, flips):
    tree, contents = tree256
    rng = random.Random(4)
    keys = keys_of_every_kind(tree, contents, rng)
    doc = prove_multi(tree, keys) if kind == "multi" else prove_single(tree, keys[-2])
    data = doc.proof.to_bytes()
    assert not _rejects(tree.scheme, doc, data)
    accepted = []
    for _ in range(flips):
        i = rng.randrange(len(data))
        tampered = bytearray(data)
        tampered[i] ^= rng.randrange(1, 256)
        if not _rejects(tree.scheme, doc, bytes(tampered)):
            accepted.append(i)
    assert accepted == []
    # every byte position at least once, with a single-bit flip
    for i in range(len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 1 << (i % 8)
        assert _rejects(tree.scheme, doc, bytes(tampered)), f"byte {i} flipped and accepted"


@pytest.mark.parametrize("kind", ["multi", "single"])
def test_valid_point_substitutions_are_rejected(tree256, kind):
    """Tampering that still decodes: every point in the proof replaced by another subgroup point."""
    tree, contents = tree256
    rng = random.Random(8)
    keys = keys_of_every_kind(tree, contents, rng)
    doc = prove_multi(tree, keys) if kind == "multi" else prove_single(tree, keys[0])
    curve, proof = tree.scheme.curve, doc.proof
    for _ in range(3):
        fake = curve.encode(curve.mul(curve.generator(), rng.randrange(1, tree.scheme.field.modulus)))
        for i in range(len(proof.commitments)):
            cs = proof.commitments[:i] + (fake,) + proof.commitments[i + 1 :]
            assert _rejects(
                tree.scheme,
                doc,
                Proof(proof.type, proof.scheme, proof.width, proof.paths, cs, proof.openings).to_bytes(),
            )
        for i in range(len(proof.openings)):
            os_ = proof.openings[:i] + (fake,) + proof.openings[i + 1 :]
            assert _rejects(
                tree.scheme,
                doc,
                Proof(proof.type, proof.scheme, proof.width, proof.paths, proof.commitments, os_).to_bytes(),
            )
    if kind == "multi":  # D and pi swapped
        swapped = Proof(
            proof.type, proof.scheme, proof.width, proof.paths, proof.commitments, proof.openings[::-1]
        )
        assert _rejects(tree.scheme, doc, swapped.to_bytes())


def test_byte_flips_bn254(tree_bn):
    tree, contents = tree_bn
    rng = random.Random(5)
    doc = prove_multi(tree, keys_of_every_kind(tree, contents, rng))
    data = doc.proof.to_bytes()
    for i in rng.sample(range(len(data)), 25):
        tampered = bytearray(data)
        tampered[i] ^= 0x10
        assert _rejects(tree.scheme, doc, bytes(tampered))


@pytest.mark.parametrize("tree_name", ["tree256", "tree16"])
def test_claims_keys_and_roots_cannot_be_swapped(tree_name, request):
    tree, contents = request.getfixturevalue(tree_name)
    rng = random.Random(6)
    keys = keys_of_every_kind(tree, contents, rng)
    for doc in (prove_multi(tree, keys), prove_single(tree, keys[0]), prove_single(tree, keys[-1])):
        scheme, proof = tree.scheme, doc.proof
        keys_, values = list(doc.keys), list(doc.values)

        def rejected(root=doc.root, ks=keys_, vs=values, pf=proof, scheme=scheme):
            try:
                verify(scheme, root, ks, vs, pf)
            except REJECTED:
                return True
            return False

        assert not rejected()
        for i in range(len(keys_)):
            other_value = rng.randbytes(32)
            assert rejected(vs=values[:i] + [other_value] + values[i + 1 :]), "value swapped"
            flipped = None if values[i] is not None else rng.randbytes(32)
            assert rejected(vs=values[:i] + [flipped] + values[i + 1 :]), "presence flipped"
            # an absence proof shows a whole prefix empty (or holding another key): a single proof for
            # an absent key is equally true of any key with that prefix, so change a bit inside it
            # there; the multiproof's transcript binds the exact keys, so any bit goes
            span = (
                256 if values[i] is not None or proof.type == 2 else proof.paths[i].depth * tree.layout.bits
            )
            bit = rng.randrange(min(span, 256))
            changed = bytearray(keys_[i])
            changed[bit // 8] ^= 0x80 >> (bit % 8)
            ks = sorted(keys_[:i] + [bytes(changed)] + keys_[i + 1 :])
            order = sorted(
                range(len(keys_)), key=lambda j: (keys_[:i] + [bytes(changed)] + keys_[i + 1 :])[j]
            )
            vs = [values[j] for j in order]
            assert rejected(ks=ks, vs=vs), "key changed"
        if len(values) > 1:
            assert rejected(vs=values[1:] + values[:1]), "values rotated"
        # a path's depth or kind altered (the openings move to other nodes / other slot contents)
        for j, path in enumerate(proof.paths):
            for new in (
                PathInfo(path.depth + 1, path.kind, path.other_key, path.other_value_hash),
                PathInfo(max(1, path.depth - 1), path.kind, path.other_key, path.other_value_hash),
                PathInfo(path.depth, EMPTY if path.kind != EMPTY else PRESENT),
            ):
                if new == path:
                    continue
                paths = proof.paths[:j] + (new,) + proof.paths[j + 1 :]
                pf = Proof(
                    proof.type,
                    proof.scheme,
                    proof.width,
                    paths,
                    proof.commitments,
                    proof.openings if proof.type == 2 else proof.openings + proof.openings[:1],
                )
                assert rejected(pf=pf), "path altered"
        if len(proof.commitments) > 1:
            swapped = (proof.commitments[1], proof.commitments[0]) + proof.commitments[2:]
            assert rejected(
                pf=Proof(proof.type, proof.scheme, proof.width, proof.paths, swapped, proof.openings)
            )
        # reuse under another root: the same contents plus one key
        k, v = rng.randbytes(32), rng.randbytes(32)
        tree.insert(k, v)
        try:
            assert rejected(root=tree.root_commitment)
        finally:
            tree.delete(k)
        assert tree.root_commitment == doc.root


def test_malformed_documents(tree16):
    tree, contents = tree16
    doc = prove_multi(tree, sorted(contents)[:3])
    good = doc.proof.to_bytes()
    for bad in (
        good[:-1],
        good + b"\x00",
        b"\x21" + good[1:],
        good[:1] + b"\x94" + good[2:],
        good[:4] + b"\xc0" + good[5:],
    ):
        with pytest.raises(MalformedProof):
            Proof.from_bytes(bad)
    for text in (
        "",
        "{}",
        '{"format": "verkle-proof"}',
        doc.to_json_text().replace('"depth": ', '"depth": -'),
    ):
        with pytest.raises(MalformedProof):
            ProofDocument.from_json_text(text)
    with pytest.raises(InvalidProof, match="ascending"):
        verify(tree.scheme, doc.root, list(reversed(doc.keys)), list(reversed(doc.values)), doc.proof)


def test_proof_sizes_do_not_grow_with_width(bls16, bls256):
    """KZG: a proof's size depends on the path length, not on the node width."""
    from helpers.verkle_data import random_pairs

    pairs = random_pairs(300, 7)
    for scheme in (bls16, bls256):
        tree = VerkleTree.build(scheme, pairs, workers=1)
        doc = prove_multi(tree, [pairs[0][0]])
        depth = doc.proof.paths[0].depth
        assert len(doc.proof.to_bytes()) == 5 + 48 * (depth - 1) + 96
