"""The generated BLS12-381 Verkle verifier and the Merkle baseline on the embedded py-evm chain."""

from __future__ import annotations

import functools
import random

import pytest
from web3.exceptions import ContractLogicError

from evmkit import chain
from evmkit.errors import TransactionReverted
from helpers.verkle_data import clustered_pairs, make_ptau, random_pairs
from verkle.calldata import xy
from verkle.merkle import MerkleTree
from verkle.onchain import deploy_contract, deploy_merkle, merkle_multi, merkle_single, verify_onchain
from verkle.prover import prove_multi, prove_single
from verkle.schemes import load_scheme
from verkle.tree import VerkleTree
from verkle.verifier_paths import verifier_args


@pytest.fixture(scope="module")
def bn16(tmp_path_factory):
    return load_scheme("kzg-bn254", 16, ptau=make_ptau(tmp_path_factory.mktemp("ptau"), 5))


@pytest.fixture(scope="module")
def tree_bn(bn16):
    pairs = random_pairs(24, 5) + clustered_pairs(6, 6)
    return VerkleTree.build(bn16, pairs, workers=1), dict(pairs)


@pytest.fixture(scope="module", autouse=True)
def cached_ceremony():
    """py-evm's 0x0a reloads the ceremony file on every call (~1.4 s); the harness loads it once.
    Only the loading is cached: every call still runs c-kzg's verify_kzg_proof."""
    import eth.precompiles.point_evaluation as pe

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pe, "load_trusted_setup", functools.lru_cache(maxsize=1)(pe.load_trusted_setup))
        yield


@pytest.fixture(scope="module")
def setup():
    scheme = load_scheme("kzg-bls12-381", 256)
    pairs = random_pairs(700, 51) + clustered_pairs(30, 52)
    tree = VerkleTree.build(scheme, pairs, workers=1)
    session = chain.embedded(block_gas_limit=60_000_000)
    contract, _ = deploy_contract(session, scheme, tree.root_commitment)
    return scheme, tree, dict(pairs), session, contract


def kinds(tree, contents, rng):
    present = sorted(contents)[::150][:3]
    other = next(
        k[:-1] + bytes([k[-1] ^ 1]) for k in sorted(contents) if k[:-1] + bytes([k[-1] ^ 1]) not in contents
    )
    while True:
        empty = rng.randbytes(32)
        if tree.path(empty)[1] is None:
            break
    return present, other, empty


def outcome(session, contract, function, args) -> bool:
    """True only when the verifier returns true; a revert (named error) counts as a rejection."""
    try:
        return bool(session.call(contract, function, *args))
    except (TransactionReverted, ContractLogicError):
        return False


def test_root_is_held_and_only_the_owner_moves_it(setup):
    scheme, tree, contents, session, contract = setup
    assert bytes(session.call(contract, "root")) == tree.root_commitment
    stranger = session.signers[1]
    with pytest.raises(TransactionReverted, match="NotOwner"):
        session.transact(contract, "setRoot", xy(tree.root_commitment), sender=stranger)
    with pytest.raises(TransactionReverted, match="InvalidRoot"):
        session.transact(contract, "setRoot", bytes(95))
    off_curve = bytes(47) + b"\x01" + bytes(47) + b"\x02"
    with pytest.raises(TransactionReverted, match="InvalidRoot"):
        session.transact(contract, "setRoot", off_curve)
    result = session.transact(contract, "setRoot", xy(tree.root_commitment))
    assert len(result.logs) == 1  # RootUpdated


def test_every_valid_proof_verifies_on_every_path(setup):
    scheme, tree, contents, session, contract = setup
    present, other, empty = kinds(tree, contents, random.Random(1))
    doc = prove_multi(tree, present + [other, empty])
    for path in ("msm-point-evaluation", "msm-pairing"):
        result = verify_onchain(session, contract, doc, path)
        assert result.valid and result.gas > 21_000, path
    for key in (present[0], other, empty):
        result = verify_onchain(session, contract, prove_single(tree, key), "point-evaluation")
        assert result.valid and result.gas > 50_000


