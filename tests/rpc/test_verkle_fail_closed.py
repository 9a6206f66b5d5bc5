"""The verifiers fail closed, on a real node (anvil from npm) under several rule sets.

Two outcomes only: a wrong proof returns false; a check that could not run (a missing precompile, too
little gas) or calldata that is not canonical reverts with a named error. Each test names the review
finding it holds (issue "Verkle verifiers that fail closed").
"""

from __future__ import annotations

import os
import random

import pytest
from eth_abi import encode
from eth_utils import keccak
from web3.exceptions import ContractLogicError

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import TransactionReverted
from helpers.verkle_data import clustered_pairs, make_ptau, path_names, random_pairs
from verkle.calldata import xy
from verkle.contract import compile_verifier
from verkle.errors import InvalidRoot
from verkle.onchain import MissingPrecompile, deploy_contract
from verkle.prover import prove_multi, prove_single
from verkle.roots import check_root
from verkle.schemes import load_scheme
from verkle.tree import VerkleTree
from verkle.verifier_paths import verifier_args

pytestmark = pytest.mark.rpc

KEY_ENV, STRANGER_ENV = "VERKLE_FC_KEY", "VERKLE_FC_STRANGER"


def _session(node) -> chain.ChainSession:
    os.environ[KEY_ENV], os.environ[STRANGER_ENV] = node.private_keys[0], node.private_keys[1]
    return chain.rpc(node.url, KEY_ENV, (STRANGER_ENV,))


@pytest.fixture(scope="module")
def bls():
    scheme = load_scheme("kzg-bls12-381", 16)
    pairs = random_pairs(300, 71) + clustered_pairs(20, 72)
    return scheme, VerkleTree.build(scheme, pairs, workers=1), pairs


@pytest.fixture(scope="module")
def bn(tmp_path_factory):
    scheme = load_scheme("kzg-bn254", 16, ptau=make_ptau(tmp_path_factory.mktemp("ptau"), 5))
    pairs = random_pairs(20, 73)
    return scheme, VerkleTree.build(scheme, pairs, workers=1), pairs


@pytest.fixture(scope="module")
def prague():
    with start_anvil(gas_limit=60_000_000, hardfork="prague") as node:
        yield node


def _proofs(tree, pairs, rng):
    """One valid document per path: a multiproof of present, absent and other-leaf keys, and a single."""
    keys = sorted(k for k, _ in pairs)
    multi = prove_multi(tree, rng.sample(keys, 5) + [rng.randbytes(32)])
    single = prove_single(tree, keys[7])
    return {path: (single if path == "point-evaluation" else multi) for path in path_names(tree.scheme.name)}


def _outcome(session, contract, function, args, gas=None) -> object:
    """True / False as the verifier returned it, or the revert reason."""
    try:
        return bool(session.call(contract, function, *args, gas=gas))
    except (TransactionReverted, ContractLogicError) as exc:
        return getattr(exc, "reason", None) or str(exc)


def _raw_outcome(session, contract, data: bytes) -> object:
    from evmkit.chain import _reverted

    try:
        out = session.w3.eth.call({"to": contract.address, "data": "0x" + data.hex(), "gas": 30_000_000})
    except Exception as exc:  # noqa: BLE001 - decoded below into the revert's name
        return _reverted(exc, contract.abi).reason
    return bool(int.from_bytes(out, "big"))


# -------------------------------------------------------------- finding 1: missing precompiles


