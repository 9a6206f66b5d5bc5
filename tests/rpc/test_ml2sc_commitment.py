"""The code layout's weights cannot be swapped under a deployed model, on a real node (anvil, Osaka):
the review's CREATE2/SELFDESTRUCT swap and EIP-7702 delegation, and code changed under the model."""

from __future__ import annotations

import os

import pytest
import torch
from eth_utils import keccak, to_checksum_address
from torch import nn

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import TransactionReverted
from evmkit.solc import compile_sources
from ml2sc import emulator
from ml2sc.capture import capture
from ml2sc.fixed import FixedFormat
from ml2sc.layouts import data_contract_initcode
from ml2sc.onchain import compile_plan, data_contract_code, deploy_data_contracts
from ml2sc.plan import build_plan, encode_inputs

pytestmark = pytest.mark.rpc

ATTACK = """
pragma solidity ^0.8.24;
/// The review's swap: one transaction creates a data contract with CREATE2, the model over it, then
/// calls the data contract (whose code may SELFDESTRUCT, which EIP-6780 honours in the creating
/// transaction), leaving the address free for other code in a later transaction.
contract Attack {
    function run(bytes memory dataInit, bytes memory modelInit) external returns (address d, address m) {
        assembly { d := create2(0, add(dataInit, 32), mload(dataInit), 0) }
        require(d != address(0), "data contract not created");
        assembly { m := create(0, add(modelInit, 32), mload(modelInit)) }
        require(m != address(0), "model refused its data contract");
        (bool ok, ) = d.call("");
        require(ok, "call failed");
    }
}
"""


@pytest.fixture(scope="module")
def session():
    with start_anvil(gas_limit=60_000_000) as node:
        os.environ["ML2SC_COMMIT_KEY"], os.environ["ML2SC_COMMIT_AUTH"] = (
            node.private_keys[0],
            node.private_keys[1],
        )
        yield chain.rpc(node.url, "ML2SC_COMMIT_KEY", ("ML2SC_COMMIT_AUTH",))


def _model(n_in: int, seed: int, fmt: FixedFormat | None = None):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(n_in, 1))
    with torch.no_grad():
        model[0].weight.uniform_(0.55, 0.9)  # in Q8 every weight needs two bytes
        model[0].bias.fill_(0.6)
    return compile_plan(build_plan(capture(model), fmt), "SwapMLP", "swap.pt", "code")


def _create2_address(factory: str, salt: bytes, init: bytes) -> str:
    return to_checksum_address(keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + keccak(init))[12:])


def test_a_data_contract_that_can_run_is_refused_in_the_swap_transaction(session):
    compiled = _model(6, 1)
    chunk = data_contract_code(compiled)[0][1:]
    attack = compile_sources({"Attack.sol": ATTACK}, "Attack")
    factory, _ = session.deploy(attack)
    runnable_init = data_contract_initcode(chunk)[:12] + b"\x61" + chunk  # PUSH2 .. then chunk[2] runs
    target = _create2_address(factory.address, bytes(32), runnable_init)
    model_init = (
        session.w3.eth.contract(abi=compiled.artifact.abi, bytecode=compiled.artifact.bytecode)
        .constructor([target])
        .data_in_transaction
    )
    with pytest.raises(TransactionReverted, match="model refused its data contract"):
        session.transact(factory, "run", runnable_init, bytes.fromhex(model_init[2:]))
    # the same flow with an inert (STOP-first) data contract deploys, and the call to it does nothing
    inert_init = data_contract_initcode(chunk)
    target = _create2_address(factory.address, bytes(32), inert_init)
    model_init = (
        session.w3.eth.contract(abi=compiled.artifact.abi, bytecode=compiled.artifact.bytecode)
        .constructor([target])
        .data_in_transaction
    )
    session.transact(factory, "run", inert_init, bytes.fromhex(model_init[2:]))
    assert bytes(session.w3.eth.get_code(target)) == b"\x00" + chunk


