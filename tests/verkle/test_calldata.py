"""The verifiers' calldata read back (calldata.py): valid calls round-trip and verify; every
non-canonical form the contracts revert on is MalformedProof; bad points are invalid, not malformed."""

from __future__ import annotations

import contextlib
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_arkworks_bls12381 import G1Point

from verkle.calldata import decode_multi_call, decode_single_call, multi_call, single_call
from verkle.curves import BLS12_381_Q
from verkle.offchain import verify_call
from verkle.proof import MalformedProof, ProofDocument
from verkle.prover import prove_multi, prove_single
from verkle.roots import InvalidRoot
from verkle.tree import VerkleTree

MULTI_FUNCTIONS = {"kzg-bls12-381": ("verifyMulti", "verifyMultiPairing"), "kzg-bn254": ("verifyMulti",)}


def claim_keys(tree: VerkleTree, contents: dict[bytes, bytes], seed: int) -> list[bytes]:
    """Present keys (some sharing long prefixes), one whose path ends at another key's leaf, one
    ending in an empty slot: 7 keys, so the absent bitmap has unused bits."""
    rng = random.Random(seed)
    present = sorted(contents)[:: max(1, len(contents) // 4)][:4] + [max(contents)]
    other = next(
        k[:-1] + bytes([k[-1] ^ 1]) for k in sorted(contents) if k[:-1] + bytes([k[-1] ^ 1]) not in contents
    )
    empty = next(k for k in iter(lambda: rng.randbytes(32), None) if tree.path(k)[1] is None)
    return present + [other, empty]


def multi_args(doc: ProofDocument, function: str) -> list:
    return multi_call(doc, pairing=function == "verifyMultiPairing")


@pytest.fixture(scope="module", params=["tree16", "tree_bn"])
def case(request):
    tree, contents = request.getfixturevalue(request.param)
    doc = prove_multi(tree, claim_keys(tree, contents, 1))
    assert len(doc.keys) % 8 and None in doc.values and doc.proof.commitments
    return tree.scheme, doc


def _decode(scheme, function: str, args: list, width: int | None = None):
    return decode_multi_call(
        *args, scheme_name=scheme.name, width=width or scheme.width, pairing=function == "verifyMultiPairing"
    )


def test_multi_calls_round_trip_and_verify(case):
    scheme, doc = case
    for function in MULTI_FUNCTIONS[scheme.name]:
        args = multi_args(doc, function)
        decoded = _decode(scheme, function, args)
        assert decoded.to_proof() == doc.proof
        assert (decoded.keys, decoded.values) == (doc.keys, doc.values)
        assert verify_call(scheme, doc.root, function, args) is True


def test_single_calls_round_trip_and_verify(tree16):
    tree, contents = tree16
    for key in claim_keys(tree, contents, 2)[-3:]:
        doc = prove_single(tree, key)
        args = list(single_call(doc))
        decoded = decode_single_call(*args, width=16)
        assert decoded.to_proof() == doc.proof and decoded.values == doc.values
        assert verify_call(tree.scheme, doc.root, "verifySingle", args) is True


def _flip_bit(absent: bytes, i: int) -> bytes:
    out = bytearray(absent)
    out[i >> 3] ^= 0x80 >> (i & 7)
    return bytes(out)


def _multi_mutations(doc: ProofDocument, function: str, pt: int, pi: int) -> dict[str, list]:
    keys, values, absent, proof = multi_args(doc, function)
    gone = doc.values.index(None)
    swapped = [keys[1], keys[0]] + keys[2:], [values[1], values[0]] + values[2:]
    bits = absent
    if (doc.values[0] is None) != (doc.values[1] is None):
        bits = _flip_bit(_flip_bit(absent, 0), 1)
    return {
        "absent key with a non-zero value": [
            keys,
            values[:gone] + [b"\x01" * 32] + values[gone + 1 :],
            absent,
            proof,
        ],
        "an unused bitmap bit set": [keys, values, absent[:-1] + bytes([absent[-1] | 1]), proof],
        "a trailing byte": [keys, values, absent, proof + b"\x00"],
        "a missing byte": [keys, values, absent, proof[:-1]],
        "one value too few": [keys, values[:-1], absent, proof],
        "one value too many": [keys, values + [bytes(32)], absent, proof],
        "a bitmap byte too many": [keys, values, absent + b"\x00", proof],
        "a bitmap byte too few": [keys, values, absent[:-1], proof],
        "path kind 3": [keys, values, absent, bytes([0xC0 | proof[0] & 63]) + proof[1:]],
        "keys out of order": [swapped[0], swapped[1], bits, proof],
        "a repeated key": [[keys[0], keys[0]] + keys[2:], values, absent, proof],
        "no keys": [[], [], b"", proof],
        "65536 keys": [
            [i.to_bytes(32, "big") for i in range(65536)],
            [bytes(32)] * 65536,
            bytes(8192),
            proof,
        ],
        "no D and pi": [keys, values, absent, proof[: pt + pi - 1]],
        "a 33-byte key": [[keys[0] + b"\x00"] + keys[1:], values, absent, proof],
        "a 31-byte value": [keys, [values[0][:31]] + values[1:], absent, proof],
    }


MULTI_MUTATIONS = [
    "absent key with a non-zero value",
    "an unused bitmap bit set",
    "a trailing byte",
    "a missing byte",
    "one value too few",
    "one value too many",
    "a bitmap byte too many",
    "a bitmap byte too few",
    "path kind 3",
    "keys out of order",
    "a repeated key",
    "no keys",
    "65536 keys",
    "no D and pi",
    "a 33-byte key",
    "a 31-byte value",
]


@pytest.mark.parametrize("mutation", MULTI_MUTATIONS)
def test_non_canonical_multi_calls_are_malformed(case, mutation):
    scheme, doc = case
    pt = 96 if scheme.name == "kzg-bls12-381" else 64
    for function in MULTI_FUNCTIONS[scheme.name]:
        pi = 48 if function == "verifyMulti" and pt == 96 else pt
        args = _multi_mutations(doc, function, pt, pi)[mutation]
        with pytest.raises(MalformedProof):
            verify_call(scheme, doc.root, function, args)


def test_a_path_deeper_than_the_tree_is_malformed(case):
    """Width 16 has 64 levels, all a path byte can name; read the same bytes as a width-256 call."""
    scheme, doc = case
    function = MULTI_FUNCTIONS[scheme.name][0]
    keys, values, absent, proof = multi_args(doc, function)
    deep = bytes([proof[0] & 0xC0 | 32]) + proof[1:]
    with pytest.raises(MalformedProof, match="depth 33 of 32"):
        _decode(scheme, function, [keys, values, absent, deep], width=256)


@pytest.fixture(scope="module")
def singles(tree16):
    tree, contents = tree16
    keys = claim_keys(tree, contents, 3)
    return tree.scheme, prove_single(tree, keys[0]), prove_single(tree, keys[-1])


def test_non_canonical_single_calls_are_malformed(singles):
    scheme, present, absent = singles
    key, value, is_present, proof = single_call(absent)
    assert not is_present and value == bytes(32)
    for bad in (
        [key, bytes(31) + b"\x01", False, proof],
        [key, value, False, proof + b"\x00"],
        [key, value, False, proof[:-1]],
        [key, value, False, b""],
        [key, value, False, bytes([0xC0 | proof[0] & 63]) + proof[1:]],
        [key + b"\x00", value, False, proof],
        [key, value, 0, proof],
    ):
        with pytest.raises(MalformedProof):
            verify_call(scheme, absent.root, "verifySingle", bad)
    key, value, _, proof = single_call(present)
    with pytest.raises(MalformedProof, match="depth 33 of 32"):
        decode_single_call(key, value, True, bytes([proof[0] & 0xC0 | 32]) + proof[1:], 256)


def test_wrong_claims_are_invalid_not_malformed(case, singles):
    scheme, doc = case
    function = MULTI_FUNCTIONS[scheme.name][0]
    keys, values, absent, proof = multi_args(doc, function)
    i = next(j for j, v in enumerate(doc.values) if v is not None)
    zeroed = values[:i] + [bytes(32)] + values[i + 1 :]
    assert verify_call(scheme, doc.root, function, [keys, zeroed, absent, proof]) is False
    assert verify_call(scheme, doc.root, function, [keys, zeroed, _flip_bit(absent, i), proof]) is False
    with pytest.raises(MalformedProof, match="claimed absent with a non-zero value"):
        verify_call(scheme, doc.root, function, [keys, values, _flip_bit(absent, i), proof])
    # whole points too many or too few for the paths: the contract's walk returns false, no revert
    at, pt = len(doc.proof.path_bytes()), 96 if scheme.name == "kzg-bls12-381" else 64
    assert (
        verify_call(scheme, doc.root, function, [keys, values, absent, proof[:at] + proof[at + pt :]])
        is False
    )
    extra = proof[:at] + proof[at : at + pt] + proof[at:]
    assert verify_call(scheme, doc.root, function, [keys, values, absent, extra]) is False
    scheme, present, absent_doc = singles
    key, value, _, proof = single_call(present)
    assert verify_call(scheme, present.root, "verifySingle", [key, bytes(32), True, proof]) is False
    assert verify_call(scheme, present.root, "verifySingle", [key, bytes(32), False, proof]) is False
    key, value, _, proof = single_call(absent_doc)
    assert verify_call(scheme, absent_doc.root, "verifySingle", [key, value, True, proof]) is False


def _bls_bad_points() -> dict[str, bytes]:
    g = bytes(G1Point().to_xy_bytes_be())
    x = next(
        x for x in range(1, 50) if pow((x**3 + 4) % BLS12_381_Q, (BLS12_381_Q - 1) // 2, BLS12_381_Q) == 1
    )
    outside = bytes(
        G1Point.from_compressed_bytes_unchecked((x | 1 << 383).to_bytes(48, "big")).to_xy_bytes_be()
    )
    return {
        "off the curve": g[:95] + bytes([g[95] ^ 1]),
        "outside the subgroup": outside,
        "x + q": (int.from_bytes(g[:48], "big") + BLS12_381_Q).to_bytes(48, "big") + g[48:],
        "another valid point": g,
    }


def _bn_bad_points() -> dict[str, bytes]:
    from py_ecc import optimized_bn128 as bn

    from verkle.curves import BN254

    g = BN254.encode(BN254.generator())
    return {
        "off the curve": g[:63] + bytes([g[63] ^ 1]),
        "x + q": (int.from_bytes(g[:32], "big") + bn.field_modulus).to_bytes(32, "big") + g[32:],
        "another valid point": g,
    }


def test_bad_points_are_invalid_not_malformed(case):
    """On-chain a precompile refuses a bad point and the verifier returns false: so here False."""
    scheme, doc = case
    bad_points = _bls_bad_points() if scheme.name == "kzg-bls12-381" else _bn_bad_points()
    at, pt = len(doc.proof.path_bytes()), 96 if scheme.name == "kzg-bls12-381" else 64
    for function in MULTI_FUNCTIONS[scheme.name]:
        keys, values, absent, proof = multi_args(doc, function)
        pi_at = len(proof) - (48 if function == "verifyMulti" and pt == 96 else pt)
        d_at = pi_at - pt
        for name, point in bad_points.items():
            for where in (at, d_at) + ((pi_at,) if len(proof) - pi_at == pt else ()):
                tampered = proof[:where] + point + proof[where + pt :]
                assert verify_call(scheme, doc.root, function, [keys, values, absent, tampered]) is False, (
                    name,
                    where,
                )
        if len(proof) - pi_at != pt:  # a compressed pi (0x0a's input) that is no point at all
            junk_pi = proof[:pi_at] + b"\xff" * 48
            assert verify_call(scheme, doc.root, function, [keys, values, absent, junk_pi]) is False


def test_a_bad_root_is_refused(case):
    scheme, doc = case
    function = MULTI_FUNCTIONS[scheme.name][0]
    with pytest.raises(InvalidRoot):
        verify_call(scheme, b"\xff" * len(doc.root), function, multi_args(doc, function))


@pytest.fixture(scope="module")
def bls_doc(tree16) -> ProofDocument:
    tree, contents = tree16
    return prove_multi(tree, claim_keys(tree, contents, 4))


@settings(max_examples=60)
@given(st.data())
def test_tampered_calls_never_verify(bls16, bls_doc, data):
    """Any byte of any argument changed: False or MalformedProof, never True, nothing else raised."""
    function = data.draw(st.sampled_from(["verifyMulti", "verifyMultiPairing"]))
    args = multi_args(bls_doc, function)
    which = data.draw(st.sampled_from([0, 1, 2, 3]))
    if which in (0, 1):
        j = data.draw(st.integers(0, len(args[which]) - 1))
        item = bytearray(args[which][j])
        item[data.draw(st.integers(0, 31))] ^= data.draw(st.integers(1, 255))
        args[which] = args[which][:j] + [bytes(item)] + args[which][j + 1 :]
    else:
        item = bytearray(args[which])
        item[data.draw(st.integers(0, len(item) - 1))] ^= data.draw(st.integers(1, 255))
        args[which] = bytes(item)
    with contextlib.suppress(MalformedProof):
        assert verify_call(bls16, bls_doc.root, function, args) is False


def _undecodable_compressed() -> dict[str, bytes]:
    """48-byte compressed BLS12-381 encodings with no x || y form at all."""
    x = next(
        x for x in range(1, 50) if pow((x**3 + 4) % BLS12_381_Q, (BLS12_381_Q - 1) // 2, BLS12_381_Q) != 1
    )
    g = bytes(G1Point().to_compressed_bytes())
    return {
        "x off the curve": (x | 1 << 383).to_bytes(48, "big"),
        "compression flag cleared": bytes([g[0] & 0x7F]) + g[1:],
    }


def test_building_calldata_from_an_undecodable_point_is_malformed(bls_doc):
    """A document's compressed point that does not decompress cannot be put in x || y calldata: the
    builder says MalformedProof (the project's error, naming why), not arkworks' bare ValueError."""
    proof = bls_doc.proof
    for name, bad in _undecodable_compressed().items():
        tampered = [
            replace(proof, commitments=(bad,) + proof.commitments[1:]),
            replace(proof, openings=(bad, proof.openings[1])),
        ]
        for p in tampered:
            doc = replace(bls_doc, proof=p)
            for pairing in (False, True):
                with pytest.raises(MalformedProof, match="does not decode") as info:
                    multi_call(doc, pairing=pairing)
                assert "BLS12-381" in str(info.value), name
        doc = replace(bls_doc, proof=replace(proof, openings=(proof.openings[0], bad)))
        with pytest.raises(MalformedProof, match="does not decode"):
            multi_call(doc, pairing=True)  # pi as x || y
        assert multi_call(doc)[3].endswith(bad)  # compressed, as 0x0a takes it: the contract says false
