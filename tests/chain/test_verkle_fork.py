"""Verkle under each fork (issue 14): what compiles where, which rules a deployment and a verification
follow, the gas cap, CLZ under Osaka, and the gas model's fork-dependent terms, on the embedded chain."""

from __future__ import annotations

import random

import pytest

from evmkit import chain
from evmkit import gas as schedule
from evmkit.chain import ForkMismatch
from evmkit.errors import GasLimitExceeded
from helpers.verkle_data import random_pairs
from verkle import gasmodel
from verkle.calldata import xy
from verkle.cli import main as verkle_main
from verkle.contract import compile_merkle, compile_verifier, render_verifier
from verkle.merkle import MerkleTree
from verkle.onchain import (
    _constructor_args,
    deploy_contract,
    deploy_merkle,
    deploy_verifier,
    deployment_estimate,
    merkle_multi,
)
from verkle.prover import prove_multi
from verkle.schemes import SCHEMES, ForkUnsupported, load_scheme
from verkle.tree import VerkleTree
from verkle.verifier_paths import verifier_args


@pytest.fixture(scope="module")
def bls16():
    scheme = load_scheme("kzg-bls12-381", 16)
    return scheme, VerkleTree.build(scheme, random_pairs(200, 81), workers=1)


@pytest.fixture(scope="module")
def bn16():
    scheme = load_scheme("kzg-bn254", 16, insecure_dev_setup_ok=True)
    return scheme, VerkleTree.build(scheme, random_pairs(24, 82), workers=1)


def test_bls_verifiers_are_refused_by_name_before_prague(bls16, capsys):
    scheme, tree = bls16
    for refuse in (
        lambda: compile_verifier(scheme, fork="cancun"),
        lambda: render_verifier(scheme, fork="cancun"),
        lambda: deploy_verifier(tree, fork="cancun"),
        lambda: gasmodel.fixed_terms(
            gasmodel.shape_of(prove_multi(tree, [b"\1" * 32]), "msm-pairing"), "cancun"
        ),
    ):
        with pytest.raises(ForkUnsupported, match=r"EIP-2537.*cancun rules lack.*--fork prague or osaka"):
            refuse()
    assert verkle_main(["verifier", "--fork", "cancun"]) == 2
    err = capsys.readouterr().err
    assert "cancun rules lack" in err and "--scheme kzg-bn254 runs there" in err
    assert SCHEMES["kzg-bn254"].check_fork("cancun").name == "cancun"


def test_what_each_scheme_compiles_for_under_each_fork():
    bls, bn = SCHEMES["kzg-bls12-381"], SCHEMES["kzg-bn254"]
    assert [bls.evm_version(f) for f in ("prague", "osaka")] == ["prague", "osaka"]
    # BN254 keeps Paris (no PUSH0, no MCOPY) for older chains, but under Osaka CLZ (and PUSH0) pay
    assert [bn.evm_version(f) for f in ("cancun", "prague", "osaka")] == ["paris", "paris", "osaka"]
    for scheme in (
        load_scheme("kzg-bls12-381", 16),
        load_scheme("kzg-bn254", 16, insecure_dev_setup_ok=True),
    ):
        assert "clz(" in render_verifier(scheme, fork="osaka")
        assert "clz(" not in render_verifier(scheme, fork="prague")
        assert "clz(" not in render_verifier(scheme, fork="osaka", clz=False)
        with pytest.raises(ValueError, match="CLZ"):
            render_verifier(scheme, fork="prague", clz=True)


def _code_without_metadata(code: bytes) -> bytes:
    """Runtime code less solc's CBOR metadata trailer (its length is the last two bytes)."""
    return code[: -(int.from_bytes(code[-2:], "big") + 2)]


def test_cancun_reuses_pragues_costs_because_its_bytecode_is_the_same():
    """gasmodel.costs_fork gives Cancun Prague's fitted costs: exact only while both compile alike."""
    bn = load_scheme("kzg-bn254", 16, insecure_dev_setup_ok=True)
    assert compile_verifier(bn, fork="cancun") == compile_verifier(bn, fork="prague")
    # the Merkle baseline's code differs only in its metadata (whose hash covers evmVersion)
    merkle = [compile_merkle(fork=f).deployed_bytecode for f in ("cancun", "prague")]
    assert [_code_without_metadata(c) for c in merkle[:1]] == [_code_without_metadata(merkle[1])]
    assert gasmodel.costs_fork("cancun") == "prague"
    assert gasmodel.costs_fork("osaka") == "osaka" and gasmodel.costs_fork("prague") == "prague"


def test_modexp_is_priced_by_the_forks_schedule():
    """The one inversion: p - 2 has 255 bits (BLS12-381's r) or 254 (BN254's); EIP-2565 before Osaka,
    EIP-7883 in it. The verifier forwards the EIP-7883 bound, 16 * 254: never less than the price."""
    assert gasmodel.modexp_gas("kzg-bls12-381", "prague") == 16 * 254 // 3 == 1354
    assert gasmodel.modexp_gas("kzg-bn254", "prague") == 16 * 253 // 3 == 1349
    assert gasmodel.modexp_gas("kzg-bls12-381", "osaka") == 16 * 254 == schedule.MODEXP_32_GAS_BOUND
    assert gasmodel.modexp_gas("kzg-bn254", "osaka") == 16 * 253
    assert gasmodel.modexp_gas("kzg-bn254", "cancun") == 1349


