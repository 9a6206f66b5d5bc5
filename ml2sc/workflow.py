"""The steps the CLI and the demo share: model -> plan -> contract -> deployment -> predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from web3 import Web3
from web3.contract import Contract

from evmkit.chain import ChainSession, TxResult
from evmkit.solc import Compiler, resolve_compiler

from . import emulator
from .capture import capture, load_model
from .fixed import FixedFormat
from .manifest import Manifest, ManifestError, TxRecord, file_sha256
from .onchain import Compiled, attach, compile_plan, predict_onchain, upload_weights
from .plan import Plan, build_plan, encode_inputs, weights_hash
from .render import contract_name_for


@dataclass(frozen=True)
class Translation:
    model_path: Path
    plan: Plan
    compiled: Compiled
    compiler: Compiler


def plan_model(model_path: Path, fmt: FixedFormat) -> Plan:
    return build_plan(capture(load_model(model_path)), fmt)


def translate(model_path: Path, fmt: FixedFormat, compiler: Compiler | None = None) -> Translation:
    compiler = compiler or resolve_compiler()
    plan = plan_model(model_path, fmt)
    name = contract_name_for(model_path.name)
    compiled = compile_plan(plan, name, model_path.name, compiler)
    return Translation(model_path, plan, compiled, compiler)


def format_json(fmt: FixedFormat) -> dict[str, Any]:
    return {"kind": "fixed", "frac_bits": fmt.frac_bits, "weight_bits": fmt.weight_bits}


def format_from_json(data: dict[str, Any]) -> FixedFormat:
    if data.get("kind") != "fixed":
        raise ManifestError(f"unknown number format {data.get('kind')!r} in manifest")
    return FixedFormat(int(data["frac_bits"]), int(data["weight_bits"]))


def _resumable(path: Path, t: Translation, chain_info: dict[str, Any]) -> Manifest | None:
    if not path.is_file():
        return None
    try:
        old = Manifest.load(path)
    except ManifestError:
        return None
    same = (
        old.chain == chain_info
        and old.model_sha256 == file_sha256(t.model_path)
        and old.number_format == format_json(t.plan.fmt)
        and old.weights_hash == Web3.to_hex(weights_hash(t.plan.weights))
        and old.address is not None
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

    With ``resume``, a manifest for the same model, format and chain whose contract exists
    continues its upload instead of deploying again.
    """
    def save() -> None:
        if manifest_path is not None:
            manifest.save(manifest_path)

    old = _resumable(manifest_path, t, chain_info) if resume and manifest_path else None
    if old is not None:
        assert old.address is not None
        manifest, contract = old, attach(session, old.address, t.compiled.artifact.abi)
    else:
        manifest = Manifest(
            model_path=str(t.model_path.resolve()),
            model_sha256=file_sha256(t.model_path),
            contract_name=t.compiled.contract_name,
            architecture=t.plan.architecture,
            number_format=format_json(t.plan.fmt),
            n_weights=len(t.plan.weights),
            weights_hash=Web3.to_hex(weights_hash(t.plan.weights)),
            chain=chain_info,
            compiler=t.compiler.describe(),
            abi=t.compiled.artifact.abi,
        )
        contract, tx = session.deploy(t.compiled.artifact)
        manifest.address = contract.address
        manifest.transactions.append(TxRecord.of("deploy", tx))
        save()
        if on_tx:
            on_tx("deploy", tx)

    def record(label: str, tx: TxResult) -> None:
        manifest.transactions.append(TxRecord.of(label, tx))
        save()
        if on_tx:
            on_tx(label, tx)

    upload_weights(session, contract, t.plan, on_tx=record)
    manifest.complete = True
    save()
    return manifest, contract


@dataclass(frozen=True)
class PredictResult:
    predictions: list[int]
    outputs: list[list[float]]
    raw_outputs: list[tuple[int, ...]]
    gas_per_row: list[int]
    emulator_agrees: list[bool]

    @property
    def gas_used(self) -> int:
        return sum(self.gas_per_row)


def predict(session: ChainSession, contract: Contract, plan: Plan, rows: np.ndarray) -> PredictResult:
    """On-chain predictions for float ``rows``, each checked against the emulator."""
    encoded = encode_inputs(plan, rows.tolist())
    onchain = predict_onchain(session, contract, encoded)
    agrees = [pred == emulator.predict(plan, row) for (pred, _), row in zip(onchain, encoded)]
    return PredictResult(
        predictions=[p.predicted_class for p, _ in onchain],
        outputs=[[plan.fmt.decode(v) for v in p.outputs] for p, _ in onchain],
        raw_outputs=[p.outputs for p, _ in onchain],
        gas_per_row=[gas for _, gas in onchain],
        emulator_agrees=agrees,
    )
