"""The `verkle` front door refuses bad arguments in its own words: a TypeError or ValueError naming the
argument and what it takes, never an AttributeError from deep inside; and `verify` makes the caller
say which root they trust."""

from __future__ import annotations

import pytest

import verkle
from verkle.srs import SetupError


@pytest.fixture(scope="module")
def small(tree16):
    tree, contents = tree16
    key = sorted(contents)[0]
    return tree, key, verkle.prove(tree, [key])


@pytest.mark.parametrize(
    "not_a_tree, keys, message",
    [
        (True, "key", "tree must be a verkle.VerkleTree, got str"),
        (False, 5, "keys must be one 32-byte bytes key or an iterable of them, got int"),
        (False, None, "keys must be one 32-byte bytes key or an iterable of them, got NoneType"),
        (False, "ab" * 32, "keys must be one 32-byte bytes key or an iterable of them, got str"),
        (False, ["ab" * 16], r"keys\[0\] must be 32 bytes, got str"),
    ],
)
def test_prove_refuses_bad_arguments_by_name(small, not_a_tree, keys, message):
    tree, key, _ = small
    with pytest.raises(TypeError, match=message):
        verkle.prove("tree", [key]) if not_a_tree else verkle.prove(tree, keys)


def test_verify_refuses_what_is_not_a_document_or_scheme(small):
    tree, _, doc = small
    with pytest.raises(TypeError, match="doc must be a verkle.ProofDocument .* got bytes"):
        verkle.verify(b"abc", None)
    with pytest.raises(TypeError, match="scheme must be a verkle.KZG .* got str"):
        verkle.verify(doc, tree.root_commitment, scheme="kzg-bls12-381")


def test_verify_needs_the_root_the_caller_trusts(small, tree16):
    tree, key, doc = small
    with pytest.raises(TypeError, match="root"):
        verkle.verify(doc)  # no silent trust in the document's own root
    verkle.verify(doc, tree.root_commitment)
    verkle.verify(doc, root=tree.root_commitment)
    verkle.verify(doc, None)  # explicitly: the document's own root (self-consistency only)
    other = verkle.VerkleTree.build(tree.scheme, [(key, bytes(31) + b"\x01")], workers=1, progress=False)
    with pytest.raises(verkle.InvalidProof, match="another root"):
        verkle.verify(doc, other.root_commitment)
    forged = verkle.prove(other, [key])  # a self-consistent document for a tree nobody trusts
    verkle.verify(forged, None)
    with pytest.raises(verkle.InvalidProof, match="another root"):
        verkle.verify(forged, tree.root_commitment)


def test_load_scheme_refuses_bad_types_and_a_ptau_for_bls(tmp_path):
    with pytest.raises(TypeError, match="width must be an int .* got str"):
        verkle.load_scheme("kzg-bls12-381", "16")
    with pytest.raises(TypeError, match="width must be an int .* got float"):
        verkle.load_scheme("kzg-bls12-381", 16.0)
    with pytest.raises(TypeError, match="name must be a scheme name .* got int"):
        verkle.load_scheme(381, 16)
    ptau = tmp_path / "some.ptau"
    with pytest.raises(
        SetupError, match="always uses the Ethereum KZG ceremony: a .ptau file is for kzg-bn254"
    ):
        verkle.load_scheme("kzg-bls12-381", 16, ptau=ptau)
    assert isinstance(SetupError("x"), ValueError)
