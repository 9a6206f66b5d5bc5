"""The steps the CLI, the demo and the benchmarks share:
model -> plan -> contract -> deployment -> predictions."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from web3 import Web3
from web3.contract import Contract

from evmkit import progress
from evmkit.chain import ChainSession, ForkMismatch, TransactionRefused, TxResult
from evmkit.errors import ChainError, GasLimitExceeded
from evmkit.forks import Fork, get_fork
from evmkit.solc import Compiler, resolve_compiler

from . import emulator, gasmodel
from .capture import (
    Activation,
    BatchNorm,
    Conv,
    Dense,
    Pool,
    Reshape,
    build_arch,
    capture,
    load_model,
    load_state_dict,
)
from .commitment import differences
from .fixed import FixedFormat
from .layers import FloatLayer
from .layouts import LAYOUTS, MAX_CODE_SIZE, slot_bytes, slot_values
from .manifest import Manifest, ManifestError, TxRecord, file_sha256, model_path_for
from .onchain import (
    Compiled,
    attach,
    check_row_fits,
    compile_plan,
    data_contract_code,
    deploy_and_upload,
    encode_row,
    planned_transactions,
)
from .plan import Plan, PlanError, build_plan, encode_inputs, group_layers
from .quant import Scales, calibrate, float_forward
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
                if not all(s > 0 and math.isfinite(s) for s in scales.values()):
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
    float_layers: tuple[FloatLayer, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def plan(self) -> Plan:
        """The integer plan the contract and the emulator both run."""
        return self.compiled.plan

    @property
    def bytecode(self) -> bytes:
        """The creation bytecode (for the code layout, before the data contracts' addresses)."""
        return self.compiled.artifact.bytecode

    @property
    def fork(self) -> Fork:
        """The rules the contract is compiled for and its gas priced under."""
        return self.compiled.fork


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
        and all(isinstance(op, (Dense, Activation, BatchNorm, Conv, Pool, Reshape)) for op in model)
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
    plan, settings, _ = plan_and_layers(model, settings, arch)
    return plan, settings


def plan_and_layers(
    model: ModelSource, settings: Settings, arch: Arch = None
) -> tuple[Plan, Settings, tuple[FloatLayer, ...]]:
    """:func:`plan_model`, and the float layers it was planned from (the float model's forward,
    ``quant.float_forward``, runs on them)."""
    ops = capture(resolve_model(model, arch)[0])
    layers = tuple(group_layers(ops))
    if settings.mode == "int8" and settings.scales is None:
        if settings.calibration is None:
            raise PlanError("int8 needs calibration data: pass --calibrate FILE")
        settings = replace(settings, scales=calibrate(layers, settings.calibration))
    return build_plan(ops, settings.fmt, settings.mode, settings.scales), settings, layers


def translate(
    model: ModelSource,
    settings: Settings,
    compiler: Compiler | None = None,
    source_name: str | None = None,
    arch: Arch = None,
    fork: str | Fork | None = None,
) -> Translation:
    """`source_name` (default: the model file's name; a module's class name) names the contract and
    appears in its source, so in its bytecode's metadata: `verify` passes the deployed one. ``arch``
    is the module a state_dict file loads into. ``fork`` (default Osaka): the rules to compile for
    (solc's evmVersion, also in the metadata) and to price gas under."""
    compiler = compiler or resolve_compiler()
    rules = get_fork(fork)
    module, path = resolve_model(model, arch)
    plan, settings, layers = plan_and_layers(module, settings)
    source_name = source_name or (path.name if path is not None else type(module).__name__)
    name = contract_name_for(source_name)
    compiled = compile_plan(plan, name, source_name, settings.layout, compiler, rules)
    return Translation(
        path,
        replace(settings, layout=compiled.layout),
        compiled,
        compiler,
        source_name,
        is_regression(module, plan),
        layers,
    )


@dataclass(frozen=True)
class FloatCheck:
    """The on-chain answers held against the float model (``quant.float_forward``) on the same rows:
    ``agree`` of ``rows`` classes the same (None for a regression), the largest output difference
    (``max_error``), and, in int8, the inputs that the input scales clamped to [-128, 127]."""

    agree: int | None
    rows: int
    max_error: float
    clamped_values: int = 0
    clamped_rows: int = 0
    clamped_features: tuple[int, ...] = ()
    output_range: tuple[float, float] = (0.0, 0.0)  # the float model's smallest and largest output

    @property
    def error_share(self) -> float | None:
        """``max_error`` as a share of the float outputs' range (None when they have no range)."""
        low, high = self.output_range
        return self.max_error / (high - low) if high > low else None

    @property
    def share(self) -> float | None:
        """The share of rows whose classes agree (None for a regression or no rows)."""
        return None if self.agree is None or not self.rows else self.agree / self.rows

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement_with_float": None
            if self.agree is None
            else {"agree": self.agree, "rows": self.rows, "share": self.share},
            "float_max_error": self.max_error,
            "float_output_range": list(self.output_range),
            "float_error_share": self.error_share,
            "clamped_inputs": {
                "values": self.clamped_values,
                "rows": self.clamped_rows,
                "features": list(self.clamped_features),
            },
        }


