"""Every transaction the test suite sent on the embedded chain, replayed on anvil under the same fork:
the same gas used, the same created addresses, the same logs (``evmkit.txlog``, ``helpers.txreplay``).

It runs last (tests/conftest.py), so it compares what every test before it sent: ml2sc deployments,
uploads and inferences in every format and layout, Verkle verifiers and their proofs, under Osaka (the
default) and the forks some tests ask for. Run alone, it first runs the README's library example.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from evmkit import txlog
from helpers.readme import section_blocks
from helpers.txreplay import replay

SUMMARY = Path(__file__).resolve().parents[2] / "build" / "equal-gas.json"


def _logged() -> list[txlog.LoggedTx]:
    path = os.environ[txlog.ENV]
    return list(txlog.read(path)) if os.path.exists(path) else []


@pytest.mark.rpc
def test_every_embedded_transaction_has_the_same_gas_and_results_on_anvil() -> None:
    logged = _logged()
    if not any(tx.fork == "osaka" for tx in logged):  # run alone: make the README's example send some
        namespace: dict[str, object] = {"__name__": "readme_example"}
        for block in section_blocks("Library API"):
            exec(compile(block, "README.md Library API", "exec"), namespace)  # noqa: S102
        logged = _logged()
    forks = sorted({tx.fork for tx in logged})
    assert "osaka" in forks, "no embedded Osaka transaction was logged"
    reports = [replay(logged, fork) for fork in forks]
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text(
        json.dumps(
            [
                {"fork": r.fork, "sessions": r.sessions, "transactions": r.transactions, "gas": r.gas}
                for r in reports
            ],
            indent=1,
        )
    )
    for report in reports:
        print(f"{report.fork}: {report.transactions:,} transactions in {report.sessions:,} chains, equal")
        assert not report.differences, f"{report.fork}: " + "\n".join(report.differences[:20])
    assert sum(r.transactions for r in reports) == len(logged)


@pytest.mark.rpc
def test_the_replay_reports_a_difference_in_gas_address_or_logs() -> None:
    """The comparison can fail: a logged receipt altered in gas, created address, logs or status is
    reported."""
    from dataclasses import replace

    from evmkit import chain
    from evmkit.solc import compile_sources

    source = (
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.31;\n"
        "contract E { event Seen(uint256 v); function f(uint256 v) external { emit Seen(v); } }"
    )
    session = chain.embedded()
    contract, _ = session.deploy(compile_sources({"E.sol": source}, "E"))
    session.transact(contract, "f", 7)
    mine = [tx for tx in _logged() if tx.session == session._log_id]
    assert len(mine) == 2 and not replay(mine, "osaka").differences
    deploy, call = mine
    altered = [
        [replace(deploy, gas_used=deploy.gas_used + 1), call],
        [replace(deploy, contract_address="0x" + "11" * 20), call],
        [deploy, replace(call, logs=())],
        [deploy, replace(call, status=0)],
    ]
    for txs in altered:
        assert len(replay(txs, "osaka").differences) == 1


@pytest.mark.rpc
def test_a_fee_cap_below_anvils_default_base_fee_replays() -> None:
    """A transaction signed late in a long embedded session offers little more than its tip: its base fee
    had decayed. The replay must not refuse it for anvil's own base fee (which ``anvil_reset`` puts back
    to 1 gwei): it offers 1 wei here."""
    from eth_account import Account

    from evmkit.txlog import LoggedTx

    sender = Account.create()
    tx = {"chainId": 1337, "nonce": 0, "to": "0x" + "22" * 20, "value": 1, "gas": 21_000}
    signed = sender.sign_transaction({**tx, "maxFeePerGas": 1, "maxPriorityFeePerGas": 0, "type": 2})
    logged = LoggedTx("cheap", "osaka", bytes(signed.raw_transaction), 1, 21_000, None, ())
    report = replay([logged], "osaka")
    assert report.transactions == 1 and not report.differences, report.differences
