"""ml2sc's front door: a model in, a contract on a chain, predictions with their gas.

    import ml2sc
    translation = ml2sc.translate(model)              # an nn.Module, a sklearn MLP, or a file (str / Path)
    deployment = ml2sc.deploy(translation)            # a fresh embedded chain unless chain= is given
    result = deployment.predict(rows)                 # result.classes, result.outputs, result.gas_used
    report = ml2sc.estimate(translation, rows)        # the gas model's figures, before deploying

Every call runs under one fork's rules (``fork=``: "cancun", "prague" or "osaka", default Osaka,
mainnet's since December 2025): solc's evmVersion, the gas schedule and the per-transaction cap
(2**24 under Osaka) that uploads and batches are sized to. Given a chain session and no fork, the
session's rules are used; a fork other than the session's is refused (``evmkit.chain.ForkMismatch``).

The CLI runs the same functions; it only reads files and prints.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from web3.contract import Contract

from evmkit import chain as chains
from evmkit import progress
from evmkit.chain import ChainSession, ForkMismatch, TxResult
from evmkit.forks import Fork, get_fork
from evmkit.solc import Compiler, resolve_compiler

from . import emulator, gasmodel, rowpick, workflow
from .fixed import DEFAULT_FRAC_BITS, DEFAULT_WEIGHT_BITS, FixedFormat
from .inputs import InputError, read_rows
from .layers import FloatLayer
from .manifest import Manifest, ManifestError
from .onchain import block_budget, predict_batched, upload_chunk_slots
from .plan import MODES, Plan, PlanError, decode_outputs, encode_inputs
from .workflow import (
    Arch,
    FloatCheck,
    ModelSource,
    Settings,
    Translation,
    Verification,
)

Rows = np.ndarray | Sequence[Sequence[float]]


def _rows(rows: Rows | str | os.PathLike[str], what: str) -> np.ndarray:
    """Float rows as a 2-D array: an array, a list of rows (one row alone as a flat list), or a CSV /
    .npy file. No rows at all is an array of shape (0, 0); a clear error for anything else."""
    if isinstance(rows, (str, os.PathLike)):
        return read_rows(rows)
    shape = "a 2-D array, a list of lists, or a CSV / .npy file"
    if rows is None or isinstance(rows, (bytes, dict, set, numbers.Number)):
        raise TypeError(f"{what} must be rows of floats ({shape}), not {type(rows).__name__}")
    if isinstance(rows, np.ndarray) and np.iscomplexobj(rows):  # float64 would drop the imaginary part
        raise InputError(f"{what} must be rows of real numbers, not complex ones")
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        lengths = _lengths(rows)
        if len(lengths) > 1:
            raise InputError(f"{what}: rows have different lengths {lengths}") from None
        raise InputError(f"{what} must be rows of floats ({shape}): {exc}") from None
    if array.ndim == 0:
        raise TypeError(f"{what} must be rows of floats ({shape}), not a single number")
    if array.ndim == 1 and array.size == 0:  # []: no rows
        return array.reshape(0, 0)
    array = np.atleast_2d(array)
    if array.ndim != 2:
        raise InputError(f"{what} must be rows of floats ({shape}), got an array of shape {array.shape}")
    return array


def _lengths(rows: Any) -> list[int]:
    """The distinct lengths of ``rows``' rows, where it has them (to name ragged rows)."""
    try:
        return sorted({len(row) for row in rows})
    except TypeError:
        return []