@pytest.mark.parametrize("fork", ["paris", "shanghai", "cancun", "prague", "osaka"])
def test_deploy_is_refused_where_a_precompile_is_missing_and_works_elsewhere(fork, bls, bn):
    scheme, tree, pairs = bls
    with start_anvil(gas_limit=60_000_000, hardfork=fork) as node:
        session = _session(node)
        if fork in ("paris", "shanghai", "cancun"):  # Cancun has 0x0a but not EIP-2537; before it, neither
            missing = "0x0a POINT_EVALUATION" if fork != "cancun" else "0x0b BLS12_G1ADD"
            with pytest.raises(MissingPrecompile, match=rf"lacks {missing}.*kzg-bn254 \(ecmul-pairing\)"):
                deploy_contract(session, scheme, tree.root_commitment)
            if fork == "cancun":  # the constructor refuses on its own, whoever deploys it
                with pytest.raises(TransactionReverted, match=r"PrecompileUnavailable\(0x0+b\)"):
                    session.deploy(compile_verifier(scheme, fork="prague"), xy(tree.root_commitment))
            schemes = [(bn[0], bn[1], bn[2])]  # the scheme the message names works there
        else:
            schemes = [bls, bn]
        for sch, tr, prs in schemes:
            contract, _ = deploy_contract(session, sch, tr.root_commitment)
            for path, doc in _proofs(tr, prs, random.Random(1)).items():
                function, args = verifier_args(doc, path)
                assert _outcome(session, contract, function, args) is True, (fork, path)


def test_a_verifier_on_a_chain_without_its_precompiles_reverts_never_true(bls, prague):
    """The review's forgery: on a chain without EIP-2537 (here: a Prague deployment's state loaded into a
    Cancun node), one EMPTY path byte, D = 96 zero bytes and pi = infinity 'proved' a present key absent."""
    scheme, tree, pairs = bls
    session = _session(prague)
    contract, _ = deploy_contract(session, scheme, tree.root_commitment)
    dump = session.w3.provider.make_request("anvil_dumpState", [])["result"]
    key = pairs[0][0]
    forged = [[key], [bytes(32)], bytes([0x80]), bytes([0x40]) + bytes(96) + bytes([0xC0]) + bytes(47)]
    forged_pairing = forged[:3] + [bytes([0x40]) + bytes(96) + bytes(96)]
    valid = _proofs(tree, pairs, random.Random(2))
    for fork, missing in (("cancun", "0x0+c"), ("shanghai", None)):
        with start_anvil(gas_limit=60_000_000, hardfork=fork) as node:
            there = _session(node)
            assert there.w3.provider.make_request("anvil_loadState", [dump])["result"] is True
            moved = there.contract(contract.address, contract.abi)
            outcomes = [
                _outcome(there, moved, "verifyMulti", forged),
                _outcome(there, moved, "verifyMultiPairing", forged_pairing),
            ]
            outcomes += [
                _outcome(there, moved, *verifier_args(doc, path))
                for path, doc in valid.items()
                if path != "point-evaluation" or fork == "shanghai"
            ]
            for outcome in outcomes:
                assert outcome not in (True, False), (fork, outcome)  # never a verdict
                if missing:
                    assert (
                        f"PrecompileUnavailable({missing[:-1]}" in outcome
                        or "PrecompileUnavailable(0x" in outcome
                    )
            if fork == "cancun":  # 0x0a is there: the single-key path still works
                doc = valid["point-evaluation"]
                assert _outcome(there, moved, *verifier_args(doc, "point-evaluation")) is True


# -------------------------------------------------------------- findings 2 and 3: gas


def _gas_used(session, contract, function, args, limit=30_000_000) -> int:
    data = bytes.fromhex(contract.encode_abi(function, args=list(args)).removeprefix("0x"))
    return session.send(contract.address, data, gas=limit, abi=contract.abi).gas_used


def _tampered_value(function, args):
    args = list(args)
    if function == "verifySingle":
        args[1] = bytes(31) + b"\x07"
        args[2] = True
    else:
        values = list(args[1])
        values[0] = bytes(31) + b"\x07"
        args[1] = values
        absent = bytearray(args[2])
        absent[0] &= 0x7F  # key 0 claimed present
        args[2] = bytes(absent)
    return args


