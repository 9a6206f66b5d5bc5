"""The steps the CLI, the demo and the benchmarks share:
model -> plan -> contract -> deployment -> predictions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from web3 import Web3
from web3.contract import Contract

from evmkit.chain import ChainSession, TxResult
from evmkit.errors import ChainError
from evmkit.solc import Compiler, resolve_compiler

from . import emulator
from .capture import Activation, BatchNorm, Dense, build_arch, capture, load_model, load_state_dict
from .commitment import differences
from .fixed import FixedFormat
from .layouts import slot_bytes
from .manifest import Manifest, ManifestError, TxRecord, file_sha256
from .onchain import (
    Compiled,
    attach,
    compile_plan,
    data_contract_code,
    deploy_and_upload,
    encode_row,
)
from .plan import Plan, PlanError, build_plan, encode_inputs, group_layers
from .quant import Scales, calibrate
from .render import contract_name_for

if TYPE_CHECKING:
    from torch import nn


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
        """The manifest's ``number_format`` object."""
        if self.mode == "fixed":
            return {"kind": "fixed", "frac_bits": self.fmt.frac_bits, "weight_bits": self.fmt.weight_bits}
        assert self.scales is not None
        return {"kind": "int8", "scales": self.scales.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any], layout: str | None) -> Settings:
        """Settings from a manifest's ``number_format`` object (a clear error if malformed)."""
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
            raise ManifestError(
                f"the manifest's number format is malformed ({type(exc).__name__}: {exc})"
            ) from None
        raise ManifestError(f"unknown number format {kind!r} in manifest")


@dataclass(frozen=True)
class Translation:
    """A model turned into a compiled contract: the plan, the weights blob, the layout, the artifact.
    ``model_path`` is the model file (None for an in-memory module); ``source_name`` names the
    contract and appears in its source, so in its bytecode's metadata."""

    model_path: Path | None
    settings: Settings  # with int8 scales resolved
    compiled: Compiled
    compiler: Compiler
    source_name: str = ""
    regression: bool = False  # outputs are numbers, with no class (see is_regression)

    @property
    def plan(self) -> Plan:
        """The integer plan the contract and the emulator both run."""
        return self.compiled.plan

    @property
    def bytecode(self) -> bytes:
        """The creation bytecode (for the code layout, before the data contracts' addresses)."""
        return self.compiled.artifact.bytecode


ModelSource = Union["nn.Module", str, Path, Any]  # a module, a fitted sklearn MLP, or a model file
Arch = Union[str, type, "nn.Module", None]  # a state_dict's module: "module:Class", a class, or built


def resolve_model(model: Any, arch: Arch = None) -> tuple[Any, Path | None]:
    """(the model, its file or None) for an ``nn.Module``, a fitted scikit-learn MLP, or a file as a str
    or ``pathlib.Path`` (a state_dict file needs ``arch``; an ONNX file gives its ops)."""
    if isinstance(model, (str, Path)):
        return load_model(model, arch), Path(model)
    import torch

    from .sklearn_import import is_sklearn

    if isinstance(model, torch.nn.Module) or is_sklearn(model) or _is_ops(model):
        if arch is not None:
            raise TypeError("arch= applies to a state_dict file, not to a model object")
        return model, None
    if isinstance(model, dict) and arch is not None:  # a state_dict in memory
        return load_state_dict(build_arch(arch), model), None
    raise TypeError(
        f"model must be a torch.nn.Module, a str or a pathlib.Path (a model file), or a fitted "
        f"scikit-learn MLPClassifier / MLPRegressor, not {type(model).__name__}"
    )


def _is_ops(model: Any) -> bool:
    """True for ops already read (what ``capture`` and ``onnx_import.load_onnx`` return)."""
    return (
        isinstance(model, list)
        and bool(model)
        and all(isinstance(op, (Dense, Activation, BatchNorm)) for op in model)
    )


