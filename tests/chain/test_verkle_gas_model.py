"""The verification gas model against receipts on the embedded py-evm chain (data the fit never saw),
under Osaka (the default) and Prague: their bytecode, MODEXP price and costs sections differ."""

from __future__ import annotations

import functools
import random

import pytest

from evmkit import chain
from evmkit import gas as schedule
from helpers.verkle_data import path_names
from verkle import gasmodel
from verkle.merkle import MerkleTree
from verkle.onchain import deploy_contract, deploy_merkle
from verkle.prover import prove_multi, prove_single
from verkle.schemes import load_scheme
from verkle.tree import VerkleTree
from verkle.verifier_paths import verifier_args


@pytest.fixture(scope="module", autouse=True)
def cached_ceremony():
    import eth.precompiles.point_evaluation as pe

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pe, "load_trusted_setup", functools.lru_cache(maxsize=1)(pe.load_trusted_setup))
        yield


def measured(session, contract, function, args) -> int:
    data = bytes.fromhex(contract.encode_abi(function, args=args).removeprefix("0x"))
    assert session.call(contract, function, *args)
    return session.send(contract.address, data, abi=contract.abi).gas_used


@pytest.mark.parametrize(
    "scheme_name, width, fork",
    [
        ("kzg-bls12-381", 256, "osaka"),
        ("kzg-bls12-381", 4096, "osaka"),
        ("kzg-bn254", 16, "osaka"),
        ("kzg-bls12-381", 256, "prague"),
        ("kzg-bn254", 16, "prague"),
    ],
)
def test_model_within_one_percent_on_every_path(scheme_name, width, fork):
    rng = random.Random(width + 99)
    scheme = load_scheme(scheme_name, width, insecure_dev_setup_ok=True)
    size = 30 if scheme_name == "kzg-bn254" else 900
    pairs = [(rng.randbytes(32), rng.randbytes(32)) for _ in range(size)]
    tree = VerkleTree.build(scheme, pairs, workers=1)
    session = chain.embedded(block_gas_limit=60_000_000, fork=fork)
    contract, _ = deploy_contract(session, scheme, tree.root_commitment)
    keys = [k for k, _ in pairs]
    for count in (1, 9):
        doc = prove_multi(tree, rng.sample(keys, count) + [rng.randbytes(32)])
        for path in path_names(scheme_name):
            if path == "point-evaluation":
                doc_single = prove_single(tree, keys[count])
                function, args = verifier_args(doc_single, path)
                shape = gasmodel.shape_of(doc_single, path)
            else:
                function, args = verifier_args(doc, path)
                shape = gasmodel.shape_of(doc, path)
            gas = measured(session, contract, function, args)
            predicted = gasmodel.estimate(shape, fork=fork).total
            assert abs(predicted - gas) / gas < 0.01, (path, count, predicted, gas)


@pytest.mark.parametrize("fork", ["osaka", "prague"])
def test_merkle_model_within_one_percent(fork):
    rng = random.Random(5)
    pairs = [(rng.randbytes(32), rng.randbytes(32)) for _ in range(3000)]
    tree = MerkleTree(pairs)
    session = chain.embedded(block_gas_limit=60_000_000, fork=fork)
    contract, _ = deploy_merkle(session, tree)
    shape = gasmodel.merkle_shape_single(tree, *pairs[7])
    gas = session.send(contract.address, shape.data, abi=contract.abi).gas_used
    assert abs(gasmodel.merkle_estimate(shape, fork=fork).total - gas) / gas < 0.01
    for count in (3, 30, 120):
        shape = gasmodel.merkle_shape_multi(tree, rng.sample(pairs, count))
        gas = session.send(contract.address, shape.data, abi=contract.abi).gas_used
        assert abs(gasmodel.merkle_estimate(shape, fork=fork).total - gas) / gas < 0.01, (count, gas)


def test_precompile_prices_follow_the_eips():
    from eth.precompiles.bls12_381.constants import G1_MSM_DISCOUNTS

    assert tuple(G1_MSM_DISCOUNTS) == schedule.G1MSM_DISCOUNTS
    assert schedule.g1msm_gas(1) == 12_000 and schedule.g1msm_gas(128) == 128 * 12_000 * 519 // 1000
    assert schedule.g1msm_gas(300) == 300 * 12_000 * 519 // 1000
    assert schedule.bls_pairing_gas(2) == 102_900 and schedule.bn_pairing_gas(2) == 113_000
    assert schedule.modexp_gas(32, (1 << 255) - 1, 32, 32) == 1354


def test_the_verifiers_in_contract_msm_price_table_matches_the_eip():
    """The verifier forwards msmGas(k) to G1MSM: unpack its ten-bit words as the Yul does."""
    from verkle.contract import _packed_discounts

    words = [int(w, 16) for w in _packed_discounts()]
    for k in range(1, 300):
        i = min(k, len(schedule.G1MSM_DISCOUNTS)) - 1
        discount = (words[i // 25] >> (10 * (i % 25))) & 0x3FF
        assert k * 12_000 * discount // 1000 == schedule.g1msm_gas(k)
