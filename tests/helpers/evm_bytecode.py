"""Hand-assembled contracts for the tests of the EVM itself (no solc): deployment code, CLZ, and a proxy
that measures what a precompile call costs."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address


def initcode(runtime: bytes) -> bytes:
    """Deployment code that returns ``runtime``: PUSH1 len DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN."""
    assert len(runtime) < 256
    return bytes([0x60, len(runtime), 0x80, 0x60, 0x0B, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3]) + runtime


# x = calldata[0:32]; GAS; CLZ(x); GAS; return (clz, gas between the readings = SWAP1 + CLZ + GAS)
# PUSH1 0 CALLDATALOAD GAS SWAP1 CLZ GAS SWAP1 PUSH1 0 MSTORE SWAP1 SUB PUSH1 32 MSTORE
# PUSH1 64 PUSH1 0 RETURN
CLZ_RUNTIME = bytes.fromhex("6000355a901e5a90600052900360205260406000f3")
CLZ_WINDOW_GAS = 3 + 5 + 2  # SWAP1, CLZ (EIP-7939), GAS


def proxy_runtime(address: int, call_gas: int | None = None) -> bytes:
    """Copy calldata to memory, CALL ``address`` with it (all gas left, or ``call_gas``), return
    (success, gas spent between the GAS readings around the call, the call's return data)."""
    gas_op = bytes([0x5A]) if call_gas is None else bytes([0x62]) + call_gas.to_bytes(3, "big")
    return (
        bytes.fromhex("366000600037")  # CALLDATACOPY(0, 0, CALLDATASIZE)
        + bytes.fromhex("5a")  # g1
        + bytes.fromhex("600060003660006000")  # retSize retOffset argsSize argsOffset value
        + bytes([0x61])
        + address.to_bytes(2, "big")
        + gas_op
        + bytes.fromhex("f15a")  # CALL; g2
        + bytes.fromhex("906000529003602052")  # mem[0] = success; mem[32] = g1 - g2
        + bytes.fromhex("3d600060403e")  # RETURNDATACOPY(64, 0, RETURNDATASIZE)
        + bytes.fromhex("3d6040016000f3")  # RETURN(0, 64 + RETURNDATASIZE)
    )


def signed_tx(w3: Any, account: Any, to: str | None, data: bytes, gas: int) -> bytes:
    """A raw EIP-1559 transaction from ``account`` with its next nonce, room for the pending base fee to
    double and a 1 gwei tip (``to`` None: a creation)."""
    base_fee = int(w3.eth.get_block("pending")["baseFeePerGas"])
    tx = {
        "chainId": int(w3.eth.chain_id),
        "nonce": w3.eth.get_transaction_count(account.address),
        "gas": gas,
        "maxFeePerGas": 2 * base_fee + 10**9,
        "maxPriorityFeePerGas": 10**9,
        "data": data,
        "value": 0,
    }
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(account.sign_transaction(tx).raw_transaction)
