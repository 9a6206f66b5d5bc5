"""The steps the CLI, the demo and the benchmarks share:
model -> plan -> contract -> deployment -> predictions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from web3 import Web3
from web3.contract import Contract

from evmkit.chain import ChainSession, TxResult
from evmkit.errors import ChainError
from evmkit.solc import Compiler, resolve_compiler

from . import emulator
from .capture import capture, load_model
from .fixed import FixedFormat
from .manifest import Manifest, ManifestError, TxRecord, file_sha256
from .commitment import differences
from .layouts import slot_bytes
from .onchain import (
    Compiled,
    attach,
    compile_plan,
    data_contract_code,
    deploy_and_upload,
    encode_row,
    predict_batched,
)
from .plan import Plan, PlanError, build_plan, decode_outputs, encode_inputs, group_layers
from .quant import Scales, calibrate
from .render import contract_name_for


@dataclass(frozen=True)
class Settings:
    """How to translate: number mode, fixed format, weight layout (None: cheapest for the
    size), and for int8 either calibrated ``scales`` or ``calibration`` rows to derive them."""

    mode: str = "fixed"
    fmt: FixedFormat = field(default_factory=FixedFormat)
    layout: str | None = None
    scales: Scales | None = None
    calibration: np.ndarray | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        if self.mode == "fixed":
            return {"kind": "fixed", "frac_bits": self.fmt.frac_bits, "weight_bits": self.fmt.weight_bits}
        assert self.scales is not None
        return {"kind": "int8", "scales": self.scales.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any], layout: str | None) -> "Settings":
        kind = data.get("kind")
        try:
            if kind == "fixed":
                return cls("fixed", FixedFormat(int(data["frac_bits"]), int(data["weight_bits"])), layout)
            if kind == "int8":
                scales = Scales.from_json(data["scales"])
                if not all(s > 0 for s in (*scales.inputs, *scales.hidden)):
                    raise ValueError("every int8 scale must be positive")
                return cls("int8", layout=layout, scales=scales)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f"the manifest's number format is malformed ({type(exc).__name__}: {exc})") from None
        raise ManifestError(f"unknown number format {kind!r} in manifest")


@dataclass(frozen=True)
class Translation:
    model_path: Path
    settings: Settings  # with int8 scales resolved
    compiled: Compiled
    compiler: Compiler

    @property
    def plan(self) -> Plan:
        return self.compiled.plan


def plan_model(model_path: Path, settings: Settings) -> tuple[Plan, Settings]:
    """The plan, and the settings with int8 scales resolved from calibration rows."""
    ops = capture(load_model(model_path))
    if settings.mode == "int8" and settings.scales is None:
        if settings.calibration is None:
            raise PlanError("int8 needs calibration data: pass --calibrate FILE")
        settings = replace(settings, scales=calibrate(group_layers(ops), settings.calibration))
    return build_plan(ops, settings.fmt, settings.mode, settings.scales), settings


def translate(model_path: Path, settings: Settings, compiler: Compiler | None = None,
              source_name: str | None = None) -> Translation:
    """`source_name` (default: the model file's name) names the contract and appears in its source,
    so in its bytecode's metadata: `verify` passes the deployed one."""
    compiler = compiler or resolve_compiler()
    plan, settings = plan_model(model_path, settings)
    source_name = source_name or model_path.name
    compiled = compile_plan(plan, contract_name_for(source_name), source_name, settings.layout, compiler)
    return Translation(model_path, replace(settings, layout=compiled.layout), compiled, compiler)


def _resumable(path: Path, t: Translation, chain_info: dict[str, Any]) -> Manifest | None:
    if not path.is_file():
        return None
    try:
        old = Manifest.load(path)
    except ManifestError:
        return None
    same = (
        not old.complete
        and old.chain == chain_info
        and old.model_sha256 == file_sha256(t.model_path)
        and old.number_format == t.settings.to_json()
        and old.layout == t.compiled.layout
        and old.weights_hash == Web3.to_hex(t.compiled.blob.hash)
        and old.model_hash == Web3.to_hex(t.compiled.commitment.model_hash)
    )
    return old if same else None


def deploy(
    session: ChainSession,
    t: Translation,
    manifest_path: Path | None,
    chain_info: dict[str, Any],
    on_tx: Callable[[str, TxResult], None] | None = None,
    resume: bool = True,
) -> tuple[Manifest, Contract]:
    """Deploy and upload, saving the manifest after each transaction.

    With ``resume``, an unfinished manifest for the same model, settings and chain continues:
    data contracts whose code is on chain are reused, a slot upload resumes at ``loaded()``.
    """
    old = _resumable(manifest_path, t, chain_info) if resume and manifest_path else None
    compiled = t.compiled
    manifest = old or Manifest(
        model_path=str(t.model_path.resolve()),
        model_sha256=file_sha256(t.model_path),
        contract_name=compiled.contract_name,
        architecture=compiled.plan.architecture,
        number_format=t.settings.to_json(),
        layout=compiled.layout,
        n_params=compiled.plan.n_params,
        blob_bytes=len(compiled.blob.data),
        weights_hash=Web3.to_hex(compiled.blob.hash),
        model_hash=Web3.to_hex(compiled.commitment.model_hash),
        descriptor=compiled.commitment.descriptor,
        chain=chain_info,
        compiler=t.compiler.describe(),
        abi=compiled.artifact.abi,
    )

    def save() -> None:
        if manifest_path is not None:
            manifest.save(manifest_path)

    def record(label: str, tx: TxResult) -> None:
        if label.startswith("data["):  # data[i]: the i-th data contract, new or redeployed
            index = int(label[5:-1])
            if index < len(manifest.data_contracts):
                manifest.data_contracts[index] = str(tx.contract_address)
            else:
                manifest.data_contracts.append(str(tx.contract_address))
        elif label == "deploy":
            manifest.address = tx.contract_address
        manifest.transactions.append(TxRecord.of(label, tx))
        save()
        if on_tx:
            on_tx(label, tx)

    contract, _ = deploy_and_upload(session, compiled, record, list(manifest.data_contracts), manifest.address)
    if compiled.layout == "code":
        manifest.data_contracts = [str(a) for a in session.call(contract, "dataContracts")]
    manifest.complete = True
    save()
    return manifest, contract


@dataclass(frozen=True)
class PredictResult:
    predictions: list[int]
    outputs: list[list[float]]
    gas_per_call: list[int]
    rows_per_call: list[int]
    emulator_agrees: list[bool]

    @property
    def gas_used(self) -> int:
        return sum(self.gas_per_call)


def predict(
    session: ChainSession,
    contract: Contract,
    plan: Plan,
    rows: np.ndarray,
    rows_per_call: int | None = None,
) -> PredictResult:
    """On-chain predictions for float ``rows`` through ``predictBatch`` (calls sized to fit
    the block unless ``rows_per_call`` is given), each checked against the emulator."""
    encoded = encode_inputs(plan, rows.tolist())
    batch = predict_batched(session, contract, plan, encoded, rows_per_call)
    agrees = [p == emulator.predict(plan, row) for p, row in zip(batch.predictions, encoded)]
    return PredictResult(
        predictions=[p.predicted_class for p in batch.predictions],
        outputs=[decode_outputs(plan, p.outputs) for p in batch.predictions],
        gas_per_call=batch.gas_per_call,
        rows_per_call=batch.rows_per_call,
        emulator_agrees=agrees,
    )


@dataclass(frozen=True)
class Check:
    """One comparison `ml2sc verify` makes: what, the outcome (match / DIFFERS / not checked), detail."""

    what: str
    outcome: str
    detail: str = ""


@dataclass
class Verification:
    checks: list[Check] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # each named: "weights differ", ...

    @property
    def ok(self) -> bool:
        return not self.differences

    def add(self, what: str, same: bool | None, detail: str = "", difference: str = "") -> None:
        """Record a check; None means it could not run here (never a match)."""
        outcome = "not checked" if same is None else ("match" if same else "DIFFERS")
        self.checks.append(Check(what, outcome, detail))
        if same is False:
            self.differences.append(difference or f"{what} differs")


def read_back_blob(session: ChainSession, address: str, layout: str, t: Translation,
                   data_contracts: list[str]) -> bytes | None:
    """The weights as stored on chain, for layouts that store them apart from the model's code."""
    blob = t.compiled.blob
    if layout == "code":
        parts = [bytes(session.w3.eth.get_code(Web3.to_checksum_address(a))) for a in data_contracts]
        return b"".join(p[1:] for p in parts)
    if layout in ("storage", "packed"):
        base = int.from_bytes(Web3.keccak(text="ml2sc.weights"), "big")
        width = slot_bytes(layout, blob)
        n_slots = -(-len(blob.data) // width)
        words = [bytes(session.w3.eth.get_storage_at(address, base + k)) for k in range(n_slots)]
        return b"".join(w[32 - width:] for w in words)[: len(blob.data)]
    return None  # inline: the weights are the contract's own code


def verify(session: ChainSession | None, manifest: Manifest, t: Translation) -> Verification:
    """Recompute the model commitment from the model file (with the manifest's settings) and hold it
    against the manifest and, where the chain is reachable, against the contract: its modelHash()
    and weightsHash(), its runtime code against a fresh compile, the data contracts it names itself
    (dataContracts()) and the weight slots read back. Every difference is named."""
    c = t.compiled.commitment
    v = Verification()
    named = differences(c.descriptor, manifest.descriptor)
    v.add("model description: model file vs manifest", not named, "; ".join(named) or "same",
          named[0] if named else "")
    v.differences += named[1:]
    v.add("weights hash: model file vs manifest", Web3.to_hex(c.weights_hash) == manifest.weights_hash,
          Web3.to_hex(c.weights_hash), "weights differ (model file vs manifest)")
    if not manifest.complete or not manifest.address:
        v.add("deployment finished", False, "the manifest records an unfinished deployment",
              "deployment incomplete (the manifest records no finished deployment)")
    if session is None:
        v.add("the deployed contract", None, "not checked: the embedded chain is gone (deploy with --rpc-url)")
        return v
    claimed = manifest.chain.get("chain_id")
    actual = session.w3.eth.chain_id
    v.add("chain id: node vs manifest", claimed is None or int(claimed) == actual, f"{session.description}, chain {actual}",
          f"chain differs (the manifest says chain {claimed}, the node is chain {actual})")
    if manifest.address:
        _verify_chain(session, manifest, t, v)
    return v


def _verify_chain(session: ChainSession, manifest: Manifest, t: Translation, v: Verification) -> None:
    c = t.compiled.commitment
    address = Web3.to_checksum_address(manifest.address or "")
    code = bytes(session.w3.eth.get_code(address))
    if not code:
        v.add("contract code", False, f"no contract at {address}", "deployment incomplete (no contract at the address)")
        return
    v.add("runtime bytecode vs a fresh compile", t.compiled.artifact.runtime_matches(code),
          f"{len(code):,} bytes", "bytecode differs")
    contract = attach(session, address, t.compiled.artifact.abi)
    try:
        on_model = bytes(session.call(contract, "modelHash"))
        on_weights = bytes(session.call(contract, "weightsHash"))
    except ChainError as exc:
        v.add("modelHash()", False, str(exc), "bytecode differs (no modelHash())")
        return
    v.add("contract modelHash()", on_model == c.model_hash, Web3.to_hex(on_model), "model hash differs")
    if on_weights == bytes(32):
        v.add("contract weightsHash()", False, "0x0: the upload was never finalized",
              "deployment incomplete (weights not finalized)")
    else:
        v.add("contract weightsHash()", on_weights == c.weights_hash, Web3.to_hex(on_weights), "weights differ")
    data = list(manifest.data_contracts)
    if manifest.layout == "code":
        data = [str(a) for a in session.call(contract, "dataContracts")]
        v.add("data contracts: chain vs manifest", [a.lower() for a in data] == [a.lower() for a in manifest.data_contracts],
              ", ".join(data), "data contracts differ from the manifest's")
        _verify_data_contracts(session, contract, code, data, t, v)
    stored = read_back_blob(session, address, manifest.layout, t, data)
    if stored is not None:
        v.add("weights read back from chain", Web3.keccak(stored) == c.weights_hash,
              Web3.to_hex(Web3.keccak(stored)), "weights differ (read back from chain)")
    _verify_prediction(session, contract, t, v)


def _verify_data_contracts(session: ChainSession, contract: Contract, code: bytes, data: list[str],
                           t: Translation, v: Verification) -> None:
    """The code layout's invariants, held by its constructor, checked here too, since a contract can be
    created without running that constructor: each data contract's code is exactly 0x00 || chunk
    (inert, so it cannot change; not an EIP-7702 account), and every immutable the runtime code holds
    is the owner, a data contract or the code hash each must have."""
    want = data_contract_code(t.compiled)
    codes = [bytes(session.w3.eth.get_code(Web3.to_checksum_address(a))) for a in data]
    bad = [i for i, (have, need) in enumerate(zip(codes, want)) if have != need] + list(range(len(codes), len(want)))
    v.add("data contracts' code is exactly 0x00 || chunk", not bad and len(codes) == len(want),
          "all" if not bad else f"not: {bad}", f"weights differ (data contract {bad[0] if bad else len(want)})")
    owner = bytes.fromhex(str(session.call(contract, "owner"))[2:]).rjust(32, b"\0")
    allowed = {owner} | {bytes.fromhex(a[2:]).rjust(32, b"\0") for a in data} | {Web3.keccak(w) for w in want}
    held = {code[start:start + length].rjust(32, b"\0") for start, length in t.compiled.artifact.immutables}
    v.add("immutables: owner, data contracts and their code hashes", held <= allowed,
          f"{len(t.compiled.artifact.immutables)} references", "bytecode differs (immutables)")


def _verify_prediction(session: ChainSession, contract: Contract, t: Translation, v: Verification) -> None:
    """What the contract computes now, on one fixed row, against the emulator."""
    rng = np.random.default_rng(0)
    row = encode_inputs(t.plan, [rng.uniform(-1, 1, t.plan.n_inputs).tolist()])[0]
    want = emulator.predict(t.plan, row)
    try:
        outputs, predicted = session.call(contract, "predict", encode_row(t.plan, row))
    except ChainError as exc:
        v.add("predict on a test row vs the emulator", False, str(exc), f"predict fails ({exc})")
        return
    same = [int(o) for o in outputs] == list(want.outputs) and int(predicted) == want.predicted_class
    v.add("predict on a test row vs the emulator", same, f"class {int(predicted)}", "predictions differ")