def test_an_eip7702_account_is_not_a_data_contract(session):
    """A blob of 22 bytes: an account delegated to T has code 0xef0100 || T, 23 bytes, the size of a
    data contract for it. The review built a model whose blob is 0x0100 || T; the first byte alone
    refuses any such account now."""
    compiled = _model(9, 2, FixedFormat(8))
    assert len(compiled.blob.data) == 22
    owner, authority = session.signers
    target = "0x" + compiled.blob.data[2:].hex()
    auth = authority.sign_authorization(
        {
            "chainId": session.w3.eth.chain_id,
            "address": target,
            "nonce": session.w3.eth.get_transaction_count(authority.address),
        }
    )
    tx = {
        "chainId": session.w3.eth.chain_id,
        "nonce": session.w3.eth.get_transaction_count(owner.address),
        "gas": 100_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "to": owner.address,
        "value": 0,
        "data": b"",
        "authorizationList": [auth],
    }
    receipt = session.w3.eth.wait_for_transaction_receipt(
        session.w3.eth.send_raw_transaction(owner.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1
    session._nonces.clear()
    code = bytes(session.w3.eth.get_code(authority.address))
    assert code == bytes.fromhex("ef0100") + bytes.fromhex(target[2:])
    with pytest.raises(TransactionReverted, match=r"DataContractNotInert\(0\)"):
        session.deploy(compiled.artifact, [authority.address])


def test_weights_changed_under_a_deployed_model_stop_predict(session):
    compiled = _model(6, 3)
    data = deploy_data_contracts(session, compiled)
    contract, _ = session.deploy(compiled.artifact, data)
    row = encode_inputs(compiled.plan, [[0.5, -0.25, 1.0, 0.0, 0.75, -1.0]])[0]
    outputs, predicted = session.call(contract, "predict", row)
    assert list(outputs) == list(emulator.predict(compiled.plan, row).outputs)
    runtime = data_contract_code(compiled)[0]
    other = runtime[:-1] + bytes([runtime[-1] ^ 1])  # one weight byte, same size, still STOP-first
    session.w3.provider.make_request("anvil_setCode", [data[0], "0x" + other.hex()])
    with pytest.raises(TransactionReverted, match=r"DataContractChanged\(0\)"):
        session.call(contract, "predict", row)
    session.w3.provider.make_request("anvil_setCode", [data[0], "0x"])  # emptied: no all-zero weights
    with pytest.raises(TransactionReverted, match=r"DataContractChanged\(0\)"):
        session.call(contract, "predict", row)
    session.w3.provider.make_request("anvil_setCode", [data[0], "0x" + runtime.hex()])
    assert list(session.call(contract, "predict", row)[0]) == list(outputs)


def test_verify_checks_what_only_the_constructor_held(session, tmp_path):
    """ml2sc's runtime code deployed by other creation code, so the constructor's checks never ran: its
    data contract can run (0x60 || chunk) and the pinned hash is that contract's. predict works today;
    verify must still refuse it (the review's custom-deployer attack, without the 7702 part)."""
    from eth_utils import keccak as k256

    from ml2sc import workflow
    from ml2sc.manifest import Manifest

    torch.manual_seed(12)
    model = tmp_path / "n.pt"
    torch.save(nn.Sequential(nn.Linear(6, 3), nn.ReLU(), nn.Linear(3, 2)), model)
    t = workflow.translate(model, workflow.Settings(layout="code"))
    chain_info = workflow.ChainInfo("rpc", session.w3.provider.endpoint_uri, session.w3.eth.chain_id)
    manifest, honest = workflow.deploy(session, t, tmp_path / "m.json", chain_info)
    assert workflow.verify(session, manifest, t).ok
    chunk = data_contract_code(t.compiled)[0][1:]
    runnable = session.send(None, data_contract_initcode(chunk)[:12] + b"\x60" + chunk).contract_address
    runtime = bytearray(session.w3.eth.get_code(honest.address))
    old_data, old_hash = manifest.data_contracts[0], k256(b"\x00" + chunk)
    for start, length in t.compiled.artifact.immutables:
        word = bytes(runtime[start : start + length])
        if word == old_hash:
            runtime[start : start + length] = k256(b"\x60" + chunk)
        elif word[12:] == bytes.fromhex(old_data[2:]):
            runtime[start : start + length] = bytes(12) + bytes.fromhex(runnable[2:])
    initcode = (
        b"\x61" + len(runtime).to_bytes(2, "big") + bytes.fromhex("80600c6000396000f3") + bytes(runtime)
    )
    forged = session.send(None, initcode).contract_address
    lying = Manifest(**{**manifest.__dict__, "address": forged, "data_contracts": [runnable]})
    result = workflow.verify(session, lying, t)
    assert "weights differ (data contract 0)" in result.differences
    assert "bytecode differs (immutables)" in result.differences
    outcomes = {c.what: c.outcome for c in result.checks}
    assert outcomes["runtime bytecode vs a fresh compile"] == "match"  # immutables masked: the trap
    assert outcomes["predict on a test row vs the emulator"] == "match"  # it computes right, today