AGREEMENT_WARNING = 0.99  # below this share of rows, predict warns that int8 or fixed point lost the model
ERROR_WARNING = 0.01  # above this share of the outputs' range, predict warns about a regression's error


def float_check(
    layers: tuple[FloatLayer, ...],
    plan: Plan,
    rows: np.ndarray,
    classes: list[int],
    outputs: list[list[float]],
) -> FloatCheck:
    """Hold on-chain ``classes`` and decoded ``outputs`` of ``rows`` against the float model."""
    rows = np.asarray(rows, dtype=np.float64)
    if not len(rows):
        return FloatCheck(None if plan.head == "logit" else 0, 0, 0.0)
    out = float_forward(layers, rows)[-1]
    error = float(np.max(np.abs(out - np.asarray(outputs, dtype=np.float64))))
    if plan.head == "argmax":
        want = np.argmax(out, axis=1)
    elif plan.head == "sigmoid":
        want = (out[:, 0] > 0.5).astype(int)
    else:
        want = None
    agree = None if want is None else int(np.sum(want == np.asarray(classes)))
    values = clamped_rows = 0
    features: tuple[int, ...] = ()
    if plan.mode == "int8":
        q = np.rint(rows / np.asarray(plan.input_scales))
        mask = (q < -128) | (q > 127)
        values, clamped_rows = int(mask.sum()), int(mask.any(axis=1).sum())
        features = tuple(int(i) for i in np.flatnonzero(mask.any(axis=0)))
    span = (float(np.min(out)), float(np.max(out)))
    return FloatCheck(agree, len(rows), error, values, clamped_rows, features, span)


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


def translate_recorded(
    manifest: Manifest, model: Any, compiler: Compiler, arch: Arch = None, named: str | None = None
) -> Translation:
    """``model`` translated under the manifest's settings and contract name, refused in one line
    (``named`` names it) unless its model hash is the one the manifest records."""
    settings = Settings.from_json(manifest.number_format, manifest.layout)
    t = translate(model, settings, compiler, manifest.translated_name, arch, manifest.fork)
    have = Web3.to_hex(t.compiled.commitment.model_hash)
    if have != manifest.model_hash:
        raise ManifestError(
            f"{named or model} is not the deployed model: its model hash under the manifest's settings is "
            f"{have}, the manifest's is {manifest.model_hash} (other weights or another architecture)"
        )
    return t


def _model_sha256(t: Translation) -> str:
    """The model file's SHA-256; empty for an in-memory module (there is no file to hash)."""
    return file_sha256(t.model_path) if t.model_path is not None else ""


def _where(chain_json: Mapping[str, Any]) -> str:
    """A manifest's chain in words."""
    if chain_json.get("kind") == "rpc":
        return f"chain {chain_json.get('chain_id')} at {chain_json.get('rpc_url')}"
    return "on an embedded chain"