def is_regression(model: Any, plan: Plan) -> bool:
    """True when the outputs are numbers, not class scores: an ``MLPRegressor``, or one output with no
    sigmoid (the plan's ``logit`` head: a threshold at 0 is no class of a regression's output)."""
    from .sklearn_import import is_regressor, is_sklearn

    if is_sklearn(model):
        return is_regressor(model)
    return plan.head == "logit"


def plan_model(model: ModelSource, settings: Settings, arch: Arch = None) -> tuple[Plan, Settings]:
    """The plan, and the settings with int8 scales resolved from calibration rows."""
    ops = capture(resolve_model(model, arch)[0])
    if settings.mode == "int8" and settings.scales is None:
        if settings.calibration is None:
            raise PlanError("int8 needs calibration data: pass --calibrate FILE")
        settings = replace(settings, scales=calibrate(group_layers(ops), settings.calibration))
    return build_plan(ops, settings.fmt, settings.mode, settings.scales), settings


def translate(
    model: ModelSource,
    settings: Settings,
    compiler: Compiler | None = None,
    source_name: str | None = None,
    arch: Arch = None,
) -> Translation:
    """`source_name` (default: the model file's name; a module's class name) names the contract and
    appears in its source, so in its bytecode's metadata: `verify` passes the deployed one. ``arch``
    is the module a state_dict file loads into."""
    compiler = compiler or resolve_compiler()
    module, path = resolve_model(model, arch)
    plan, settings = plan_model(module, settings)
    source_name = source_name or (path.name if path is not None else type(module).__name__)
    compiled = compile_plan(plan, contract_name_for(source_name), source_name, settings.layout, compiler)
    return Translation(
        path,
        replace(settings, layout=compiled.layout),
        compiled,
        compiler,
        source_name,
        is_regression(module, plan),
    )


@dataclass(frozen=True)
class ChainInfo:
    """Where a deployment lives, as its manifest records it: ``embedded`` (gone with the process)
    or ``rpc`` (a node's URL and chain id, so that later commands find it again)."""

    kind: str
    rpc_url: str | None = None
    chain_id: int | None = None

    @classmethod
    def of(cls, session: ChainSession) -> ChainInfo:
        """The session's own: a node's URL and chain id, or the embedded chain."""
        if session.rpc_url is None:
            return cls("embedded")
        return cls("rpc", session.rpc_url, int(session.w3.eth.chain_id))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainInfo:
        """The manifest's ``chain`` object."""
        chain_id = data.get("chain_id")
        return cls(str(data["kind"]), data.get("rpc_url"), None if chain_id is None else int(chain_id))

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``chain`` object (embedded: the kind alone)."""
        if self.kind == "embedded":
            return {"kind": "embedded"}
        return {"kind": self.kind, "rpc_url": self.rpc_url, "chain_id": self.chain_id}


def _model_sha256(t: Translation) -> str:
    """The model file's SHA-256; empty for an in-memory module (there is no file to hash)."""
    return file_sha256(t.model_path) if t.model_path is not None else ""


def _resumable(path: Path, t: Translation, chain_info: dict[str, Any]) -> Manifest | None:
    if not path.is_file() or t.model_path is None:
        return None
    try:
        old = Manifest.load(path)
    except ManifestError:
        return None
    same = (
        not old.complete
        and old.chain == chain_info
        and old.model_sha256 == _model_sha256(t)
        and old.number_format == t.settings.to_json()
        and old.layout == t.compiled.layout
        and old.weights_hash == Web3.to_hex(t.compiled.blob.hash)
        and old.model_hash == Web3.to_hex(t.compiled.commitment.model_hash)
    )
    return old if same else None


