"""Compile, deploy, upload and run a plan's contract on a chain session, for every layout.

Predictions take one path: :func:`predict_batched` (``predictBatch``, calls sized to fit the block),
which ``Deployment.predict``, the CLI and the benches use; :func:`predict_onchain` calls the
single-row ``predict`` for its gas alone. Both send through one call-then-transact step.

Every transaction is priced by the gas model before it is signed and refused, with its estimate,
when it cannot fit the block gas limit or the per-transaction cap (``ChainSession.check_fits``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from web3.contract import Contract

from evmkit.chain import ChainSession, TxResult
from evmkit.errors import ChainError
from evmkit.forks import Fork, get_fork
from evmkit.solc import Artifact, Compiler, compile_sources, default_settings

from . import gasmodel
from .blob import Blob, encode_blob
from .commitment import Commitment, commit
from .emulator import Prediction
from .gasmodel import BLOCK_SHARE, MAINNET_BLOCK_GAS
from .layouts import (
    MAX_CODE_SIZE,
    LayoutError,
    check_layout,
    code_chunks,
    data_contract_initcode,
    default_layout,
    slot_values,
)
from .plan import Plan
from .render import render_contract

# Upper bound of one weight slot's gas in `upload`: a cold SSTORE to a fresh slot is 22,100;
# its calldata word and the loop add under 1,000. Chunks are sized with it to fit the block.
SLOT_GAS_BOUND = 24_000

OnTx = Callable[[str, TxResult], None]
OnSent = Callable[[str, str], None]  # (label, tx hash): called before the transaction goes out


def _sent(on_sent: OnSent | None, label: str) -> Callable[[str], None] | None:
    """``session.send``'s ``on_sent`` for a labelled transaction."""
    return None if on_sent is None else (lambda tx_hash: on_sent(label, tx_hash))


@dataclass(frozen=True)
class Compiled:
    """A plan rendered for one weight layout and compiled for one fork (solc's evmVersion; the gas
    model prices its transactions under that fork's schedule and cap): what deploying it needs."""

    plan: Plan
    blob: Blob
    layout: str
    source: str
    artifact: Artifact
    contract_name: str
    fork: Fork = field(default_factory=get_fork)

    @property
    def commitment(self) -> Commitment:
        """What the contract commits to: the hashes it holds as constants."""
        return commit(self.plan, self.blob, self.layout)


def compile_plan(
    plan: Plan,
    contract_name: str,
    source_name: str,
    layout: str | None = None,
    compiler: Compiler | None = None,
    fork: str | Fork | None = None,
) -> Compiled:
    """The plan's contract for ``layout`` (None: the cheapest for its size: inline where the contract
    with its weights stays within EIP-170, else code), compiled for ``fork``
    (default Osaka). The templates hold nothing fork-specific: solc's code for each fork is the same
    (but for the evmVersion in the metadata), which the tests hold."""
    rules = get_fork(fork)
    blob = encode_blob(plan)
    auto = not layout
    layout = check_layout(layout) if layout else default_layout(blob)
    source = render_contract(plan, blob, layout, contract_name, source_name)
    settings = default_settings(rules.evm_version)
    artifact = compile_sources({f"{contract_name}.sol": source}, contract_name, compiler, settings)
    size = len(artifact.deployed_bytecode)
    if size > MAX_CODE_SIZE and auto and layout == "inline":  # a conv model's own code left no room
        return compile_plan(plan, contract_name, source_name, "code", compiler, rules)
    if size > MAX_CODE_SIZE:
        hint = "use --layout code" if layout == "inline" else "the model has too many layers for one contract"
        raise LayoutError(
            f"the {layout}-layout contract is {size:,} bytes, over the {MAX_CODE_SIZE:,}-byte limit of "
            f"EIP-170 ({len(blob.data):,} bytes of weights); {hint}"
        )
    return Compiled(plan, blob, layout, source, artifact, contract_name, rules)


def block_budget(session: ChainSession | None, fork: str | Fork | None = None) -> int:
    """90% of what one transaction may use (the block gas limit, or the per-transaction cap where it
    is lower: 2**24 under Osaka), at most of a 30M-gas block. Without a session, a 30M-gas block
    under ``fork``'s rules (default Osaka)."""
    if session is None:
        return gasmodel.default_budget(fork)
    return int(min(session.gas_cap, MAINNET_BLOCK_GAS) * BLOCK_SHARE)