def _existing(path: Path | None, force: bool) -> Manifest | None:
    """The manifest already at ``path``, if any. One that must not be lost is refused without
    ``force``: a complete deployment's (over RPC the contract still stands on the node and the
    manifest is how later commands find it; an embedded one is the record of its measured gas),
    or a file that is not an ml2sc manifest this tool reads."""
    if path is None or not path.exists():
        return None
    try:
        old = Manifest.load(path)
    except ManifestError as exc:
        if force:
            return None
        raise ManifestError(f"{exc}; not overwriting it: pass --force (force=True) or another path") from None
    if old.complete and not force:
        raise ManifestError(
            f"{path} records a complete deployment ({old.contract_name} at {old.address}, "
            f"{_where(old.chain)}); not overwriting it: pass --force (force=True) to deploy anew, "
            "or write the new manifest elsewhere (-o)"
        )
    return old


def _resumable(
    old: Manifest | None, t: Translation, chain_info: dict[str, Any], session: ChainSession
) -> Manifest | None:
    """``old`` if it is an unfinished deployment of this very model, settings and node. An embedded
    chain is gone with the process that deployed on it: its manifest is resumed only where every
    contract it records still has code on ``session`` (the same process's chain)."""
    if old is None or t.model_path is None:
        return None
    if chain_info.get("kind") != "rpc":
        recorded = [*old.data_contracts, *([old.address] if old.address else [])]
        if not recorded or any(not session.w3.eth.get_code(a) for a in recorded):
            return None
    same = (
        not old.complete
        and old.chain == chain_info
        and old.fork == t.fork.name
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
    force: bool = False,
    show_progress: bool = False,
) -> tuple[Manifest, Contract]:
    """Deploy and upload, saving the manifest after each transaction (when ``manifest_path`` is given).

    ``chain_info`` is what the manifest records about the chain (default: the session's own, see
    :meth:`ChainInfo.of`). With ``resume``, an unfinished manifest for the same model, settings and
    node continues: a transaction left pending is looked up by its hash and recorded if it was
    mined, data contracts whose code is on chain are reused, a slot upload resumes at ``loaded()``.
    A complete RPC deployment's manifest is not overwritten without ``force``. ``show_progress``
    draws a bar over the transactions on a terminal.
    """
    if chain_info is None:
        chain_info = ChainInfo.of(session)
    elif not isinstance(chain_info, ChainInfo):
        chain_info = ChainInfo.from_json(chain_info)
    chain_json = chain_info.to_json()
    check_fork(session, t.fork)
    check_inference_fits(session, t.compiled)
    existing = _existing(manifest_path, force)
    if existing is not None and resume and not force:
        _refuse_other_unfinished(existing, t, chain_json)
    old = _resumable(existing, t, chain_json, session) if resume else None
    before = manifest_path.read_bytes() if manifest_path is not None and manifest_path.is_file() else None
    compiled = t.compiled
    manifest = old or Manifest(
        model_path=model_path_for(t.model_path, manifest_path) if t.model_path is not None else None,
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
        fork=t.fork.name,
    )

    manifest.model_sha256 = _model_sha256(t)
    bar = progress.bar(planned_transactions(compiled, session), "deploy", "tx", show_progress)
    bar.update(len(manifest.transactions))

    def save() -> None:
        if manifest_path is not None:
            manifest.save(manifest_path)

    def sent(label: str, tx_hash: str) -> None:  # before it goes out: a stop from here on finds it
        manifest.pending = {"label": label, "tx_hash": tx_hash}
        save()

    def record(label: str, tx: TxResult) -> None:
        if tx.reverted:
            label += " (reverted)"
        elif label.startswith("data["):  # data[i]: the i-th data contract, new or redeployed
            index = int(label[5:-1])
            if index < len(manifest.data_contracts):
                manifest.data_contracts[index] = str(tx.contract_address)
            else:
                manifest.data_contracts.append(str(tx.contract_address))
        elif label == "deploy":
            manifest.address = tx.contract_address
        manifest.transactions.append(TxRecord.of(label, tx))
        manifest.pending = None
        save()
        bar.update(1)
        if on_tx:
            on_tx(label, tx)

    with bar:
        if manifest.pending is not None:
            _settle_pending(session, manifest, record)
            save()
        try:
            contract, _ = deploy_and_upload(
                session, compiled, record, list(manifest.data_contracts), manifest.address, sent
            )
        except TransactionRefused:
            _forget_refused(manifest, manifest_path, old is None, before, save)
            raise
    if compiled.layout == "code":
        manifest.data_contracts = [str(a) for a in session.call(contract, "dataContracts")]
    manifest.complete = True
    save()
    return manifest, contract