def test_a_chain_session_decides_the_fork_and_a_different_one_is_refused(bls16):
    scheme, tree = bls16
    prague = chain.embedded(block_gas_limit=60_000_000, fork="prague")
    verifier = deploy_verifier(tree, chain=prague)
    assert verifier.fork.name == "prague"
    code = bytes(prague.w3.eth.get_code(verifier.contract.address))
    assert compile_verifier(scheme, fork="prague").runtime_matches(code)
    assert not compile_verifier(scheme, fork="osaka").runtime_matches(code)
    with pytest.raises(ForkMismatch, match="runs Prague rules.*not Osaka's"):
        deploy_verifier(tree, chain=prague, fork="osaka")
    assert deploy_verifier(tree).fork.name == "osaka"  # a fresh chain: the default


def test_cancun_bn254_and_merkle_within_one_percent_without_the_calldata_floor(bn16):
    """Cancun has no EIP-7623 floor: the model must not add one (the BN254 walk, a sparse multiproof)."""
    scheme, tree = bn16
    session = chain.embedded(block_gas_limit=60_000_000, fork="cancun")
    verifier = deploy_verifier(tree, chain=session)
    rng = random.Random(4)
    keys = [k for k, _ in random_pairs(24, 82)]
    for count in (1, 6):
        doc = prove_multi(tree, rng.sample(keys, count) + [rng.randbytes(32)])
        result = verifier.verify(doc)
        predicted = gasmodel.estimate(gasmodel.shape_of(doc, "ecmul-pairing"), fork="cancun")
        assert result.valid and abs(predicted.total - result.gas) / result.gas < 0.01, (count, result.gas)
        assert schedule.FLOOR_TOP_UP_TERM not in predicted.as_dict()


def test_clz_saves_gas_under_osaka(bls16):
    """The same proof, the same chain: the verifier with CLZ (Osaka's default) against one without."""
    scheme, tree = bls16
    session = chain.embedded(block_gas_limit=60_000_000)
    with_clz, _ = session.deploy(compile_verifier(scheme, fork="osaka"), xy(tree.root_commitment))
    without, _ = session.deploy(compile_verifier(scheme, fork="osaka", clz=False), xy(tree.root_commitment))
    keys = sorted(k for k, _ in random_pairs(200, 81))
    doc = prove_multi(tree, keys[::12])  # 17 keys, neighbours sharing nodes
    function, args = verifier_args(doc, "msm-point-evaluation")
    gas = [session.transact(c, function, *args).gas_used for c in (with_clz, without)]
    assert gas[0] < gas[1] - 500, gas


def test_what_cannot_fit_the_gas_cap_is_refused_before_sending(bls16):
    """A deployment, and a verification (here the Merkle twin's, whose transactions go the same way as
    the verifiers': tests/rpc/test_verkle_fork_cap.py sends a Verkle one on anvil), over the chain's cap
    is refused with its estimate, and nothing is sent."""
    scheme, tree = bls16
    tight = chain.embedded(block_gas_limit=1_000_000)
    with pytest.raises(GasLimitExceeded, match=r"deploying the kzg-bls12-381 width-16 verifier needs about"):
        deploy_contract(tight, scheme, tree.root_commitment)
    assert tight.w3.eth.block_number == 0  # nothing was sent
    pairs = random_pairs(3000, 83)
    merkle = MerkleTree(pairs)
    contract, _ = deploy_merkle(tight, merkle)
    chosen = random.Random(1).sample(pairs, 150)
    estimate = gasmodel.merkle_estimate(gasmodel.merkle_shape_multi(merkle, chosen)).total
    assert estimate > 1_000_000
    sent = tight.w3.eth.block_number
    with pytest.raises(
        GasLimitExceeded, match=rf"verifying 150 keys \(merkle-multi\) needs about {estimate:,}"
    ):
        merkle_multi(tight, contract, merkle, chosen)
    assert tight.w3.eth.block_number == sent


def test_the_deployment_estimate_bounds_the_receipt_closely(bls16, bn16):
    for fork in ("prague", "osaka"):
        for scheme, tree in (bls16, bn16):
            session = chain.embedded(block_gas_limit=60_000_000, fork=fork)
            verifier = deploy_verifier(tree, chain=session)
            artifact = compile_verifier(scheme, fork=fork)
            init = artifact.bytecode + _constructor_args(xy(tree.root_commitment))
            estimate = deployment_estimate(artifact, init, scheme.name, fork)
            used = verifier.receipt.gas_used
            assert used <= estimate <= used * 1.05, (fork, scheme.name, used, estimate)