def test_a_refused_proof_costs_at_most_one_and_a_half_valid_ones(bls, bn, prague):
    session = _session(prague)
    ratios = {}
    for scheme, tree, pairs in (bls, bn):
        contract, _ = deploy_contract(session, scheme, tree.root_commitment)
        for path, doc in _proofs(tree, pairs, random.Random(3)).items():
            function, args = verifier_args(doc, path)
            valid = _gas_used(session, contract, function, args)
            bad_args = _tampered_value(function, args)
            assert _outcome(session, contract, function, bad_args) is False
            bad = [
                _gas_used(session, contract, function, bad_args, limit) for limit in (30_000_000, 59_000_000)
            ]
            # a point the precompile refuses: pi replaced by the generator's encoding plus one in x
            proof = bytearray(args[-1])
            proof[-1] ^= 1
            broken = list(args[:-1]) + [bytes(proof)]
            assert _outcome(session, contract, function, broken) is False
            bad.append(_gas_used(session, contract, function, broken))
            ratios[(scheme.name, path)] = max(bad) / valid
    assert all(r <= 1.5 for r in ratios.values()), ratios


def test_too_little_gas_reverts_and_never_reads_as_invalid(bls, bn, prague):
    """At every gas limit below what a valid proof needs, the call reverts; it never returns false."""
    session = _session(prague)
    for scheme, tree, pairs in (bls, bn):
        contract, _ = deploy_contract(session, scheme, tree.root_commitment)
        for path, doc in _proofs(tree, pairs, random.Random(4)).items():
            function, args = verifier_args(doc, path)
            need = _gas_used(session, contract, function, args)
            limits = sorted({need - d for d in range(1, 60_000, 997)} | {need - d for d in range(1, 400, 7)})
            outcomes = {limit: _outcome(session, contract, function, args, gas=limit) for limit in limits}
            assert False not in outcomes.values(), (path, [k for k, v in outcomes.items() if v is False][:5])
            named = [v for v in outcomes.values() if isinstance(v, str) and "PrecompileOutOfGas" in v]
            assert named, path  # the precompile checks say why, where they are the ones short of gas
            assert _outcome(session, contract, function, args, gas=need + 50_000) is True


# -------------------------------------------------------------- finding 5: roots


def test_roots_off_the_curve_or_subgroup_are_refused_on_and_off_chain(bls, bn, prague):
    scheme, tree, _ = bls
    session = _session(prague)
    contract, _ = deploy_contract(session, scheme, tree.root_commitment)
    for bad in (b"\x01" * 96, b"\xff" * 96, bytes(95) + b"\x01"):
        with pytest.raises(TransactionReverted, match=r"InvalidRoot"):
            session.transact(contract, "setRoot", bad)
        with pytest.raises(TransactionReverted, match=r"InvalidRoot"):
            session.deploy(compile_verifier(scheme), bad)
    for bad in (b"\xff" * 48, bytes(48), b"\xc0" + b"\x01" * 47):
        with pytest.raises(InvalidRoot, match="invalid root"):
            check_root(scheme.name, bad)
        with pytest.raises(InvalidRoot, match="invalid root"):
            deploy_contract(session, scheme, bad)
    # the point at infinity is the empty tree's root: accepted by both sides
    empty = VerkleTree(scheme).root_commitment
    assert check_root(scheme.name, empty) == empty
    session.transact(contract, "setRoot", xy(empty))
    assert bytes(session.call(contract, "root")) == empty
    bn_scheme, bn_tree, _ = bn
    bn_contract, _ = deploy_contract(session, bn_scheme, bn_tree.root_commitment)
    with pytest.raises(TransactionReverted, match=r"InvalidRoot"):
        session.transact(bn_contract, "setRoot", (1).to_bytes(32, "big") * 2)


# -------------------------------------------------------------- finding 9: one proof, one calldata


def _head(types, values) -> bytes:
    return encode(types, values)