def _forget_refused(
    manifest: Manifest, path: Path | None, started: bool, before: bytes | None, save: Callable[[], None]
) -> None:
    """After the node refused a transaction (it never accepted it): its ``pending`` hash is dropped.
    A manifest this run ``started`` that records nothing yet is taken back (the file removed, or the
    bytes that were there ``before`` restored): a refusal writes nothing."""
    manifest.pending = None
    if path is None:
        return
    if not started or manifest.transactions or manifest.address or manifest.data_contracts:
        save()
    elif before is None:
        path.unlink(missing_ok=True)
    else:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(before)
        os.replace(tmp, path)


def check_fork(session: ChainSession, fork: Fork) -> None:
    """Refuse (:class:`evmkit.chain.ForkMismatch`, one line) a chain that runs other rules than the
    contract was compiled and priced for."""
    if session.fork != fork:
        found = session.fork.name if session.fork is not None else ""
        if not found:
            raise ForkMismatch(
                f"{session.description} runs rules {session.fork_name}, not {fork.name.capitalize()}'s: "
                f"use a chain that runs {fork.name.capitalize()}"
            )
        raise ForkMismatch(
            f"{session.description} runs {found.capitalize()} rules, but the contract was compiled and its "
            f"gas planned for {fork.name.capitalize()}'s: translate with --fork {found} (fork={found!r}), or "
            f"use a chain that runs {fork.name.capitalize()}"
        )


def check_inference_fits(session: ChainSession, compiled: Compiled) -> None:
    """Refuse, before anything is sent, a contract whose one-row inference can never fit what one
    call may use on ``session``: deployed, it could only refuse every prediction."""
    shape = gasmodel.ModelShape(compiled.plan, compiled.blob, compiled.layout, compiled.fork)
    bound = gasmodel.inference_upper_bound(shape).total
    cap = session.gas_cap
    if bound <= cap:
        return
    others = []
    for layout in LAYOUTS:
        if layout != compiled.layout and not (layout == "inline" and len(compiled.blob.data) > MAX_CODE_SIZE):
            other = gasmodel.inference_upper_bound(replace(shape, layout=layout)).total
            if other <= cap:
                others.append(f"--layout {layout} ({other:,})")
    if session.tx_gas_cap is not None and cap == session.tx_gas_cap:  # no block size lifts EIP-7825's cap
        room = (
            f"a chain without a per-transaction cap whose block holds {bound:,} gas (embedded: --fork prague "
            f"--gas-limit {bound})"
            if session.rpc_url is None
            else f"a node without a per-transaction cap whose block holds {bound:,} gas"
        )
    else:
        room = "a bigger block (--gas-limit)" if session.rpc_url is None else "a node with a bigger block"
    helps = f"{', '.join(others)} would fit, or use {room}" if others else f"no other layout fits: use {room}"
    raise GasLimitExceeded(
        f"one row's inference on the {compiled.layout}-layout contract may cost up to {bound:,} gas (the "
        f"gas model's upper bound), over {session.gas_cap_description(cap)} of {session.description}: "
        f"every prediction would be refused, so nothing was sent; {helps}"
    )


