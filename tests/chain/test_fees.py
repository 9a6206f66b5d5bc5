"""Fees follow the base fee: after full blocks push it past 1 gwei (eth-tester's default fee for calls),
calls and transactions still go through, on the embedded chain and on anvil, with unchanged gas."""

from __future__ import annotations

import pytest

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.solc import compile_sources

GWEI = 10**9
BLOCK_GAS_LIMIT = 3_000_000
SINK = "0x000000000000000000000000000000000000dEaD"
COUNTER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Counter {
    uint256 public n;
    function bump(uint256 k) external returns (uint256) { n += k; return n; }
}
"""


def _fill_blocks(session: chain.ChainSession, blocks: int = 6) -> None:
    """Each transaction carries 70 kB of calldata (2.8M gas under EIP-7623's floor), almost a full
    3M-gas block, so each block raises the base fee by about 11%."""
    for _ in range(blocks):
        assert session.send(SINK, b"\x01" * 70_000).gas_used == 21_000 + 70_000 * 4 * 10


def _latest_base_fee(session: chain.ChainSession) -> int:
    return int(session.w3.eth.get_block("latest")["baseFeePerGas"])


def _exercise(session: chain.ChainSession) -> tuple[int, int, int, str]:
    """Deploy, transact and call after the base fee has climbed past 1 gwei: the gas of the deploy and
    the transaction, the base fee, and the contract's address."""
    artifact = compile_sources({"Counter.sol": COUNTER}, "Counter")
    _fill_blocks(session)
    assert _latest_base_fee(session) > GWEI and session.base_fee() > GWEI
    contract, deployed = session.deploy(artifact)
    bumped = session.transact(contract, "bump", 7)
    assert session.call(contract, "n") == 7
    assert session.call(contract, "bump", 5) == 12  # a call runs a state-changing function, unsaved
    assert session.call(contract, "n") == 7
    return deployed.gas_used, bumped.gas_used, _latest_base_fee(session), contract.address


def test_embedded_chain_calls_and_sends_above_one_gwei() -> None:
    baseline = chain.embedded(block_gas_limit=BLOCK_GAS_LIMIT)
    artifact = compile_sources({"Counter.sol": COUNTER}, "Counter")
    contract, deployed = baseline.deploy(artifact)  # at the genesis base fee (below 1 gwei)
    bumped = baseline.transact(contract, "bump", 7)

    session = chain.embedded(block_gas_limit=BLOCK_GAS_LIMIT)
    deploy_gas, bump_gas, base_fee, _ = _exercise(session)
    assert base_fee > GWEI
    assert (deploy_gas, bump_gas) == (deployed.gas_used, bumped.gas_used)  # fees never change gas


def test_transaction_fees_cover_the_pending_base_fee() -> None:
    session = chain.embedded(block_gas_limit=BLOCK_GAS_LIMIT)
    _fill_blocks(session, 3)
    fees = session.fees()
    assert session.base_fee() > _latest_base_fee(session)  # the pending block follows a full one
    assert fees["maxFeePerGas"] == 2 * session.base_fee() + fees["maxPriorityFeePerGas"]


@pytest.mark.rpc
def test_anvil_calls_and_sends_above_one_gwei() -> None:
    with start_anvil(gas_limit=BLOCK_GAS_LIMIT) as node:
        session = chain.rpc(node.url, key=node.private_keys[0])
        deploy_gas, bump_gas, base_fee, address = _exercise(session)
        assert base_fee > GWEI
        embedded = chain.embedded(block_gas_limit=BLOCK_GAS_LIMIT)
        artifact = compile_sources({"Counter.sol": COUNTER}, "Counter")
        contract, deployed = embedded.deploy(artifact)
        assert (deploy_gas, bump_gas) == (deployed.gas_used, embedded.transact(contract, "bump", 7).gas_used)
        # a reader with no funds calls too: eth_call carries no fee fields over RPC
        reader = chain.rpc_reader(node.url)
        assert session.w3.eth.get_balance(reader.default_sender.address) == 0
        assert reader.call(reader.contract(address, artifact.abi), "n") == 7


def test_precompile_probes_still_answer_above_one_gwei() -> None:
    """A probe that the base fee made the node refuse would read as a missing precompile and refuse
    a deployment on a chain that has every precompile."""
    from verkle.onchain import schemes_available

    session = chain.embedded(block_gas_limit=BLOCK_GAS_LIMIT)
    _fill_blocks(session)
    assert _latest_base_fee(session) > GWEI
    assert schemes_available(session) == ["kzg-bls12-381", "kzg-bn254"]