def upload_chunk_slots(session: ChainSession | None = None, fork: str | Fork | None = None) -> int:
    """Slots per upload transaction: as many as fit :func:`block_budget` (the session's, or without
    one a 30M-gas block under ``fork``'s rules)."""
    return max(1, block_budget(session, fork) // SLOT_GAS_BOUND)


def upload_slots(
    session: ChainSession,
    contract: Contract,
    compiled: Compiled,
    chunk_size: int | None = None,
    on_tx: OnTx | None = None,
    on_sent: OnSent | None = None,
) -> list[tuple[str, TxResult]]:
    """``storage`` / ``packed``: upload from the contract's ``loaded()``, then finalize.

    Resumable: after an interruption, calling this again continues where the chain stands.
    """
    txs: list[tuple[str, TxResult]] = []

    def record(label: str, tx: TxResult) -> None:
        txs.append((label, tx))
        if on_tx:
            on_tx(label, tx)

    if session.call(contract, "weightsHash") != b"\0" * 32:
        return txs
    values = slot_values(compiled.layout, compiled.blob)
    chunk_size = chunk_size or upload_chunk_slots(session)
    start = int(session.call(contract, "loaded"))
    while start < len(values):
        end = min(start + chunk_size, len(values))
        label = f"upload[{start}:{end}]"
        priced = (label, gasmodel.upload(compiled, start, values[start:end]).total)
        tx = session.transact(
            contract, "upload", start, values[start:end], estimate=priced, on_sent=_sent(on_sent, label)
        )
        record(label, tx)
        start = end
    priced = ("finalize", gasmodel.finalize(compiled).total)
    tx = session.transact(
        contract, "finalize", compiled.blob.hash, estimate=priced, on_sent=_sent(on_sent, "finalize")
    )
    record("finalize", tx)
    return txs


def data_contract_code(compiled: Compiled) -> list[bytes]:
    """The runtime code each data contract must have, in blob order."""
    data = compiled.blob.data
    return [b"\0" + data[c.offset : c.offset + c.length] for c in code_chunks(compiled.blob)]


def deploy_data_contracts(
    session: ChainSession,
    compiled: Compiled,
    existing: Sequence[str] = (),
    on_tx: OnTx | None = None,
    on_sent: OnSent | None = None,
) -> list[str]:
    """``code``: deploy the data contracts, reusing any in ``existing`` whose code is right."""
    addresses: list[str] = []
    for index, runtime in enumerate(data_contract_code(compiled)):
        if index < len(existing) and bytes(session.w3.eth.get_code(existing[index])) == runtime:
            addresses.append(existing[index])
            continue
        label = f"data[{index}]"
        priced = (
            f"data contract {index}",
            gasmodel.data_contract_creation(runtime[1:], session.pricing_fork).total,
        )
        tx = session.send(
            None, data_contract_initcode(runtime[1:]), estimate=priced, on_sent=_sent(on_sent, label)
        )
        if tx.contract_address is None:
            raise ChainError("data contract deployment has no address")
        addresses.append(tx.contract_address)
        if on_tx:
            on_tx(label, tx)
    return addresses


def deploy_model(
    session: ChainSession,
    compiled: Compiled,
    data_addresses: Sequence[str] = (),
    on_sent: OnSent | None = None,
) -> tuple[Contract, TxResult]:
    """The model contract's creation, priced first (refused if it cannot fit)."""
    args = [list(data_addresses)] if compiled.layout == "code" else []
    estimate = gasmodel.deploy(compiled, list(data_addresses) or None).total
    priced = ("the model contract's deployment", estimate)
    return session.deploy(compiled.artifact, *args, estimate=priced, on_sent=_sent(on_sent, "deploy"))


def deploy_and_upload(
    session: ChainSession,
    compiled: Compiled,
    on_tx: OnTx | None = None,
    data: Sequence[str] = (),
    address: str | None = None,
    on_sent: OnSent | None = None,
) -> tuple[Contract, list[tuple[str, TxResult]]]:
    """Everything a deployment needs, in order: data contracts (``code``), the model contract,
    slot uploads (``storage`` / ``packed``). To resume, pass the data contracts and the model
    contract address that an earlier run left: what is on chain is reused. ``on_sent(label, hash)``
    runs before each transaction goes out."""
    txs: list[tuple[str, TxResult]] = []

    def record(label: str, tx: TxResult) -> None:
        txs.append((label, tx))
        if on_tx:
            on_tx(label, tx)

    if compiled.layout == "code":
        data = deploy_data_contracts(session, compiled, data, on_tx=record, on_sent=on_sent)
    if address is None:
        contract, tx = deploy_model(session, compiled, data, on_sent)
        record("deploy", tx)
    else:
        contract = attach(session, address, compiled.artifact.abi)
    if compiled.layout in ("storage", "packed"):
        upload_slots(session, contract, compiled, on_tx=record, on_sent=on_sent)
    return contract, txs


def planned_transactions(compiled: Compiled, session: ChainSession | None = None) -> int:
    """How many transactions a fresh deployment sends (for a progress bar): data contracts, the
    model contract, slot uploads in chunks and finalize."""
    if compiled.layout == "code":
        return len(code_chunks(compiled.blob)) + 1
    if compiled.layout in ("storage", "packed"):
        slots = len(slot_values(compiled.layout, compiled.blob))
        return 1 + -(-slots // upload_chunk_slots(session)) + 1
    return 1


def split_gas(txs: Sequence[tuple[str, TxResult]]) -> tuple[int, int]:
    """(model contract deployment gas, gas of everything that stores the weights)."""
    deploy = sum(tx.gas_used for label, tx in txs if label == "deploy")
    return deploy, sum(tx.gas_used for _, tx in txs) - deploy


def attach(session: ChainSession, address: str, abi: list[dict[str, Any]]) -> Contract:
    contract = session.contract(address, abi)
    if not session.w3.eth.get_code(contract.address):
        raise ChainError(f"no contract at {address} on {session.description}")
    return contract


def encode_row(plan: Plan, row: Sequence[int]) -> Any:
    """The ``predict`` argument: int256[] (fixed) or one byte per int8 input."""
    if plan.mode == "int8":
        return bytes(v & 0xFF for v in row)
    return list(row)


def encode_rows(plan: Plan, rows: Sequence[Sequence[int]]) -> Any:
    if plan.mode == "int8":
        return b"".join(encode_row(plan, r) for r in rows)
    return [v for r in rows for v in r]


def _predict_call(
    session: ChainSession, contract: Contract, function: str, arg: Any, gas: int | None, transact: bool
) -> tuple[Any, TxResult | None]:
    """One call of ``predict`` or ``predictBatch``: the contract's answer by eth_call, then, with
    ``transact``, the same call sent as a transaction for its receipt (gas, intrinsic and calldata
    included, and fee). Every on-chain prediction goes through here."""
    answer = session.call(contract, function, arg, gas=gas)
    receipt = session.transact(contract, function, arg, gas=gas) if transact else None
    return answer, receipt


def check_row_fits(session: ChainSession, contract: Contract, plan: Plan) -> int:
    """The gas model's upper bound of one ``predict(row)``, refused (before any call or transaction,
    :class:`evmkit.errors.GasLimitExceeded`) when one row cannot fit what a transaction may use."""
    bound = gasmodel.inference_upper_bound(contract_shape(session, contract, plan)).total
    session.check_fits("one inference (predict of one row, the gas model's upper bound)", bound)
    return bound


def predict_onchain(
    session: ChainSession, contract: Contract, plan: Plan, rows: Sequence[Sequence[int]]
) -> list[tuple[Prediction, int]]:
    """The single-row entry point ``predict(row)``, once per row, with each call's receipt gas: what
    the benches report as one inference. Predictions of many rows go through :func:`predict_batched`."""
    results = []
    if rows:
        check_row_fits(session, contract, plan)
    for row in rows:
        arg = encode_row(plan, row)
        (outputs, predicted), receipt = _predict_call(session, contract, "predict", arg, None, True)
        gas = receipt.gas_used if receipt is not None else 0
        results.append((Prediction(tuple(int(v) for v in outputs), int(predicted)), gas))
    return results


@dataclass(frozen=True)
class BatchResult:
    """Integer predictions of every row, and each ``predictBatch`` call's gas and row count: receipt
    gas, or with ``gas_estimated`` (calls only, nothing sent) the gas model's estimate of each call.
    ``cost_wei``: what the transactions' gas cost (0 when nothing was sent)."""

    predictions: list[Prediction]
    gas_per_call: list[int]
    rows_per_call: list[int]
    gas_estimated: bool = False
    cost_wei: int = 0


class BatchTooLarge(ChainError):
    """A ``predictBatch`` call could cost more gas than a call may use: refused before sending."""


def contract_shape(session: ChainSession, contract: Contract, plan: Plan) -> gasmodel.ModelShape:
    """The plan's weights and the layout this deployed contract reads them from, told by its
    ABI (``dataContracts``: code; ``upload``: storage or packed, by ``N_SLOTS``; else inline)."""
    blob = encode_blob(plan)
    names = {item.get("name") for item in contract.abi}
    if "dataContracts" in names:
        layout = "code"
    elif "upload" in names:
        n_slots = int(session.call(contract, "N_SLOTS"))
        layout = "storage" if n_slots == len(slot_values("storage", blob)) else "packed"
    else:
        layout = "inline"
    return gasmodel.ModelShape(plan, blob, layout, session.pricing_fork)


def batch_size(
    session: ChainSession, shape: gasmodel.ModelShape, n_rows: int, rows_per_call: int | None = None
) -> tuple[int, int]:
    """(rows per call, gas to send with each call), from the gas model's upper bound per row,
    never from a measured row: a call of that many rows, whatever their values, costs at most
    the gas it is sent with. Without ``rows_per_call``, as many rows as fit ``block_budget``
    (90% of the block, at most 30M; one row with the whole limit when not even one fits that);
    with it, that many if they fit the block gas limit.
    Raises :class:`BatchTooLarge` (one line) when they do not."""
    if rows_per_call is not None and rows_per_call < 1:
        raise ValueError(f"rows per call must be at least 1, got {rows_per_call}")
    limit = session.gas_cap
    if rows_per_call is None:
        gas = block_budget(session)
        size = gasmodel.rows_that_fit(shape, gas, most=n_rows)
        if size == 0:
            bound = gasmodel.batch_upper_bound(shape, 1).total
            if bound <= limit:  # past the 90% share but within the limit: one row per call still fits
                return 1, limit
            raise BatchTooLarge(
                f"one row of predictBatch may cost up to {bound:,} gas (the gas model's upper bound), over "
                f"the {gas:,} gas a call may use (90% of {session.gas_cap_description(limit)}, counted up "
                f"to {MAINNET_BLOCK_GAS:,}); nothing was sent"
            )
        return size, gas
    size = min(rows_per_call, n_rows)
    bound = gasmodel.batch_upper_bound(shape, size).total
    if bound > limit:
        fits = gasmodel.rows_that_fit(shape, limit, most=size)
        hint = f"use at most {fits} rows per call" if fits else "not even one row fits"
        raise BatchTooLarge(
            f"predictBatch of {size} rows may cost up to {bound:,} gas (the gas model's upper bound), over "
            f"{session.gas_cap_description(limit)}; {hint}; nothing was sent"
        )
    return size, limit


def predict_batched(
    session: ChainSession,
    contract: Contract,
    plan: Plan,
    rows: Sequence[Sequence[int]],
    rows_per_call: int | None = None,
    transact: bool = True,
    on_rows: Callable[[int], None] | None = None,
    estimate_gas: bool = False,
) -> BatchResult:
    """All rows through ``predictBatch``, in calls sized by :func:`batch_size` from the gas
    model's upper bound per row (a cheap first row tells nothing of the rows after it), each
    call and transaction sent with the gas it was sized for. ``transact=False`` only calls
    (eth_call: no key needed, nothing sent): no gas figures, or with ``estimate_gas`` the gas
    model's estimate of each call, and ``gas_estimated`` says so. ``on_rows(n)`` runs after each
    call (progress)."""
    predictions: list[Prediction] = []
    gas_used: list[int] = []
    sizes: list[int] = []
    cost = 0
    if not rows:
        return BatchResult(predictions, gas_used, sizes, not transact and estimate_gas)
    shape = contract_shape(session, contract, plan)
    size, gas = batch_size(session, shape, len(rows), rows_per_call)
    n = plan.n_outputs
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        (outputs, classes), receipt = _predict_call(
            session, contract, "predictBatch", encode_rows(plan, chunk), gas, transact
        )
        predictions += [
            Prediction(tuple(int(v) for v in outputs[r * n : (r + 1) * n]), int(classes[r]))
            for r in range(len(chunk))
        ]
        sizes.append(len(chunk))
        if receipt is not None:
            gas_used.append(receipt.gas_used)
            cost += receipt.cost_wei
        elif estimate_gas:
            gas_used.append(gasmodel.batch_inference(shape, chunk).total)
        if on_rows is not None:
            on_rows(len(chunk))
    return BatchResult(predictions, gas_used, sizes, not transact and estimate_gas, cost)
