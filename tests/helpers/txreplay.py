"""Replay the embedded chain's logged transactions (``evmkit.txlog``) on anvil and compare receipts.

Each embedded chain ("session") starts from genesis with eth-tester's funded accounts, so its
transactions replay in order on a freshly reset anvil of the same fork, chain id and funded senders:
the same nonces give the same contract addresses, and the same rules must give the same gas used,
the same created addresses and the same logs. Base fee 0 on anvil so the recorded fee caps always pay:
``anvil_reset`` forgets ``--base-fee 0``: its next block asks 1 gwei again, and full blocks raise that above
the fee cap of a transaction signed late in a long embedded session (whose own base fee had decayed to a
few wei), so each reset sets it to 0 again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
import rlp
from eth_account import Account

from evmkit.anvil import start_anvil
from evmkit.txlog import LoggedTx

FUNDS = 10**30  # wei: eth-tester funds its accounts with 1,000,000 ether; anything at least that works
BATCH = 200  # JSON-RPC requests per HTTP batch
MINE_TIMEOUT = 300.0  # seconds to mine what was sent (a busy machine): longer means it never will


@dataclass
class ReplayReport:
    """What a replay compared, and every difference found (empty: all equal)."""

    fork: str
    sessions: int = 0
    transactions: int = 0
    gas: int = 0
    differences: list[str] = field(default_factory=list)


def _chain_id(raw: bytes) -> int:
    """The chain id of a typed (EIP-2718) transaction: the first field after the type byte."""
    return int.from_bytes(rlp.decode(raw[1:])[0], "big")


def _batch(url: str, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(calls), BATCH):
        chunk = calls[start : start + BATCH]
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(chunk)]
        answers = requests.post(url, json=body, timeout=300).json()
        out += sorted(answers, key=lambda a: a["id"])
    return out


def _mine_pending(url: str) -> None:
    """Mine until no transaction is pending. Automine mines one block as a transaction arrives; a batch
    that arrives at once can leave some waiting for the next arrival. (Queued ones, behind a nonce gap,
    are not pending: they stay, and the comparison reports them as never mined.)"""
    deadline = time.monotonic() + MINE_TIMEOUT
    while time.monotonic() < deadline:
        status = _batch(url, [("txpool_status", [])])[0]["result"]
        if int(status["pending"], 16) == 0:
            return
        _batch(url, [("evm_mine", [])])


def _send_in_order(url: str, txs: Sequence[LoggedTx]) -> list[dict[str, Any]]:
    """Send the raw transactions in the recorded order. One sender's nonces order its own; where the
    sender changes, everything sent before is mined first, so no two senders' transactions swap."""
    out: list[dict[str, Any]] = []
    run: list[LoggedTx] = []
    previous = None
    for tx in [*txs, None]:
        sender = Account.recover_transaction(tx.raw) if tx is not None else None
        if run and (sender != previous or tx is None):
            out += _batch(url, [("eth_sendRawTransaction", ["0x" + t.raw.hex()]) for t in run])
            _mine_pending(url)
            run = []
        if tx is not None:
            run.append(tx)
        previous = sender
    return out


def _compare(tx: LoggedTx, index: int, answer: dict[str, Any]) -> list[str]:
    where = f"session {tx.session[:8]} tx {index}"
    if "error" in answer:
        return [f"{where}: anvil refused it: {answer['error'].get('message')}"]
    receipt = answer.get("result")
    if receipt is None:
        return [f"{where}: no receipt on anvil"]
    problems = []
    status = int(receipt["status"], 16)
    if status != tx.status:
        problems.append(f"{where}: status {tx.status} embedded, {status} on anvil")
    gas = int(receipt["gasUsed"], 16)
    if gas != tx.gas_used:
        problems.append(f"{where}: gas {tx.gas_used:,} embedded, {gas:,} on anvil ({gas - tx.gas_used:+,})")
    address = receipt.get("contractAddress") if status == 1 else None  # anvil names one for a reverted create
    if (address.lower() if address else None) != tx.contract_address:
        problems.append(f"{where}: created {tx.contract_address} embedded, {address} on anvil")
    logs = tuple(
        (log["address"].lower(), tuple(t.lower() for t in log["topics"]), log["data"].lower())
        for log in receipt["logs"]
    )
    if logs != tx.logs:
        problems.append(f"{where}: logs differ")
    return problems


def replay(transactions: Iterable[LoggedTx], fork: str) -> ReplayReport:
    """Replay every logged transaction of ``fork`` on one ``anvil --hardfork fork``, session by session."""
    sessions: dict[str, list[LoggedTx]] = {}
    for tx in transactions:
        if tx.fork == fork:
            sessions.setdefault(tx.session, []).append(tx)
    report = ReplayReport(fork)
    if not sessions:
        return report
    first = next(iter(sessions.values()))[0].raw
    extra = ("--chain-id", str(_chain_id(first)), "--base-fee", "0")
    with start_anvil(gas_limit=100_000_000, hardfork=fork, extra_args=extra) as node:
        for txs in sessions.values():
            senders = sorted({Account.recover_transaction(tx.raw) for tx in txs})
            # the pool first: a transaction still pending from the session before would otherwise be
            # mined on the reset chain and take its sender's nonces
            setup = [
                ("anvil_dropAllTransactions", []),
                ("anvil_reset", []),
                ("anvil_dropAllTransactions", []),
            ]
            setup += [("anvil_setNextBlockBaseFeePerGas", ["0x0"])]
            setup += [("anvil_setBalance", [s, hex(FUNDS)]) for s in senders]
            for answer in _batch(node.url, setup):
                assert "error" not in answer, answer
            nonces = _batch(node.url, [("eth_getTransactionCount", [s, "latest"]) for s in senders])
            assert all(int(a["result"], 16) == 0 for a in nonces), (
                f"anvil did not reset its senders: {nonces}"
            )
            sent = _send_in_order(node.url, txs)
            hashes = [a.get("result") for a in sent]
            receipts = _batch(node.url, [("eth_getTransactionReceipt", [h]) for h in hashes if h])
            by_hash = iter(receipts)
            for index, (tx, answer, tx_hash) in enumerate(zip(txs, sent, hashes, strict=True)):
                report.differences += _compare(tx, index, answer if tx_hash is None else next(by_hash))
            report.sessions += 1
            report.transactions += len(txs)
            report.gas += sum(tx.gas_used for tx in txs)
    return report