def _count(value: Any, what: str) -> int:
    """An integer argument (a Python or NumPy integer, not a bool or a float), or a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an int, not {type(value).__name__} ({value!r})")
    return int(value)


def _session(chain: Any, what: str = "chain") -> ChainSession | None:
    """``chain`` if it is a session or None; a TypeError that says how to make one otherwise."""
    if chain is None or isinstance(chain, ChainSession):
        return chain
    raise TypeError(
        f"{what} must be a chain session, evmkit.chain.embedded() or evmkit.chain.rpc(url, key=...) "
        f"(or None), not {type(chain).__name__} ({chain!r:.60})"
    )


def _fork(fork: str | Fork | None) -> Fork:
    """The rules to run under: ``fork`` by name or record, None for Osaka (an unknown name is an
    :class:`evmkit.registry.UnknownName` listing the known ones)."""
    if fork is not None and not isinstance(fork, (str, Fork)):
        raise TypeError(
            f"fork must be a fork's name (str) or an evmkit.forks.Fork, not {type(fork).__name__}"
        )
    return get_fork(fork)


def _compiler(compiler: Compiler | str | os.PathLike[str] | None) -> Compiler:
    return compiler if isinstance(compiler, Compiler) else resolve_compiler(compiler)


def translate(
    model: ModelSource,
    *,
    format: str = "fixed",
    layout: str = "auto",
    frac_bits: int = DEFAULT_FRAC_BITS,
    weight_bits: int = DEFAULT_WEIGHT_BITS,
    calibrate: Rows | str | os.PathLike[str] | None = None,
    compiler: Compiler | str | os.PathLike[str] | None = None,
    name: str | None = None,
    arch: Arch = None,
    fork: str | Fork | None = None,
) -> Translation:
    """Capture ``model`` (a ``torch.nn.Module``, a fitted scikit-learn ``MLPClassifier`` /
    ``MLPRegressor``, or a file as a str or ``pathlib.Path``: ``torch.save(model)`` / ``torch.jit.save``,
    joblib or pickle of a sklearn MLP, ONNX, or a state_dict with ``arch``), plan its integer arithmetic,
    render and compile its contract.

    ``arch`` is the module a state_dict file loads into (strictly): ``"module:Class"`` (imported with
    the current directory importable, built with no arguments), the class, or a built ``nn.Module``.

    ``format``: ``"fixed"`` (signed fixed point with ``frac_bits`` fractional bits, weights within
    ``weight_bits``) or ``"int8"`` (scales calibrated on ``calibrate``: rows as an array or list, or a
    CSV / .npy file). ``layout``: ``"auto"`` (inline when the weights fit, else code), ``"storage"``,
    ``"packed"``, ``"code"`` or ``"inline"``. ``compiler``: a resolved ``evmkit.Compiler`` or a solc
    path (default: the CLI's order). ``name`` names the contract (default: the file's name, or the
    module's class name; characters outside printable ASCII become ``?`` in the source's comments).
    Calibration rows must be finite. ``fork`` (default ``"osaka"``): the rules to compile for (solc's
    evmVersion) and to price and plan its transactions under (:func:`deploy` refuses a chain that runs
    others). torch.save, joblib and pickle files are unpickled, which can run code: load only files you
    trust."""
    rules = _fork(fork)
    frac_bits, weight_bits = _count(frac_bits, "frac_bits"), _count(weight_bits, "weight_bits")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str (or None), not {type(name).__name__}")
    if format not in MODES:
        raise ValueError(f"format must be one of {', '.join(map(repr, MODES))}, not {format!r}")
    calibration = None
    if format != "int8" and calibrate is not None:
        raise PlanError("calibrate= applies to format='int8'; fixed point needs no calibration")
    if format == "int8":
        if calibrate is None:
            raise PlanError("int8 needs calibration rows: pass calibrate= (an array, or a CSV / .npy file)")
        calibration = _rows(calibrate, "calibrate")
    settings = Settings(
        format, FixedFormat(frac_bits, weight_bits), None if layout == "auto" else layout, None, calibration
    )
    return workflow.translate(model, settings, _compiler(compiler), name, arch, rules)


@dataclass(frozen=True)
class PredictResult:
    """On-chain predictions of float rows: ``classes`` (one per row), ``outputs`` (the contract's outputs
    decoded to floats), ``gas_used`` (the ``predictBatch`` receipts summed), per call gas and row counts,
    and whether each row's integer outputs equal the Python emulator's. ``regression``: the outputs are
    numbers and ``classes`` means nothing (the contract's 0 / 1 threshold at 0).

    ``gas_estimated``: read-only (no key), nothing was sent and each call's gas is the gas model's
    estimate, not a receipt's. ``cost_wei``: what the transactions' gas cost (gas times the effective
    gas price of each receipt); None when nothing was paid (no receipts: read-only, or no rows).
    ``float_check``: the answers held against the float model (class agreement, largest output
    difference and its share of the outputs' range, inputs clamped by int8 scales), None when no float
    model was at hand."""

    classes: list[int]
    outputs: list[list[float]]
    gas_per_call: list[int]
    rows_per_call: list[int]
    emulator_agrees: list[bool]
    regression: bool = False
    gas_estimated: bool = False
    cost_wei: int | None = None
    float_check: FloatCheck | None = None

    @property
    def gas_used(self) -> int:
        """Receipt gas of every inference transaction (intrinsic and calldata included); with
        ``gas_estimated``, the gas model's estimate of those transactions."""
        return sum(self.gas_per_call)

    @property
    def float_agreement(self) -> float | None:
        """The share of rows whose on-chain class is the float model's (None: no float model, or a
        regression)."""
        return None if self.float_check is None else self.float_check.share


@dataclass(frozen=True)
class Deployment:
    """A model contract on a chain, ready for predictions; ``manifest`` records what was deployed,
    where, and every transaction's gas (``translation``: the one deployed, or for :func:`attach` the
    fresh translation of the manifest's model)."""

    session: ChainSession
    contract: Contract
    plan: Plan
    manifest: Manifest
    translation: Translation | None = None
    regression: bool = False  # the outputs are numbers, with no class
    float_layers: tuple[FloatLayer, ...] | None = None  # the float model, for agreement checks

    @property
    def address(self) -> str:
        """The model contract's address."""
        return str(self.contract.address)

    @property
    def fork(self) -> Fork:
        """The rules the contract was compiled for and deployed under."""
        return get_fork(self.manifest.fork)

    @property
    def deploy_gas(self) -> int:
        """Receipt gas of the model contract's deployment."""
        return self.manifest.gas("deploy")

    @property
    def weights_gas(self) -> int:
        """Receipt gas of everything that stores the weights (uploads, finalize, data contracts)."""
        return self.manifest.upload_gas

    def predict(
        self, rows: Rows, rows_per_call: int | None = None, *, show_progress: bool = False
    ) -> PredictResult:
        """Predict every row on-chain through ``predictBatch``, in calls sized from the gas model's
        upper bound to fit 90% of what a transaction may use (at most 30M gas; under Osaka 90% of
        its 2**24 per-transaction cap), or ``rows_per_call``
        rows per call (refused before sending if it cannot fit). Each call is sent as a transaction
        for its gas; on a read-only session (no key) it is only called, and the gas figures are the
        gas model's estimates (``gas_estimated``). No rows (``[]``, an array of shape (0, n)) is an
        empty result: no transaction, gas_used 0. ``show_progress``: a bar over the rows on a
        terminal."""
        if rows_per_call is not None:
            rows_per_call = _count(rows_per_call, "rows_per_call")
        floats = _rows(rows, "rows")
        encoded = encode_inputs(self.plan, floats.tolist())
        read_only = self.session.read_only
        with progress.bar(len(encoded), "predict", "row", show_progress) as bar:
            batch = predict_batched(
                self.session,
                self.contract,
                self.plan,
                encoded,
                rows_per_call,
                transact=not read_only,
                on_rows=bar.update,
                estimate_gas=read_only,
            )
        classes = [p.predicted_class for p in batch.predictions]
        outputs = [decode_outputs(self.plan, p.outputs) for p in batch.predictions]
        check = None
        if self.float_layers is not None and len(encoded):
            check = workflow.float_check(self.float_layers, self.plan, floats, classes, outputs)
        return PredictResult(
            classes=classes,
            outputs=outputs,
            gas_per_call=batch.gas_per_call,
            rows_per_call=batch.rows_per_call,
            emulator_agrees=[
                p == emulator.predict(self.plan, row) for p, row in zip(batch.predictions, encoded)
            ],
            regression=self.regression,
            gas_estimated=batch.gas_estimated,
            cost_wei=batch.cost_wei if batch.gas_per_call and not batch.gas_estimated else None,
            float_check=check,
        )


def deploy(
    translation: Translation,
    chain: ChainSession | None = None,
    *,
    manifest: str | os.PathLike[str] | None = None,
    on_tx: Callable[[str, TxResult], None] | None = None,
    resume: bool = True,
    force: bool = False,
    show_progress: bool = False,
) -> Deployment:
    """Deploy ``translation`` and store its weights on ``chain`` (None: a fresh
    ``evmkit.chain.embedded()`` under the translation's fork; a chain that runs other rules is
    refused, :class:`evmkit.chain.ForkMismatch`: translate with its ``fork``). With ``manifest``, the
    manifest is saved there after every transaction (and the hash of each transaction before it goes
    out), and an unfinished one for the same model and node is resumed (``resume``). A manifest of a
    complete deployment on a node is not overwritten unless ``force``. ``on_tx(label, receipt)`` is
    called after each transaction; ``show_progress`` draws a bar on a terminal. Each transaction is
    priced first and refused, with its estimate, if it cannot fit the block gas limit or the
    per-transaction cap."""
    if not isinstance(translation, Translation):
        raise TypeError(f"deploy takes what ml2sc.translate returns, not {type(translation).__name__}")
    session = _session(chain) or chains.embedded(fork=translation.fork)
    path = Path(manifest) if manifest is not None else None
    record, contract = workflow.deploy(
        session, translation, path, None, on_tx, resume, force=force, show_progress=show_progress
    )
    return Deployment(
        session,
        contract,
        translation.plan,
        record,
        translation,
        translation.regression,
        translation.float_layers,
    )


def _manifest(manifest: Manifest | str | os.PathLike[str], what: str = "manifest") -> Manifest:
    if isinstance(manifest, Manifest):
        return manifest
    if not isinstance(manifest, (str, os.PathLike)):
        raise TypeError(
            f"{what} must be a Deployment, a Manifest or a manifest file (str or Path), "
            f"not {type(manifest).__name__}"
        )
    return Manifest.load(Path(manifest))


def attach(
    manifest: Manifest | str | os.PathLike[str],
    chain: ChainSession | None = None,
    *,
    model: ModelSource | None = None,
    arch: Arch = None,
    compiler: Compiler | str | os.PathLike[str] | None = None,
    fork: str | Fork | None = None,
) -> Deployment:
    """The deployment a manifest of an RPC deployment records, on ``chain`` (None: the manifest's node,
    signing with the key in ``$ETH_PRIVATE_KEY``, or read-only when that is unset: predictions are
    then eth_calls whose gas is the gas model's estimate). The contract comes from a fresh translation
    of ``model`` (default: the manifest's model file, which must lie in the manifest's folder and have
    the SHA-256 recorded at deploy; required for a deployment of an in-memory module; a state_dict
    file needs ``arch``) under the manifest's settings: its ABI is the one used, never the manifest's.
    Refused in one line before any call or transaction: a model whose model hash is not the
    manifest's, a node of another chain id, an address without code, a contract whose
    ``modelHash()`` is not the manifest's or whose weights are not stored yet; a ``fork`` other than
    the manifest's (a manifest before version 5: Prague), or a node that runs older rules than it
    (:class:`evmkit.chain.ForkMismatch`; a node upgraded since, to a later fork, is used under its own
    rules: its transaction cap sizes the calls)."""
    record = _manifest(manifest)
    chain = _session(chain)
    rules = manifest_fork(record, fork)
    if chain is not None:  # a node upgraded since the deploy runs the contract all the same
        chain.require_fork(rules, newer_ok=True)
    if record.chain.get("kind") != "rpc":
        raise ManifestError(
            "the manifest records an embedded-chain deployment, gone with its process: deploy again"
        )
    source = model if model is not None else record.checked_model_file()
    named = "model=" if model is not None else f"the model file {record.model_path}"
    t = workflow.translate_recorded(record, source, _compiler(compiler), arch, named)
    session = chain if chain is not None else _node(record.chain["rpc_url"], rules)
    contract = workflow.check_deployed(session, record, t.compiled.artifact.abi)
    return Deployment(session, contract, t.plan, record, t, t.regression, t.float_layers)


def manifest_fork(record: Manifest, fork: str | Fork | None = None) -> Fork:
    """The manifest's fork (a manifest before version 5: Prague); a ``fork`` given that contradicts it
    is refused in one line (:class:`evmkit.chain.ForkMismatch`)."""
    rules = get_fork(record.fork)
    if fork is not None and get_fork(fork) != rules:
        raise ForkMismatch(
            f"the manifest records a deployment under {rules.name.capitalize()} rules, not "
            f"{get_fork(fork).name.capitalize()}'s: the contract was compiled and its gas planned for "
            f"{rules.name} (pass --fork {rules.name}, or no --fork)"
        )
    return rules


def _node(url: str, fork: Fork | None = None) -> ChainSession:
    """The node, signing with ``$ETH_PRIVATE_KEY`` when it is set, else read-only; with ``fork``, a
    node that runs older rules is refused (later ones pass: an upgrade keeps deployed code running)."""
    if os.environ.get(chains.PRIVATE_KEY_ENV):
        return chains.rpc(url, fork=fork, newer_ok=True)
    return chains.rpc_reader(url, fork=fork, newer_ok=True)


def estimate(
    translation_or_model: Translation | ModelSource,
    rows: Rows | None = None,
    *,
    row: int | None = None,
    **options: Any,
) -> gasmodel.GasReport:
    """The gas model's prediction, term by term, of deploying, storing the weights (chunks sized for a
    30M-gas block under the translation's fork: under Osaka, to its 2**24 per-transaction cap), one
    ``predict(row)`` call (``inference``), the ``predictBatch`` bound, and
    ``batch_inference``: one ``predictBatch`` call over all of ``rows``, the figure
    :meth:`Deployment.predict` measures as ``gas_used`` when the rows fit one call. Nothing is deployed.

    The inference row is ``rows[row]``; by default the median row of ``rows`` (see
    :func:`ml2sc.rowpick.median_row`), else of the int8 calibration rows, else an all-zero row.
    ``report.inference_row`` says which. A model is translated first with ``options``
    (:func:`translate`'s keywords, ``fork=`` among them); a translation is priced under its own fork."""
    if isinstance(translation_or_model, Translation):
        if options:
            raise TypeError(f"options {sorted(options)} apply to a model, not to a translation")
        t = translation_or_model
    else:
        t = translate(translation_or_model, **options)
    given = _rows(rows, "rows") if rows is not None else None
    if given is not None and not len(given):
        raise InputError("rows holds no rows: pass at least one, or none at all (rows=None)")
    chosen, source = _inference_row(t, given, row)
    encoded_row = encode_inputs(t.plan, [chosen])[0]
    batch = encode_inputs(t.plan, given.tolist()) if given is not None else None
    fork = t.fork
    report = gasmodel.estimate(
        t.compiled, encoded_row, upload_chunk_slots(None, fork), block_budget(None, fork), batch
    )
    return replace(report, inference_row=source)


def _inference_row(t: Translation, given: np.ndarray | None, row: int | None) -> tuple[list[float], str]:
    """The row ``estimate`` prices one inference of, and a phrase saying where it comes from."""
    if row is not None:
        if given is None:
            raise TypeError("row= picks one of rows=; pass rows too")
        if isinstance(row, bool) or not isinstance(row, numbers.Integral):
            raise TypeError(f"row must be an int (an index into rows), not {type(row).__name__}")
        if not 0 <= row < len(given):
            raise InputError(f"row {row} is not one of the {len(given)} rows given (0 to {len(given) - 1})")
        return given[row].tolist(), f"row {row} of {len(given)} given"
    if given is not None:
        index = rowpick.median_row(given)
        return given[index].tolist(), f"row {index} of {len(given)} given (their median row)"
    calibration = t.settings.calibration
    if calibration is not None and len(calibration):
        rows = np.asarray(calibration, dtype=np.float64)
        index = rowpick.median_row(rows)
        return rows[index].tolist(), f"calibration row {index} of {len(rows)} (their median row)"
    return [0.0] * t.plan.n_inputs, "all zeros (no rows given: pass rows for a typical one)"


def inference_range(translation: Translation, rows: Rows, *, progress=None) -> rowpick.CostRange:
    """The cheapest and the dearest ``predict(row)`` of ``rows`` under the gas model (receipt gas,
    by row index); ``progress(n)`` is called once per row."""
    if not isinstance(translation, Translation):
        raise TypeError(
            f"inference_range takes what ml2sc.translate returns, not {type(translation).__name__}"
        )
    encoded = encode_inputs(translation.plan, _rows(rows, "rows").tolist())
    if not encoded:
        raise InputError("rows holds no rows: a gas range needs at least one")
    return rowpick.cost_range(
        encoded, lambda i: gasmodel.inference(translation.compiled, encoded[i]).total, progress=progress
    )


def verify(
    deployment_or_manifest: Deployment | Manifest | str | os.PathLike[str],
    model: ModelSource | None = None,
    *,
    chain: ChainSession | None = None,
    compiler: Compiler | str | os.PathLike[str] | None = None,
    arch: Arch = None,
    show_progress: bool = False,
    fork: str | Fork | None = None,
) -> Verification:
    """Hold a deployment against a model: the model commitment recomputed from ``model`` with the
    manifest's settings, against the manifest and, where the chain is reachable, the contract (its
    hashes, its bytecode, the weights read back, a prediction). ``model`` defaults to the deployment's
    own translation, or to the manifest's model file (a manifest of an in-memory module's deployment
    needs ``model``); ``chain`` to the deployment's session, or for an RPC manifest a read-only
    session on its node. ``arch``: the module a state_dict model file loads into. Every difference is
    named in the result; an unfinished deployment is ``incomplete`` (``result.status``), with the
    steps it lacks. ``show_progress``: a bar over the weights read back, on a terminal. The contract is
    recompiled for the manifest's fork (before version 5: Prague); a ``fork`` that contradicts it is
    refused; a node that runs other rules now is named in the result, and checked all the same."""
    chain = _session(chain)
    if isinstance(deployment_or_manifest, Deployment):
        record = deployment_or_manifest.manifest
        manifest_fork(record, fork)
        session: ChainSession | None = chain or deployment_or_manifest.session
        if model is None and deployment_or_manifest.translation is not None:
            return workflow.verify(session, record, deployment_or_manifest.translation, show_progress)
    else:
        record = _manifest(deployment_or_manifest, "deployment_or_manifest")
        manifest_fork(record, fork)
        session = chain
        if model is None:
            record.model_file()  # an in-memory module's manifest: say so before reaching any node
        if session is None and record.chain.get("kind") == "rpc":
            session = chains.rpc_reader(record.chain["rpc_url"])
    settings = Settings.from_json(record.number_format, record.layout)
    source = model if model is not None else record.model_file()
    t = workflow.translate(source, settings, _compiler(compiler), record.translated_name, arch, record.fork)
    return workflow.verify(session, record, t, show_progress)
