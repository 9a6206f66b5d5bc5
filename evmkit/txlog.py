"""A log of every transaction the embedded chain mines (reverted ones too), for replaying it on a node.

Set ``EVMKIT_TX_LOG`` to a file path and every embedded chain session (in this process and in any
child process that inherits the variable) appends one JSON line per mined transaction: the session,
its fork, the signed raw transaction and what the receipt said (gas, contract address, logs). The test
suite sets it, then replays each session's transactions on ``anvil --hardfork <fork>`` and demands the
same gas and results (``tests/rpc/test_zz_equal_gas.py``): the evidence that the embedded chain runs
each fork's rules as a real client does. Unset, nothing is written.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = "EVMKIT_TX_LOG"


@dataclass(frozen=True)
class LoggedTx:
    """One mined transaction as the embedded chain's receipt gave it."""

    session: str  # one embedded chain: its transactions replay in order on a fresh node
    fork: str
    raw: bytes
    status: int  # 1 success, 0 reverted (mined all the same: it used its nonce and its gas)
    gas_used: int
    contract_address: str | None
    logs: tuple[tuple[str, tuple[str, ...], str], ...]  # (address, topics, data), hex


def new_session_id() -> str:
    """A name for one embedded chain, unique across processes."""
    return uuid.uuid4().hex


def receipt_logs(receipt: Any) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """A receipt's logs as comparable hex tuples (web3 gives HexBytes and checksummed addresses)."""
    return tuple(
        (
            str(log["address"]).lower(),
            tuple(_hex(t) for t in log["topics"]),
            _hex(log["data"]),
        )
        for log in receipt["logs"]
    )


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def record(session: str, fork: str, raw: bytes, receipt: Any) -> None:
    """Append one mined transaction to ``$EVMKIT_TX_LOG`` (nothing when it is unset)."""
    path = os.environ.get(ENV)
    if not path:
        return
    address = receipt.get("contractAddress")
    line = {
        "session": session,
        "fork": fork,
        "raw": bytes(raw).hex(),
        "status": int(receipt["status"]),
        "gas_used": int(receipt["gasUsed"]),
        "contract_address": str(address).lower() if address else None,
        "logs": [[a, list(t), d] for a, t, d in receipt_logs(receipt)],
    }
    with open(path, "a", encoding="utf-8") as out:  # one write per line: whole lines, even across processes
        out.write(json.dumps(line, separators=(",", ":")) + "\n")


def read(path: str | Path) -> Iterator[LoggedTx]:
    """The logged transactions, in the order they were mined."""
    with open(path, encoding="utf-8") as lines:
        for text in lines:
            d = json.loads(text)
            yield LoggedTx(
                d["session"],
                d["fork"],
                bytes.fromhex(d["raw"]),
                d["status"],
                d["gas_used"],
                d["contract_address"],
                tuple((a, tuple(t), data) for a, t, data in d["logs"]),
            )
