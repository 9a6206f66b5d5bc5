"""The library API on the embedded chain: the README's verkle example runs as written, the calldata the
pure modules build is web3's byte for byte, and the ABI they build it from is the deployed artifact's."""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from pathlib import Path

import pytest

import verkle
from evmkit import chain
from helpers.verkle_data import random_pairs
from verkle.contract import call_data, compile_merkle, compile_verifier, merkle_abi, verifier_abi
from verkle.curves import BLS12_381_Q
from verkle.proof import MULTI, SINGLE
from verkle.verifier_paths import paths_for, verifier_args

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module", autouse=True)
def cached_ceremony():
    """py-evm's 0x0a reloads the ceremony file on every call; load it once (c-kzg still verifies)."""
    import eth.precompiles.point_evaluation as pe

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pe, "load_trusted_setup", functools.lru_cache(maxsize=1)(pe.load_trusted_setup))
        yield


def test_readme_verkle_library_example_runs(capsys):
    text = README.read_text()
    start = text.index("\n### Library API (verkle)\n")
    section = text[start : text.index("\n### ", start + 1)]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, flags=re.S | re.M)
    assert blocks
    namespace: dict[str, object] = {"__name__": "readme_verkle"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md verkle Library API block {i + 1}", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "msm-point-evaluation True gas" in out and "msm-pairing True gas" in out
    assert "point-evaluation True gas" in out and "member True | stranger None |" in out


@pytest.mark.parametrize("name, width", [("kzg-bls12-381", 16), ("kzg-bls12-381", 256), ("kzg-bn254", 16)])
def test_abi_is_the_artifacts_and_calldata_is_web3s(name, width):
    scheme = verkle.load_scheme(name, width, insecure_dev_setup_ok=True)
    artifact = compile_verifier(scheme)
    assert list(verifier_abi(name)) == artifact.abi
    pairs = random_pairs(300, width)
    tree = verkle.VerkleTree.build(scheme, pairs, workers=1, progress=False)
    verifier = verkle.deploy_verifier(tree, chain=chain.embedded(block_gas_limit=60_000_000))
    assert verifier.root() == tree.root_commitment
    keys = [k for k, _ in pairs[:5]] + [bytes(32)]
    docs = {True: verkle.prove(tree, keys[0], single=True), False: verkle.prove(tree, keys)}
    for path in paths_for(name):
        doc = docs[path.proof_type == SINGLE]
        function, args = verifier_args(doc, path.name)
        web3_data = bytes.fromhex(verifier.contract.encode_abi(function, args=args).removeprefix("0x"))
        assert call_data(doc, path.name) == web3_data
        result = verifier.verify(doc, path.name)
        assert result.valid and result.calldata_bytes == len(web3_data)


def test_merkle_abi_is_the_artifacts():
    assert list(merkle_abi()) == compile_merkle().abi


def test_library_errors_are_clear():
    tree_pairs = random_pairs(40, 3)
    scheme = verkle.load_scheme("kzg-bls12-381", 16)
    tree = verkle.VerkleTree.build(scheme, tree_pairs, workers=1, progress=False)
    with pytest.raises(ValueError, match="a single proof covers one key, not 2"):
        verkle.prove(tree, [tree_pairs[0][0], tree_pairs[1][0]], single=True)
    doc = verkle.prove(tree, tree_pairs[0][0])
    assert doc.proof.type == MULTI and doc.values == (tree_pairs[0][1],)
    with pytest.raises(verkle.InvalidProof, match="another root"):
        verkle.verify(doc, root=verkle.VerkleTree.build(scheme, tree_pairs[1:], workers=1).root_commitment)
    with pytest.raises(ValueError, match="needs the root"):
        verkle.deploy_verifier(scheme)
    with pytest.raises(verkle.UnknownName, match="unknown verifier path 'fast'"):
        verkle.deploy_verifier(tree).verify(doc, "fast")


def test_onchain_verify_refuses_what_no_call_can_carry():
    """A proof for another scheme or width, or with a point that does not decode, is MalformedProof
    before anything is sent (neither valid nor invalid, as `verkle verify --onchain` exits 2); a proof
    for another root is checked against the contract's own root, and so is invalid."""
    pairs = random_pairs(60, 11)
    tree = verkle.VerkleTree.build(verkle.load_scheme("kzg-bls12-381", 16), pairs, workers=1, progress=False)
    verifier = verkle.deploy_verifier(tree, chain=chain.embedded(block_gas_limit=60_000_000))
    doc = verkle.prove(tree, [pairs[0][0], pairs[1][0]])
    assert verifier.verify(doc, gas=False).valid
    first = doc.proof.commitments[0]
    x = next(
        x for x in range(1, 50) if pow((x**3 + 4) % BLS12_381_Q, (BLS12_381_Q - 1) // 2, BLS12_381_Q) != 1
    )
    for bad in (bytes([first[0] & 0x7F]) + first[1:], (x | 1 << 383).to_bytes(48, "big")):
        for tampered in (
            replace(doc.proof, commitments=(bad,) + doc.proof.commitments[1:]),
            replace(doc.proof, openings=(bad, doc.proof.openings[1])),
        ):
            for path in ("msm-point-evaluation", "msm-pairing"):
                with pytest.raises(
                    verkle.MalformedProof, match="BLS12-381 point in the proof does not decode"
                ):
                    verifier.verify(replace(doc, proof=tampered), path)
    for name, width in (("kzg-bls12-381", 256), ("kzg-bn254", 16)):
        scheme = verkle.load_scheme(name, width, insecure_dev_setup_ok=True)
        other = verkle.prove(verkle.VerkleTree.build(scheme, pairs, workers=1, progress=False), pairs[0][0])
        expected = f"the proof is for {name} width {width}, this verifier checks kzg-bls12-381 width 16"
        with pytest.raises(verkle.MalformedProof, match=expected):
            verifier.verify(other)
    moved = verkle.VerkleTree.build(tree.scheme, pairs[1:], workers=1, progress=False)
    elsewhere = verkle.prove(moved, [pairs[1][0]])  # a sound proof, for a root the verifier does not hold
    verkle.verify(elsewhere, moved.root_commitment)
    assert not verifier.verify(elsewhere, gas=False).valid
    with pytest.raises(TypeError, match="doc must be a verkle.ProofDocument"):
        verifier.verify(b"abc")