def _refuse_other_unfinished(old: Manifest, t: Translation, chain_json: dict[str, Any]) -> None:
    """An unfinished deployment of another model, settings or chain is a record of money spent and
    contracts left on chain: refused, naming what it records, rather than silently replaced."""
    if old.complete:
        return
    differs = [
        what
        for what, same in (
            ("another model", old.model_hash == Web3.to_hex(t.compiled.commitment.model_hash)),
            ("another number format", old.number_format == t.settings.to_json()),
            ("another layout", old.layout == t.compiled.layout),
            ("another fork", old.fork == t.fork.name),
            ("another chain", old.chain == chain_json),
        )
        if not same
    ]
    if not differs:
        return
    where = f"contract {old.address}" if old.address else "no model contract yet"
    raise ManifestError(
        f"{old.location} records an unfinished deployment of {', '.join(differs)} ({old.contract_name}: "
        f"{where}, {len(old.transactions)} transactions, {sum(r.gas_used for r in old.transactions):,} "
        f"gas spent, {_where(old.chain)}); not overwriting it: pass --fresh (resume=False) to start anew "
        "over it, --force to overwrite it, or write the new manifest elsewhere (-o)"
    )


def _settle_pending(
    session: ChainSession, manifest: Manifest, record: Callable[[str, TxResult], None]
) -> None:
    """The transaction an interrupted deploy sent without seeing its receipt: recorded (gas, and the
    address it created) if the node mined it, forgotten if the node never had it."""
    pending = manifest.pending or {}
    receipt = session.receipt_of(pending["tx_hash"])
    if receipt is None:
        manifest.pending = None
    else:
        record(pending["label"], receipt)


def check_deployed(session: ChainSession, manifest: Manifest, abi: list[dict[str, Any]]) -> Contract:
    """The manifest's model contract on ``session``, checked before any call or transaction uses it:
    the node is the manifest's chain, the address holds code, and that code is the manifest's model
    (``modelHash()``) with its weights stored (``weightsHash()``). ``abi``: a fresh translation's,
    never the manifest's own (which is data). One line otherwise."""
    claimed, actual = manifest.chain.get("chain_id"), int(session.w3.eth.chain_id)
    if claimed is not None and int(claimed) != actual:
        raise ManifestError(
            f"the manifest's deployment is on chain {claimed}, but {session.description} is chain {actual}: "
            "pass the node that holds it (--rpc-url)"
        )
    if not manifest.address:
        raise ManifestError(
            "deployment incomplete: the manifest records no model contract yet (deploy again)"
        )
    contract = session.contract(manifest.address, abi)
    if not session.w3.eth.get_code(contract.address):
        raise ManifestError(
            f"no contract at {contract.address} on {session.description} (another node, or its chain "
            "was reset?)"
        )
    try:
        on_model = Web3.to_hex(bytes(session.call(contract, "modelHash")))
        on_weights = Web3.to_hex(bytes(session.call(contract, "weightsHash")))
    except ChainError:
        raise ManifestError(
            f"the contract at {contract.address} is not an ml2sc model: modelHash() or weightsHash() fails"
        ) from None
    if on_model != manifest.model_hash:
        raise ManifestError(
            f"the contract at {contract.address} holds another model: its modelHash() is {on_model}, the "
            f"manifest's {manifest.model_hash}"
        )
    if on_weights == Web3.to_hex(bytes(32)):
        raise ManifestError(
            f"deployment incomplete: the contract at {contract.address} has no weights yet (weightsHash() "
            "is 0): run the same deploy again to finish it"
        )
    return contract


@dataclass(frozen=True)
class Check:
    """One comparison `ml2sc verify` makes: what, the outcome (match / DIFFERS / not checked), detail."""

    what: str
    outcome: str
    detail: str = ""


