"""Compile, deploy, upload and run a plan's contract on a chain session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from web3.contract import Contract

from evmkit.chain import ChainSession, TxResult
from evmkit.errors import ChainError
from evmkit.solc import Artifact, Compiler, compile_sources

from .emulator import Prediction
from .plan import Plan, weights_hash
from .render import render_contract

# An upper bound on the gas one stored weight costs in `uploadWeights` (a cold SSTORE to a
# fresh slot is 22,100; calldata and the loop add under 1,000). Chunks are sized with it so
# that each upload transaction fits the block.
STORAGE_GAS_PER_WEIGHT_BOUND = 24_000
UPLOAD_BLOCK_SHARE = 0.9
MAINNET_BLOCK_GAS = 30_000_000


@dataclass(frozen=True)
class Compiled:
    source: str
    artifact: Artifact
    contract_name: str


@dataclass
class UploadReport:
    txs: list[tuple[str, TxResult]] = field(default_factory=list)

    @property
    def gas(self) -> int:
        return sum(tx.gas_used for _, tx in self.txs)


def compile_plan(
    plan: Plan, contract_name: str, source_name: str, compiler: Compiler | None = None
) -> Compiled:
    source = render_contract(plan, contract_name, source_name)
    artifact = compile_sources({f"{contract_name}.sol": source}, contract_name, compiler)
    return Compiled(source, artifact, contract_name)


def upload_chunk_size(session: ChainSession) -> int:
    budget = min(session.block_gas_limit, MAINNET_BLOCK_GAS) * UPLOAD_BLOCK_SHARE
    return max(1, int(budget) // STORAGE_GAS_PER_WEIGHT_BOUND)


def upload_weights(
    session: ChainSession,
    contract: Contract,
    plan: Plan,
    chunk_size: int | None = None,
    on_tx: Callable[[str, TxResult], None] | None = None,
) -> UploadReport:
    """Upload from where the contract's ``loaded()`` stands, then finalize with the weights hash.

    Resumable: after an interruption, calling this again continues at ``loaded()``.
    """
    report = UploadReport()
    chunk_size = chunk_size or upload_chunk_size(session)
    if session.call(contract, "weightsHash") != b"\0" * 32:
        return report  # already finalized
    start = int(session.call(contract, "loaded"))
    weights = plan.weights
    while start < len(weights):
        end = min(start + chunk_size, len(weights))
        tx = session.transact(contract, "uploadWeights", start, list(weights[start:end]))
        label = f"upload[{start}:{end}]"
        report.txs.append((label, tx))
        if on_tx:
            on_tx(label, tx)
        start = end
    tx = session.transact(contract, "finalize", weights_hash(weights))
    report.txs.append(("finalize", tx))
    if on_tx:
        on_tx("finalize", tx)
    return report


def deploy_contract(session: ChainSession, compiled: Compiled) -> tuple[Contract, TxResult]:
    return session.deploy(compiled.artifact)


def attach(session: ChainSession, address: str, abi: list[dict[str, Any]]) -> Contract:
    contract = session.contract(address, abi)
    if not session.w3.eth.get_code(contract.address):
        raise ChainError(f"no contract at {address} on {session.description}")
    return contract


def predict_onchain(
    session: ChainSession, contract: Contract, rows: Sequence[Sequence[int]]
) -> list[tuple[Prediction, int]]:
    """For each row: the contract's outputs (eth_call) and the gas of the same call sent as a
    transaction (receipt gas: intrinsic and calldata included)."""
    results = []
    for row in rows:
        outputs, predicted = session.call(contract, "predict", list(row))
        tx = session.transact(contract, "predict", list(row))
        results.append((Prediction(tuple(int(v) for v in outputs), int(predicted)), tx.gas_used))
    return results
