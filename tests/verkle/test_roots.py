"""Roots: one rule (roots.check_root) for the off-chain verifier, the CLI and the Solidity side, in the
on-chain verifier's words; the empty tree's root (the identity) accepted in its canonical encoding only."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_arkworks_bls12381 import G1Point
from py_ecc import optimized_bn128 as bn

from verkle.curves import BLS12_381, BLS12_381_Q, BN254, InvalidPoint, bls_compress_xy
from verkle.offchain import verify, verify_document
from verkle.proof import MalformedProof, ProofDocument
from verkle.prover import prove_multi, prove_single
from verkle.roots import InvalidRoot, check_root, empty_root
from verkle.schemes import SCHEMES
from verkle.tree import VerkleTree

BLS, BN = "kzg-bls12-381", "kzg-bn254"


def _bls_x(x: int, flags: int = 0x80) -> bytes:
    return (x | (flags << 376)).to_bytes(48, "big")


def _bls_x_outside_subgroup() -> int:
    """A small x on y^2 = x^3 + 4: its point is outside the prime-order subgroup (cofactor ~2^126)."""
    x = next(
        x for x in range(1, 50) if pow((x**3 + 4) % BLS12_381_Q, (BLS12_381_Q - 1) // 2, BLS12_381_Q) == 1
    )
    assert not G1Point.from_compressed_bytes_unchecked(_bls_x(x)).is_in_subgroup()
    return x


def _bls_subgroup_x_plus_q() -> int:
    """x + q for a subgroup point's x small enough that x + q still fits below the flag bits."""
    for k in range(1, 100):
        x = int.from_bytes(BLS12_381.encode(BLS12_381.mul(BLS12_381.generator(), k)), "big") % 2**381
        if x + BLS12_381_Q < 2**381:
            return x + BLS12_381_Q
    raise AssertionError("no such point")


OFF_CURVE_X = next(
    x for x in range(1, 50) if pow((x**3 + 4) % BLS12_381_Q, (BLS12_381_Q - 1) // 2, BLS12_381_Q) != 1
)
BAD_BLS_ROOTS = {
    "all 0xff": b"\xff" * 48,
    "all zero (no compression flag)": bytes(48),
    "infinity with junk": bytes([0xC0]) + bytes(46) + b"\x01",
    "infinity with the sign flag": bytes([0xE0]) + bytes(47),
    "x + q": _bls_x(_bls_subgroup_x_plus_q()),
    "off the curve": _bls_x(OFF_CURVE_X),
    "outside the subgroup": _bls_x(_bls_x_outside_subgroup()),
    "47 bytes": BLS12_381.encode(BLS12_381.generator())[:47],
}
G_BN = BN254.encode(BN254.generator())
BAD_BN_ROOTS = {
    "off the curve": G_BN[:32] + (int.from_bytes(G_BN[32:], "big") + 1).to_bytes(32, "big"),
    "x + q": (1 + bn.field_modulus).to_bytes(32, "big") + G_BN[32:],
    "all 0xff": b"\xff" * 64,
    "63 bytes": G_BN[:63],
}


@pytest.mark.parametrize("name", BAD_BLS_ROOTS)
def test_bad_bls_roots_are_refused_in_our_words(name):
    with pytest.raises(InvalidRoot, match="^invalid root: ") as info:
        check_root(BLS, BAD_BLS_ROOTS[name])
    assert "Rust" not in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", BAD_BN_ROOTS)
def test_bad_bn_roots_are_refused(name):
    with pytest.raises(InvalidRoot, match="^invalid root: "):
        check_root(BN, BAD_BN_ROOTS[name])


@pytest.mark.parametrize("scheme", [BLS, BN])
def test_good_roots_and_the_empty_trees_root_are_accepted(scheme):
    curve = SCHEMES[scheme].curve
    g = curve.encode(curve.mul(curve.generator(), 12345))
    assert check_root(scheme, g) == g
    assert check_root(scheme, bytearray(g)) == g
    assert check_root(scheme, empty_root(curve)) == empty_root(curve)
    with pytest.raises(InvalidRoot, match="unknown scheme"):
        check_root("kzg-nope", g)


@pytest.mark.parametrize("scheme_name", ["bls16", "bn16"])
def test_an_empty_trees_proof_verifies_under_the_identity(scheme_name, request):
    scheme = request.getfixturevalue(scheme_name)
    tree = VerkleTree(scheme)
    assert tree.root_commitment == empty_root(scheme.curve)
    key = bytes(range(32))
    docs = [prove_multi(tree, [key])] + ([prove_single(tree, key)] if scheme.name == BLS else [])
    for doc in docs:
        verify_document(scheme, doc)
        verify_document(scheme, ProofDocument.from_json_text(doc.to_json_text()))


def test_verifier_and_documents_refuse_bad_roots(tree16):
    tree, contents = tree16
    doc = prove_multi(tree, sorted(contents)[:2])
    for bad in BAD_BLS_ROOTS.values():
        with pytest.raises(InvalidRoot):
            verify(tree.scheme, bad, doc.keys, doc.values, doc.proof)
        with pytest.raises(InvalidRoot):
            verify_document(tree.scheme, doc, bad)
        text = doc.to_json_text().replace(doc.root.hex(), bad.hex())
        with pytest.raises(MalformedProof, match="invalid root: "):
            ProofDocument.from_json_text(text)


@settings(max_examples=300)
@given(st.binary(min_size=48, max_size=48))
def test_any_48_bytes_are_a_root_or_refused_cleanly(data):
    try:
        root = check_root(BLS, data)
    except InvalidRoot as exc:
        assert str(exc).startswith("invalid root: ") and "Rust" not in str(exc)
        return
    assert BLS12_381.encode(BLS12_381.decode(root)) == root


@settings(max_examples=100)
@given(st.integers(1, BLS12_381.field.modulus - 1))
def test_xy_compression_agrees_with_arkworks(k):
    point = BLS12_381.mul(BLS12_381.generator(), k)
    assert bls_compress_xy(bytes(point.to_xy_bytes_be())) == BLS12_381.encode(point)


def test_xy_compression_refuses_what_the_precompiles_refuse():
    xy = bytes(G1Point().to_xy_bytes_be())
    assert bls_compress_xy(bytes(96)) == empty_root(BLS12_381)
    not_in_subgroup = bytes(
        G1Point.from_compressed_bytes_unchecked(_bls_x(_bls_x_outside_subgroup())).to_xy_bytes_be()
    )
    for bad in (
        xy[:95] + bytes([xy[95] ^ 1]),  # off the curve
        (int.from_bytes(xy[:48], "big") + BLS12_381_Q).to_bytes(48, "big") + xy[48:],  # x + q
        xy[:48] + (BLS12_381_Q - int.from_bytes(xy[48:], "big") + BLS12_381_Q).to_bytes(48, "big"),  # -y + q
        not_in_subgroup,
        xy[:95],
    ):
        with pytest.raises(InvalidPoint):
            bls_compress_xy(bad)


def test_root_checker_imports_without_web3():
    code = "import sys, verkle.roots, verkle.calldata; assert 'web3' not in sys.modules, 'web3 imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