def test_tampered_proofs_are_rejected_on_chain(setup):
    scheme, tree, contents, session, contract = setup
    rng = random.Random(2)
    present, other, empty = kinds(tree, contents, rng)
    multi = prove_multi(tree, present + [other, empty])
    single = prove_single(tree, present[1])
    checked = 0
    for doc, paths in ((multi, ("msm-point-evaluation", "msm-pairing")), (single, ("point-evaluation",))):
        for path in paths:
            function, args = verifier_args(doc, path)
            assert outcome(session, contract, function, args)
            proof_at = len(args) - 1
            for _ in range(12):  # random byte flips anywhere in the proof calldata
                proof = bytearray(args[proof_at])
                proof[rng.randrange(len(proof))] ^= rng.randrange(1, 256)
                assert not outcome(session, contract, function, args[:proof_at] + [bytes(proof)])
                checked += 1
            if function == "verifySingle":
                key, value, present_flag, proof = args
                assert not outcome(session, contract, function, [key, bytes(32), present_flag, proof])
                assert not outcome(session, contract, function, [key, value, not present_flag, proof])
                changed = bytes([key[0] ^ 0x80]) + key[1:]
                assert not outcome(session, contract, function, [changed, value, present_flag, proof])
                checked += 3
            else:
                keys, values, absent, proof = args
                i = next(j for j, v in enumerate(multi.values) if v is not None)
                assert not outcome(
                    session,
                    contract,
                    function,
                    [keys, values[:i] + [bytes(32)] + values[i + 1 :], absent, proof],
                )
                flipped = bytes([absent[0] ^ (0x80 >> i)]) + absent[1:]
                assert not outcome(session, contract, function, [keys, values, flipped, proof])
                changed = list(keys)
                changed[i] = bytes([keys[i][0]]) + bytes([keys[i][1] ^ 1]) + keys[i][2:]
                if sorted(changed) == changed:
                    assert not outcome(session, contract, function, [changed, values, absent, proof])
                assert not outcome(session, contract, function, [keys[::-1], values[::-1], absent, proof])
                checked += 4
    # the same proofs under another root
    session.transact(contract, "setRoot", xy(VerkleTree.build(scheme, random_pairs(10, 53)).root_commitment))
    try:
        for doc, path in (
            (multi, "msm-point-evaluation"),
            (multi, "msm-pairing"),
            (single, "point-evaluation"),
        ):
            assert not verify_onchain(session, contract, doc, path, gas=False).valid
            checked += 1
    finally:
        session.transact(contract, "setRoot", xy(tree.root_commitment))
    assert checked >= 50


def test_merkle_baseline_contract(setup):
    _, _, contents, session, _ = setup
    pairs = sorted(contents.items())
    tree = MerkleTree(pairs)
    contract, _ = deploy_merkle(session, tree)
    assert merkle_single(session, contract, tree, *pairs[3]).valid
    proof = tree.prove(*pairs[3])
    assert not session.call(contract, "verify", proof, pairs[3][0], bytes(32))
    assert not session.call(contract, "verify", proof[:-1] + [bytes(32)], *pairs[3])
    result = merkle_multi(session, contract, tree, pairs[10:40])
    assert result.valid and result.gas > 21_000
    stranger = session.signers[1]
    with pytest.raises(TransactionReverted, match="NotOwner"):
        session.transact(contract, "setRoot", bytes(32), sender=stranger)


def test_bn254_verifier_with_a_snarkjs_setup(bn16, tree_bn):
    """The BN254 path (ecMul / ecAdd / ecPairing): valid proofs pass, tampered ones do not."""
    tree, contents = tree_bn
    session = chain.embedded(block_gas_limit=60_000_000)
    contract, _ = deploy_contract(session, bn16, tree.root_commitment)
    assert bytes(session.call(contract, "root")) == tree.root_commitment
    rng = random.Random(5)
    present, other, empty = kinds(tree, contents, rng)
    doc = prove_multi(tree, present[:2] + [other, empty])
    result = verify_onchain(session, contract, doc)
    assert result.valid and result.gas > 100_000
    function, args = verifier_args(doc, "ecmul-pairing")
    keys, values, absent, proof = args
    i = next(j for j, v in enumerate(doc.values) if v is not None)
    assert not outcome(
        session, contract, function, [keys, values[:i] + [bytes(32)] + values[i + 1 :], absent, proof]
    )
    for _ in range(8):
        tampered = bytearray(proof)
        tampered[rng.randrange(len(tampered))] ^= rng.randrange(1, 256)
        assert not outcome(session, contract, function, [keys, values, absent, bytes(tampered)])
    with pytest.raises(TransactionReverted, match="NotOwner"):
        session.transact(contract, "setRoot", tree.root_commitment, sender=session.signers[1])