@dataclass
class Verification:
    """What `verify` found: every check made, every difference named, and the steps an unfinished
    deployment still lacks (``incomplete``); ``ok`` when nothing differs and nothing is missing."""

    checks: list[Check] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # each named: "weights differ", ...
    model_hash: bytes = b""  # recomputed from the model file under the manifest's settings
    incomplete: list[str] = field(default_factory=list)  # missing steps: "finalize", ...

    chain_checked: bool = True  # False: the deployed contract could not be reached (embedded chain)

    @property
    def ok(self) -> bool:
        """True only for ``match``: nothing differs, nothing is missing, and the chain was checked."""
        return self.status == "match"

    @property
    def status(self) -> str:
        """``mismatch`` (something differs, whatever else), ``incomplete``, ``unchecked`` (the file and
        the manifest agree, but the contract was not checked on chain: never a pass) or ``match``."""
        if self.differences:
            return "mismatch"
        if self.incomplete:
            return "incomplete"
        return "match" if self.chain_checked else "unchecked"

    def missing(self, what: str, steps: list[str]) -> None:
        """Record steps that an unfinished deployment has not taken (not a difference)."""
        self.checks.append(Check(what, "INCOMPLETE", "; ".join(steps)))
        self.incomplete += [s for s in steps if s not in self.incomplete]

    def add(self, what: str, same: bool | None, detail: str = "", difference: str = "") -> None:
        """Record a check; None means it could not run here (never a match)."""
        outcome = "not checked" if same is None else ("match" if same else "DIFFERS")
        self.checks.append(Check(what, outcome, detail))
        if same is False:
            self.differences.append(difference or f"{what} differs")