def deploy(
    session: ChainSession,
    t: Translation,
    manifest_path: Path | None = None,
    chain_info: ChainInfo | Mapping[str, Any] | None = None,
    on_tx: Callable[[str, TxResult], None] | None = None,
    resume: bool = True,
) -> tuple[Manifest, Contract]:
    """Deploy and upload, saving the manifest after each transaction (when ``manifest_path`` is given).

    ``chain_info`` is what the manifest records about the chain (default: the session's own, see
    :meth:`ChainInfo.of`). With ``resume``, an unfinished manifest for the same model, settings and
    chain continues: data contracts whose code is on chain are reused, a slot upload resumes at
    ``loaded()``.
    """
    if chain_info is None:
        chain_info = ChainInfo.of(session)
    elif not isinstance(chain_info, ChainInfo):
        chain_info = ChainInfo.from_json(chain_info)
    chain_json = chain_info.to_json()
    old = _resumable(manifest_path, t, chain_json) if resume and manifest_path else None
    compiled = t.compiled
    manifest = old or Manifest(
        model_path=str(t.model_path.resolve()) if t.model_path is not None else None,
        model_sha256=_model_sha256(t),
        contract_name=compiled.contract_name,
        architecture=compiled.plan.architecture,
        number_format=t.settings.to_json(),
        layout=compiled.layout,
        n_params=compiled.plan.n_params,
        blob_bytes=len(compiled.blob.data),
        weights_hash=Web3.to_hex(compiled.blob.hash),
        model_hash=Web3.to_hex(compiled.commitment.model_hash),
        descriptor=compiled.commitment.descriptor,
        chain=chain_json,
        compiler=t.compiler.describe(),
        abi=compiled.artifact.abi,
        source_name=t.source_name,
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

    contract, _ = deploy_and_upload(
        session, compiled, record, list(manifest.data_contracts), manifest.address
    )
    if compiled.layout == "code":
        manifest.data_contracts = [str(a) for a in session.call(contract, "dataContracts")]
    manifest.complete = True
    save()
    return manifest, contract


@dataclass(frozen=True)
class Check:
    """One comparison `ml2sc verify` makes: what, the outcome (match / DIFFERS / not checked), detail."""

    what: str
    outcome: str
    detail: str = ""


@dataclass
class Verification:
    """What `verify` found: every check made, and every difference named; ``ok`` when none."""

    checks: list[Check] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # each named: "weights differ", ...
    model_hash: bytes = b""  # recomputed from the model file under the manifest's settings

    @property
    def ok(self) -> bool:
        """True when nothing differs (checks that could not run are not differences)."""
        return not self.differences

    def add(self, what: str, same: bool | None, detail: str = "", difference: str = "") -> None:
        """Record a check; None means it could not run here (never a match)."""
        outcome = "not checked" if same is None else ("match" if same else "DIFFERS")
        self.checks.append(Check(what, outcome, detail))
        if same is False:
            self.differences.append(difference or f"{what} differs")


def read_back_blob(
    session: ChainSession, address: str, layout: str, t: Translation, data_contracts: list[str]
) -> bytes | None:
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
        return b"".join(w[32 - width :] for w in words)[: len(blob.data)]
    return None  # inline: the weights are the contract's own code


def verify(session: ChainSession | None, manifest: Manifest, t: Translation) -> Verification:
    """Recompute the model commitment from the model file (with the manifest's settings) and hold it
    against the manifest and, where the chain is reachable, against the contract: its modelHash()
    and weightsHash(), its runtime code against a fresh compile, the data contracts it names itself
    (dataContracts()) and the weight slots read back. Every difference is named."""
    c = t.compiled.commitment
    v = Verification(model_hash=c.model_hash)
    named = differences(c.descriptor, manifest.descriptor)
    v.add(
        "model description: model file vs manifest",
        not named,
        "; ".join(named) or "same",
        named[0] if named else "",
    )
    v.differences += named[1:]
    v.add(
        "weights hash: model file vs manifest",
        Web3.to_hex(c.weights_hash) == manifest.weights_hash,
        Web3.to_hex(c.weights_hash),
        "weights differ (model file vs manifest)",
    )
    if not manifest.complete or not manifest.address:
        v.add(
            "deployment finished",
            False,
            "the manifest records an unfinished deployment",
            "deployment incomplete (the manifest records no finished deployment)",
        )
    if session is None:
        v.add(
            "the deployed contract", None, "not checked: the embedded chain is gone (deploy with --rpc-url)"
        )
        return v
    claimed = manifest.chain.get("chain_id")
    actual = session.w3.eth.chain_id
    v.add(
        "chain id: node vs manifest",
        claimed is None or int(claimed) == actual,
        f"{session.description}, chain {actual}",
        f"chain differs (the manifest says chain {claimed}, the node is chain {actual})",
    )
    if manifest.address:
        _verify_chain(session, manifest, t, v)
    return v


def _verify_chain(session: ChainSession, manifest: Manifest, t: Translation, v: Verification) -> None:
    c = t.compiled.commitment
    address = Web3.to_checksum_address(manifest.address or "")
    code = bytes(session.w3.eth.get_code(address))
    if not code:
        v.add(
            "contract code",
            False,
            f"no contract at {address}",
            "deployment incomplete (no contract at the address)",
        )
        return
    v.add(
        "runtime bytecode vs a fresh compile",
        t.compiled.artifact.runtime_matches(code),
        f"{len(code):,} bytes",
        "bytecode differs",
    )
    contract = attach(session, address, t.compiled.artifact.abi)
    try:
        on_model = bytes(session.call(contract, "modelHash"))
        on_weights = bytes(session.call(contract, "weightsHash"))
    except ChainError as exc:
        v.add("modelHash()", False, str(exc), "bytecode differs (no modelHash())")
        return
    v.add("contract modelHash()", on_model == c.model_hash, Web3.to_hex(on_model), "model hash differs")
    if on_weights == bytes(32):
        v.add(
            "contract weightsHash()",
            False,
            "0x0: the upload was never finalized",
            "deployment incomplete (weights not finalized)",
        )
    else:
        v.add(
            "contract weightsHash()", on_weights == c.weights_hash, Web3.to_hex(on_weights), "weights differ"
        )
    data = list(manifest.data_contracts)
    if manifest.layout == "code":
        data = [str(a) for a in session.call(contract, "dataContracts")]
        v.add(
            "data contracts: chain vs manifest",
            [a.lower() for a in data] == [a.lower() for a in manifest.data_contracts],
            ", ".join(data),
            "data contracts differ from the manifest's",
        )
        _verify_data_contracts(session, contract, code, data, t, v)
    stored = read_back_blob(session, address, manifest.layout, t, data)
    if stored is not None:
        v.add(
            "weights read back from chain",
            Web3.keccak(stored) == c.weights_hash,
            Web3.to_hex(Web3.keccak(stored)),
            "weights differ (read back from chain)",
        )
    _verify_prediction(session, contract, t, v)


def _verify_data_contracts(
    session: ChainSession, contract: Contract, code: bytes, data: list[str], t: Translation, v: Verification
) -> None:
    """The code layout's invariants, held by its constructor, checked here too, since a contract can be
    created without running that constructor: each data contract's code is exactly 0x00 || chunk
    (inert, so it cannot change; not an EIP-7702 account), and every immutable the runtime code holds
    is the owner, a data contract or the code hash each must have."""
    want = data_contract_code(t.compiled)
    codes = [bytes(session.w3.eth.get_code(Web3.to_checksum_address(a))) for a in data]
    bad = [i for i, (have, need) in enumerate(zip(codes, want)) if have != need] + list(
        range(len(codes), len(want))
    )
    v.add(
        "data contracts' code is exactly 0x00 || chunk",
        not bad and len(codes) == len(want),
        "all" if not bad else f"not: {bad}",
        f"weights differ (data contract {bad[0] if bad else len(want)})",
    )
    owner = bytes.fromhex(str(session.call(contract, "owner"))[2:]).rjust(32, b"\0")
    allowed = {owner} | {bytes.fromhex(a[2:]).rjust(32, b"\0") for a in data} | {Web3.keccak(w) for w in want}
    held = {code[start : start + length].rjust(32, b"\0") for start, length in t.compiled.artifact.immutables}
    v.add(
        "immutables: owner, data contracts and their code hashes",
        held <= allowed,
        f"{len(t.compiled.artifact.immutables)} references",
        "bytecode differs (immutables)",
    )


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