def test_non_canonical_calldata_is_refused_with_a_named_error(bls, bn, prague):
    session = _session(prague)
    for scheme, tree, pairs in (bls, bn):
        contract, _ = deploy_contract(session, scheme, tree.root_commitment)
        doc = prove_multi(tree, sorted([pairs[0][0], pairs[1][0], random.Random(5).randbytes(32)]))
        function, args = verifier_args(doc, path_names(scheme.name)[0])
        keys, values, absent, proof = args
        i = next(j for j, v in enumerate(doc.values) if v is None)
        assert _outcome(session, contract, function, args) is True
        # an absent key's value word is not zero
        bad_values = values[:i] + [b"\x01" * 32] + values[i + 1 :]
        assert (
            _outcome(session, contract, function, [keys, bad_values, absent, proof])
            == f"NonCanonicalValue({i})"
        )
        # a bitmap bit past the last key
        assert (
            _outcome(session, contract, function, [keys, values, bytes([absent[0] | 1]), proof])
            == f"NonCanonicalValue({len(keys)})"
        )
        selector = keccak(text=f"{function}(bytes32[],bytes32[],bytes,bytes)")[:4]
        data = selector + encode(["bytes32[]", "bytes32[]", "bytes", "bytes"], args)
        assert _raw_outcome(session, contract, data) is True
        # a byte after the end, non-zero padding, and the same arguments laid out in another order
        assert _raw_outcome(session, contract, data + b"\x00") == "NonCanonicalEncoding()"
        padded = bytearray(data)
        padded[-1] ^= 1 if len(proof) % 32 else 0
        if len(proof) % 32:
            assert _raw_outcome(session, contract, bytes(padded)) == "NonCanonicalEncoding()"
        body = encode(["bytes32[]", "bytes32[]", "bytes", "bytes"], args)
        offsets = [int.from_bytes(body[32 * k : 32 * k + 32], "big") for k in range(4)]
        parts = [body[offsets[k] : (offsets[k + 1] if k < 3 else len(body))] for k in range(4)]
        order = [1, 0, 2, 3]  # values before keys, heads pointing at them
        start, new_offsets, tail = 128, [0] * 4, b""
        for k in order:
            new_offsets[k] = start + len(tail)
            tail += parts[k]
        swapped = selector + b"".join(o.to_bytes(32, "big") for o in new_offsets) + tail
        assert _raw_outcome(session, contract, swapped) == "NonCanonicalEncoding()"
    # the single-key path: an absent key's value, and a trailing byte
    scheme, tree, pairs = bls
    contract, _ = deploy_contract(session, scheme, tree.root_commitment)
    key, value, present, proof = verifier_args(
        prove_single(tree, random.Random(6).randbytes(32)), "point-evaluation"
    )[1]
    assert present is False
    assert _outcome(session, contract, "verifySingle", [key, value, present, proof]) is True
    assert (
        _outcome(session, contract, "verifySingle", [key, b"\x01" * 32, False, proof])
        == "NonCanonicalValue(0)"
    )
    data = keccak(text="verifySingle(bytes32,bytes32,bool,bytes)")[:4] + encode(
        ["bytes32", "bytes32", "bool", "bytes"], [key, value, present, proof]
    )
    assert _raw_outcome(session, contract, data) is True
    assert _raw_outcome(session, contract, data + bytes(32)) == "NonCanonicalEncoding()"


# -------------------------------------------------------------- finding 10: ownership


def test_ownership_moves_in_two_steps_and_never_to_zero(bls, prague):
    scheme, tree, pairs = bls
    session = _session(prague)
    owner, stranger = session.signers
    contract, _ = deploy_contract(session, scheme, tree.root_commitment)
    with pytest.raises(TransactionReverted, match="ZeroAddress"):
        session.transact(contract, "transferOwnership", "0x" + "00" * 20)
    with pytest.raises(TransactionReverted, match="NotOwner"):
        session.transact(contract, "transferOwnership", stranger.address, sender=stranger)
    session.transact(contract, "transferOwnership", stranger.address)
    assert session.call(contract, "owner") == owner.address  # nothing moves until accepted
    assert session.call(contract, "pendingOwner") == stranger.address
    with pytest.raises(TransactionReverted, match="NotPendingOwner"):
        session.transact(contract, "acceptOwnership")
    session.transact(contract, "acceptOwnership", sender=stranger)
    assert session.call(contract, "owner") == stranger.address
    assert int(session.call(contract, "pendingOwner"), 16) == 0
    with pytest.raises(TransactionReverted, match="NotOwner"):
        session.transact(contract, "setRoot", xy(tree.root_commitment))
    session.transact(contract, "setRoot", xy(tree.root_commitment), sender=stranger)