def read_back_blob(
    session: ChainSession,
    address: str,
    layout: str,
    t: Translation,
    data_contracts: list[str],
    show_progress: bool = False,
) -> bytes | None:
    """The weights as stored on chain, for layouts that store them apart from the model's code
    (one request per slot or data contract: a bar on a terminal with ``show_progress``)."""
    blob = t.compiled.blob
    if layout == "code":
        with progress.bar(len(data_contracts), "reading data contracts", "contract", show_progress) as bar:
            parts = []
            for a in data_contracts:
                parts.append(bytes(session.w3.eth.get_code(Web3.to_checksum_address(a))))
                bar.update(1)
        return b"".join(p[1:] for p in parts)
    if layout in ("storage", "packed"):
        base = int.from_bytes(Web3.keccak(text="ml2sc.weights"), "big")
        width = slot_bytes(layout, blob)
        n_slots = -(-len(blob.data) // width)
        words = []
        with progress.bar(n_slots, "reading weight slots", "slot", show_progress) as bar:
            for k in range(n_slots):
                words.append(bytes(session.w3.eth.get_storage_at(address, base + k)))
                bar.update(1)
        return b"".join(w[32 - width :] for w in words)[: len(blob.data)]
    return None  # inline: the weights are the contract's own code


def missing_steps(manifest: Manifest, t: Translation) -> list[str]:
    """What an unfinished deployment's manifest has not recorded yet, step by step."""
    steps = []
    if manifest.pending:
        steps.append(
            f"transaction {manifest.pending['label']} ({manifest.pending['tx_hash']}) was in flight when "
            "deploy stopped: run the same deploy again to record it and finish"
        )
    if manifest.layout == "code":
        n = len(data_contract_code(t.compiled))
        if len(manifest.data_contracts) < n:
            steps.append(f"data contracts: {len(manifest.data_contracts)} of {n} deployed")
    if not manifest.address:
        steps.append("model contract not deployed")
    if manifest.layout in ("storage", "packed"):
        total = len(slot_values(manifest.layout, t.compiled.blob))
        ends = [
            int(r.label[7:].split(":")[1].rstrip("]"))
            for r in manifest.transactions
            if r.label.startswith("upload[") and r.label.endswith("]")
        ]
        loaded = max(ends, default=0)
        if loaded < total:
            steps.append(f"weight upload: {loaded:,} of {total:,} slots recorded")
        if not any(r.label == "finalize" for r in manifest.transactions):
            steps.append("finalize (seals the weights hash)")
    return steps or ["the manifest is not marked complete"]


def verify(
    session: ChainSession | None, manifest: Manifest, t: Translation, show_progress: bool = False
) -> Verification:
    """Recompute the model commitment from the model file (with the manifest's settings) and hold it
    against the manifest and, where the chain is reachable, against the contract: its modelHash()
    and weightsHash(), its runtime code against a fresh compile, the data contracts it names itself
    (dataContracts()) and the weight slots read back. Every difference is named; an unfinished
    deployment is reported as incomplete, with the steps it lacks, not as a difference."""
    c = t.compiled.commitment
    v = Verification(model_hash=c.model_hash)
    _check_model_file(manifest, t, v)
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
        v.missing("deployment finished (manifest)", missing_steps(manifest, t))
    if session is None:
        v.add(
            "the deployed contract", None, "not checked: the embedded chain is gone (deploy with --rpc-url)"
        )
        v.chain_checked = False
        return v
    claimed = manifest.chain.get("chain_id")
    actual = session.w3.eth.chain_id
    v.add(
        "chain id: node vs manifest",
        claimed is None or int(claimed) == actual,
        f"{session.description}, chain {actual}",
        f"chain differs (the manifest says chain {claimed}, the node is chain {actual})",
    )
    deployed_under = get_fork(manifest.fork)
    same_rules = session.fork == deployed_under
    try:  # a node upgraded since the deploy runs the contract all the same; an older one may not
        session.require_fork(deployed_under, newer_ok=True)
        older, why = False, ""
    except ForkMismatch as exc:
        older, why = True, str(exc)
    v.add(
        "chain rules: node vs the manifest's fork",
        True if same_rules else (False if older else None),
        f"{session.fork_name}"
        if same_rules
        else why
        if older
        else f"the node runs {session.fork_name}, the deployment was made under {manifest.fork}: the "
        "contract is checked all the same (an upgrade does not change deployed code)",
    )
    if manifest.address:
        _verify_chain(session, manifest, t, v, show_progress)
    return v


def _check_model_file(manifest: Manifest, t: Translation, v: Verification) -> None:
    """When the model file checked is the manifest's own, its SHA-256 against the one recorded at
    deploy time: the file changed under the manifest."""
    if t.model_path is None or manifest.model_path is None or not manifest.model_sha256:
        return
    if Path(t.model_path).resolve() != manifest.named_model_file().resolve():
        return  # another file: its commitment says whether it is the same model
    sha = file_sha256(t.model_path)
    v.add(
        "model file SHA-256 vs manifest",
        sha == manifest.model_sha256,
        sha,
        "model file changed since deploy",
    )


def _verify_chain(
    session: ChainSession, manifest: Manifest, t: Translation, v: Verification, show_progress: bool
) -> None:
    c = t.compiled.commitment
    address = Web3.to_checksum_address(manifest.address or "")
    code = bytes(session.w3.eth.get_code(address))
    if not code:
        v.add(
            "contract code",
            False,
            f"no contract at {address}",
            "no contract at the manifest's address (another node, or its chain was reset?)",
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
        steps = ["weights not finalized on chain (weightsHash() is 0)"]
        if manifest.layout in ("storage", "packed"):
            total = len(slot_values(manifest.layout, t.compiled.blob))
            steps.append(
                f"weight slots loaded on chain: {int(session.call(contract, 'loaded')):,} of {total:,}"
            )
        v.missing("contract weightsHash()", steps)
        return  # reading back or predicting on half the weights would only say so again
    v.add("contract weightsHash()", on_weights == c.weights_hash, Web3.to_hex(on_weights), "weights differ")
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
    stored = read_back_blob(session, address, manifest.layout, t, data, show_progress)
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
    """What the contract computes now, on one fixed row, against the emulator (not checked, with
    the estimate, when one row cannot fit a call here)."""
    try:
        check_row_fits(session, contract, t.plan)
    except ChainError as exc:
        v.add("predict on a test row vs the emulator", None, f"not checked: {exc}")
        return
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
