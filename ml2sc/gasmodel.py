"""Analytic gas of ml2sc transactions: deploy, each weight upload, one inference, a batch. Pure.

Every prediction is receipt gas, summed from named terms:

- schedule terms computed exactly from the schedule of the target's fork (``evmkit.gas``,
  ``evmkit.forks``): the transaction base, calldata with the EIP-7623 floor where the fork has it
  (Prague, Osaka; not Cancun), contract creation and EIP-3860 initcode words, code
  deposit, SSTORE by the slot's old and new value, cold SLOADs and account accesses, copies,
  keccak, logs, and memory expansion (its quadratic part from the words the call touches);
- loop terms: how often each part of the generated code runs (multiply-accumulates, neurons,
  layers, activation branches taken, slots, words) times that part's cost. The counts come
  from the plan and, for data-dependent branches (a negative ReLU input, a sigmoid's sign and
  cut-off, an int8 clamp, a new running maximum), from the emulator's trace of the row. The
  per-part costs are the opcode gas of the code that solc 0.8.37 generates from these
  templates (the same code for every fork: nothing in them is priced per fork);
  ``python -m ml2sc.calibrate`` derives them from receipts (least squares over a grid of models
  and rows, saturated ones included) and they are stored in ``gas_costs.json``.
  A template change means running it again; the tests hold the model within 1% of receipts.

Upper bounds: every data-dependent branch has a short list of paths one value can take
(``_paths``); the bound takes, for every value, its costliest path under the fitted costs,
the largest calldata a row can have, and a safety margin. No row costs more
(``inference_upper_bound``, ``batch_upper_bound``); batches are sized with it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from evmkit import gas as G
from evmkit.forks import Fork, get_fork
from evmkit.gas import Estimate, estimate_transaction

from . import activations, convplan, emulator, gasconv
from .blob import Blob, encode_blob
from .layers import INT8_MAX, Layer, Plan
from .layouts import code_chunks, data_contract_initcode, memory_alloc, slot_bytes, slot_values

# The data contract's 12-byte creation code: PUSH2, DUP1, PUSH1, PUSH1 (3 gas each),
# CODECOPY (3 + copy + memory), PUSH1 (3), RETURN (0).
DATA_INITCODE_STATIC = 6 * G.GAS_VERY_LOW
# Yellow paper, appendix G: LOG0 + one topic + 8 gas per data byte (not in evmkit.gas).
GAS_LOG = 375
GAS_LOG_TOPIC = 375
GAS_LOG_DATA = 8
# The upper bound is the model's costliest path plus this share: the fitted costs of single
# branches carry the model's error (within 1% over whole calls), twice over.
BOUND_MARGIN = 0.02
# The default batch budget: 90% of what one transaction may use in a 30M-gas block under the
# fork's rules (Osaka: its 2**24 cap); ml2sc.onchain sizes uploads the same way.
MAINNET_BLOCK_GAS = 30_000_000
BLOCK_SHARE = 0.9


def default_budget(fork: str | Fork | None = None) -> int:
    """90% of what one transaction may use in a 30M-gas block under ``fork`` (default Osaka: 90% of
    its 2**24 per-transaction cap; Prague and Cancun: 90% of the block)."""
    return int(get_fork(fork).gas_cap(MAINNET_BLOCK_GAS) * BLOCK_SHARE)


DEFAULT_BUDGET = default_budget()


class Target(Protocol):
    """What the model needs of a contract: its plan, weight blob, layout and the fork whose schedule
    prices its transactions (``Compiled`` has them)."""

    plan: Plan
    blob: Blob
    layout: str
    fork: Fork


@dataclass(frozen=True)
class ModelShape:
    """A ``Target`` without the compiled artifact: enough for inference gas and its bounds."""

    plan: Plan
    blob: Blob
    layout: str
    fork: Fork = field(default_factory=get_fork)

    @classmethod
    def of(cls, plan: Plan, layout: str, fork: str | Fork | None = None) -> ModelShape:
        return cls(plan, encode_blob(plan), layout, get_fork(fork))


def _floor(target: object) -> bool:
    """Whether the target's fork has EIP-7623's calldata floor (a target without a fork: the default's)."""
    return get_fork(getattr(target, "fork", None)).calldata_floor


def _calldata(signature: str, types: list[str], args: list[object]) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, args)


def log_cost(topics: int, data_bytes: int) -> int:
    """LOG with ``topics`` topics and ``data_bytes`` bytes of data."""
    return GAS_LOG + GAS_LOG_TOPIC * topics + GAS_LOG_DATA * data_bytes


# -- data contracts (exact) ---------------------------------------------------------------


def data_contract_creation(chunk: bytes, fork: str | Fork | None = None) -> Estimate:
    """Receipt gas of deploying ``0x00 || chunk`` as a data contract under ``fork``: exact."""
    initcode = data_contract_initcode(chunk)
    runtime_bytes = len(chunk) + 1
    return estimate_transaction(
        initcode,
        [
            (
                "creation code",
                DATA_INITCODE_STATIC + G.copy_cost(runtime_bytes) + G.memory_cost(G.words(runtime_bytes)),
            ),
            ("code deposit", G.code_deposit(runtime_bytes)),
        ],
        create=True,
        calldata_floor=get_fork(fork).calldata_floor,
    )


# -- fitted loop costs (ml2sc.calibrate writes gas_costs.json) ---------------------
# Gas of each counted part of the generated code, per mode; keys are the feature names below.
COSTS_FILE = Path(__file__).with_name("gas_costs.json")


class MissingCost(G.CostsFileError):
    """A counted feature has no fitted cost: the costs file predates it (fit it again)."""


class _Strict(Mapping[str, float]):
    """Fitted costs of one group; a feature without a cost is a :class:`MissingCost`, never 0."""

    def __init__(self, what: str, costs: Mapping[str, float]) -> None:
        self._what, self._costs = what, costs

    def __getitem__(self, feature: str) -> float:
        try:
            return self._costs[feature]
        except KeyError:
            raise MissingCost(
                f"{COSTS_FILE.name} has no {self._what} cost for {feature!r}: run "
                "python -m ml2sc.calibrate (or --only for new activations)"
            ) from None

    def __iter__(self):
        return iter(self._costs)

    def __len__(self) -> int:
        return len(self._costs)


@dataclass(frozen=True)
class Costs:
    """The fitted costs: ``loop[mode][feature]`` for inference, ``deploy`` and ``upload``."""

    loop: Mapping[str, Mapping[str, float]]
    deploy: Mapping[str, float]
    upload: Mapping[str, float]

    @classmethod
    def of(cls, data: Mapping[str, object]) -> Costs:
        loop: Mapping[str, Mapping[str, float]] = data["loop"]  # type: ignore[assignment]
        deploy: Mapping[str, float] = data["deploy"]  # type: ignore[assignment]
        upload: Mapping[str, float] = data["upload"]  # type: ignore[assignment]
        return cls(
            {mode: _Strict(f"{mode} loop", c) for mode, c in loop.items()},
            _Strict("deploy", deploy),
            _Strict("upload", upload),
        )

    @classmethod
    def unfitted(cls) -> Costs:
        """Every fitted cost 0: estimates of the schedule terms alone (what ml2sc.calibrate fits against)."""
        zero: Mapping[str, float] = _Zero()
        return cls({"fixed": zero, "int8": zero}, zero, zero)

    def mode(self, mode: str) -> Mapping[str, float]:
        try:
            return self.loop[mode]
        except KeyError:
            raise MissingCost(f"{COSTS_FILE.name} has no loop costs for mode {mode!r}") from None


class _Zero(dict):
    def __missing__(self, key: str) -> float:
        return 0.0


def fitted_costs() -> Costs:
    """The fitted costs in ``gas_costs.json``, read once (a missing or invalid file is a CostsFileError)."""
    return Costs.of(G.load_costs(COSTS_FILE, required=("loop", "deploy", "upload")))


# -- inference: what one value of an activation makes the code do ------------------------
# A "path" is the Counter of features one value adds: the branch it takes (a sign, an exp
# cut-off, an int8 clamp) and the Horner steps of exp(-a) when it runs the polynomial. Each
# activation's feature stem and cut-off test come from its record in ml2sc.activations.


def _exp_steps(plan: Plan) -> int:
    """Horner steps of exp(-a)'s polynomial, counted in fixed mode, whose ``--frac-bits`` set the
    polynomial's degree (int8 mode's Q.16 has one degree: its steps are part of each function's cost)."""
    return len(plan.fmt.exp2_coefficients) - 1 if plan.mode == "fixed" else 0


# _activate's `else if` order: element-wise kinds by id (softmax returns before the loop)
_CHAIN = tuple(
    r.name
    for r in sorted(activations.REGISTRY.values(), key=lambda r: r.kind_id)
    if r.gas_stem and not r.last_only
)
_OWN_DISPATCH = ("squash_", "rescale_")  # int8 hidden layers call the function directly


def _chain_checks(plan: Plan, kind: str) -> int:
    """`kind == k` tests ``_activate`` evaluates per value before reaching ``kind``'s branch: the
    relu test is always there, each other only if some layer of the model uses that function."""
    present = {"relu", *plan.activations}
    return sum(k in present for k in _CHAIN[: _CHAIN.index(kind) + 1])


def _exp_path(plan: Plan, feature: str, cut: bool) -> dict[str, int]:
    """The features of one value of a function with an exp cut-off. fixed counts every value in
    ``feature`` and the cut ones again in ``feature_cut`` (a negative cost: what the cut saves; its
    fitted costs are kept as they are). int8 counts each value once, in ``feature`` when it runs
    exp and in ``feature_cut`` when it is cut off, so both costs are whole paths, fitted >= 0."""
    if plan.mode == "int8":
        return {feature: int(not cut), f"{feature}_cut": int(cut)}
    return {feature: 1, f"{feature}_cut": int(cut)}


def _path(kind: str, v: int, plan: Plan, prefix: str) -> Counter:
    """The features one value ``v`` adds when ``kind`` is applied to it (softmax: see _softmax)."""
    record = activations.get(kind)
    stem = record.gas_stem
    if record.gas_cut is None:  # a sign branch only (relu, leaky_relu)
        f = Counter({f"{prefix}{stem}": 1, f"{prefix}{stem}_neg": int(v < 0)})
    else:
        cut = record.gas_cut(plan.fmt, v)
        f = Counter(
            {
                **_exp_path(plan, f"{prefix}{stem}", cut),
                f"{prefix}{stem}_neg": int(v < 0),
                "exp_steps": 0 if cut else _exp_steps(plan),
            }
        )
    if prefix not in _OWN_DISPATCH:  # fixed layers and int8's last layer go through _activate
        f["act_checks"] = _chain_checks(plan, kind)
    return f


def _paths(kind: str, plan: Plan, prefix: str) -> list[Counter]:
    """Every path ``_path`` can return for ``kind``: the bound's candidates for one value."""
    big = plan.fmt.exp_cutoff  # at or past the cut-off of every function: the cut paths
    values = (0, -1) if activations.get(kind).gas_cut is None else (0, -1, big, -big)
    return [_path(kind, v, plan, prefix) for v in values]


def _softmax(values: Sequence[int], plan: Plan, prefix: str) -> Counter:
    """softmax over a layer: exp(top - v) per value (cut off far below the top), and the running
    maximum's updates while the top is found."""
    f: Counter = Counter()
    top = values[0]
    for v in values[1:]:
        if v > top:
            top = v
            f[f"{prefix}softmax_top"] += 1
    for v in values:
        cut = top - v >= plan.fmt.exp_cutoff
        f.update({**_exp_path(plan, f"{prefix}softmax", cut), "exp_steps": 0 if cut else _exp_steps(plan)})
    return f


def _softmax_paths(plan: Plan, prefix: str, first: bool) -> list[Counter]:
    cuts = [
        Counter({**_exp_path(plan, f"{prefix}softmax", False), "exp_steps": _exp_steps(plan)}),
        Counter(_exp_path(plan, f"{prefix}softmax", True)),
    ]
    return cuts if first else cuts + [c + Counter({f"{prefix}softmax_top": 1}) for c in cuts]


def _activation(kind: str, values: Sequence[int], plan: Plan, prefix: str) -> Counter:
    f: Counter = Counter()
    if kind == "softmax":
        return _softmax(values, plan, prefix)
    if kind != "none":
        for v in values:
            f.update(_path(kind, v, plan, prefix))
    return f


def _rescale_path(layer: Layer, v: int, plan: Plan) -> Counter:
    """int8 hidden layers with gelu / silu: the function in Q.16, then the second multiplier and a
    branchless clamp (the same gas for every value: part of the function's cost)."""
    return _path(layer.activation, v, plan, "rescale_")


def _rescale_paths(layer: Layer, plan: Plan) -> list[Counter]:
    return _paths(layer.activation, plan, "rescale_")


def _clamp_path(kind: str, v: int) -> Counter:
    """int8 hidden layers with relu / leaky_relu / none: clamp to int8, then the activation
    (relu is branchless after the upper clamp)."""
    return gasconv.clamp_path(kind, v, f"hidden_{kind}")


def _clamp_paths(kind: str) -> list[Counter]:
    return [_clamp_path(kind, v) for v in (0, INT8_MAX + 1, -1, -129)]


def _head(plan: Plan, outputs: Sequence[int]) -> Counter:
    """``_classify``: argmax counts the running maximum's updates."""
    f = Counter({f"head_{plan.head}": 1})
    if plan.head == "argmax":
        top = outputs[0]
        for v in outputs[1:]:
            if v > top:
                top = v
                f["argmax_top"] += 1
    return f


# -- inference features: per call, per row, per batch -------------------------------------


def call_features(target: Target) -> Counter:
    """What ``predict`` and ``predictBatch`` run once per call: dispatch, loading the weights."""
    blob, layout = target.blob, target.layout
    f: Counter = Counter(const=1)
    f.update(gasconv.call_features(target.plan, blob))
    f[f"load_{layout}"] = 1
    f[f"blob_words_{layout}"] = G.words(len(blob.data))
    if layout in ("storage", "packed"):
        f["slots"] = len(slot_values(layout, blob))
    elif layout == "code":
        f["data_contracts"] = len(code_chunks(blob))
    return f


def _row_shape(target: Target) -> Counter:
    """The per-row counts that do not depend on the row's values."""
    plan = target.plan
    if plan.mode == "int8":
        return _int8_row_shape(target) + gasconv.row_features(plan)
    f: Counter = Counter(inputs=plan.n_inputs, outputs=plan.n_outputs) + gasconv.row_features(plan)
    for layer in plan.layers:
        f["act_layers"] += layer.activation != "none"
        if layer.kind != "dense":  # conv and pool loops: ml2sc.gasconv
            f.update(gasconv.fixed_shape(layer))
            continue
        f["layers"] += 1  # _dense and _activate per layer
        f["neurons"] += layer.n_out
        f["macs"] += layer.n_in * layer.n_out
    return f


def _int8_row_shape(target: Target) -> Counter:
    """int8's per-row counts, one feature per part of the kernel (none a sum of others, so the
    non-negative fit of ml2sc.calibrate gives each part its own cost): the input words, each
    layer's activation-lane sum, every weight word, each neuron by what it writes (a clamp layer's
    by its activation, see _clamp_path; the others an int256 array entry), the outputs (ABI and
    _classify), each hidden layer's calls by class, and the next layer's activation words."""
    plan, blob = target.plan, target.blob
    f: Counter = Counter(outputs=plan.n_outputs, input_words=blob.layers[0].words_per_neuron)
    if plan.convolutional:
        return f + _int8_conv_row_shape(target)
    for index in range(len(plan.layers)):
        _int8_dense_counts(f, target, index)
        if index < len(plan.layers) - 1:  # then _words() for the next layer
            f["next_words"] += blob.layers[index + 1].words_per_neuron
    return f


def _int8_dense_counts(f: Counter, target: Target, index: int) -> None:
    """One int8 Linear layer's counts: its weight words and activation lanes, the neurons that write an
    int256 array entry, and its calls (_layer(), then _squash() / _rescale*() for those classes)."""
    plan, blob = target.plan, target.blob
    layer, last = plan.layers[index], len(plan.layers) - 1
    words = blob.layers[index].words_per_neuron
    f["words"] += words * layer.n_out
    f["lane_words"] += 4 * words
    int8_class = "last" if index == last else activations.get(layer.activation).int8_class
    if int8_class != "clamp":
        f["array_neurons"] += layer.n_out
    if index == last:
        f["out_act_call"] += layer.activation != "none"
    else:
        f[_LAYER_FEATURE[int8_class]] += 1


def _int8_conv_row_shape(target: Target) -> Counter:
    """:func:`_int8_row_shape` of a model with conv or pool layers: its Linear layers' counts as there,
    each hand-over into a Linear layer (``_words``) and the conv part (``ml2sc.gasconv``)."""
    plan, blob = target.plan, target.blob
    fused = convplan.memory_map(plan, blob).fused
    f = gasconv.int8_shape(plan, blob)
    last = len(plan.layers) - 1
    for index, layer in enumerate(plan.layers):
        consumer = index + 2 if index + 1 in fused else index + 1
        into_dense = index not in fused and consumer <= last and plan.layers[consumer].kind == "dense"
        if into_dense:
            f["next_words"] += blob.layers[consumer].words_per_neuron
        if layer.kind != "dense":
            f["conv8_to_dense"] += into_dense
        else:
            _int8_dense_counts(f, target, index)
    return f


_LAYER_FEATURE = {"clamp": "simple_layers", "squash": "squash_layers", "rescale": "rescale_layers"}
_PREFIX = {"clamp": "clamp", "squash": "squash_", "rescale": "rescale_"}


def _layer_prefix(plan: Plan, index: int) -> str:
    """Which code applies layer ``index``'s activation: fixed ``_activate`` (""), int8's last
    layer ``_activate`` ("out_"), int8 ``_squash`` ("squash_"), ``_rescale*`` ("rescale_") or
    int8 clamps ("clamp")."""
    layer = plan.layers[index]
    if plan.mode == "fixed":
        return ""
    if index == len(plan.layers) - 1:
        return "out_"
    return _PREFIX[activations.get(layer.activation).int8_class]


def row_features(target: Target, row: Sequence[int]) -> Counter:
    """Counts of every part of one row's ``_run`` and ``_classify`` that costs gas."""
    plan = target.plan
    f = _row_shape(target)
    steps = emulator.trace(plan, row)
    if plan.mode == "int8" and plan.convolutional:
        f.update(gasconv.int8_values(plan, target.blob, steps))
    for index, (layer, step) in enumerate(zip(plan.layers, steps)):
        if layer.kind != "dense" and (plan.mode == "int8" or layer.kind != "conv"):
            if plan.mode == "fixed":  # a pool: its running maximum's updates
                f.update(gasconv.fixed_values(layer, steps[index - 1].post if index else row))
            continue
        prefix = _layer_prefix(plan, index)
        if prefix == "clamp":
            for v in step.pre:
                f.update(_clamp_path(layer.activation, v))
        elif prefix == "rescale_":
            for v in step.pre:
                f.update(_rescale_path(layer, v, plan))
        else:
            f.update(_activation(layer.activation, step.pre, plan, prefix))
    return f + _head(plan, steps[-1].post)


def row_features_bound(target: Target, costs: Mapping[str, float] | None = None) -> Counter:
    """A row's counts with every value on its costliest path (under ``costs``): no row's
    ``row_features`` cost more."""
    plan = target.plan
    costs = fitted_costs().mode(plan.mode) if costs is None else costs

    def worst(paths: Iterable[Counter]) -> Counter:
        return max(paths, key=lambda p: _cost(p, costs))

    def add(path: Counter, times: int) -> None:
        f.update({k: v * times for k, v in path.items()})

    f = _row_shape(target)
    if plan.mode == "int8" and plan.convolutional:
        f.update(gasconv.int8_bound(plan, target.blob, gasconv.cost_of(costs)))
    for index, layer in enumerate(plan.layers):
        if layer.kind != "dense" and (plan.mode == "int8" or layer.kind != "conv"):
            if plan.mode == "fixed":
                f.update(gasconv.fixed_bound(layer))
            continue
        prefix, n = _layer_prefix(plan, index), layer.n_out
        if prefix == "clamp":
            add(worst(_clamp_paths(layer.activation)), n)
        elif prefix == "rescale_":
            add(worst(_rescale_paths(layer, plan)), n)
        elif activations.get(layer.activation).last_only:  # the first value cannot be a new maximum
            add(worst(_softmax_paths(plan, prefix, True)), 1)
            add(worst(_softmax_paths(plan, prefix, False)), n - 1)
        elif layer.activation != "none":
            add(worst(_paths(layer.activation, plan, prefix)), n)
    f[f"head_{plan.head}"] = 1
    if plan.head == "argmax" and costs["argmax_top"] > 0:
        f["argmax_top"] = plan.n_outputs - 1
    return f


def inference_features(target: Target, row: Sequence[int]) -> Counter:
    """Counts of every part of ``predict(row)``'s execution that costs gas."""
    return call_features(target) + row_features(target, row)


def _batch_terms(target: Target, n_rows: int) -> Counter:
    """What ``predictBatch`` adds to ``predict``: its own dispatch and per-row bookkeeping."""
    return Counter(batch=1, batch_rows=n_rows, batch_outputs=n_rows * target.plan.n_outputs)


def batch_features(target: Target, rows: Sequence[Sequence[int]]) -> Counter:
    """Counts of every part of ``predictBatch(rows)``'s execution that costs gas."""
    f = call_features(target) + _batch_terms(target, len(rows))
    for row in rows:
        f.update(row_features(target, row))
    return f


def _cost(features: Mapping[str, int], costs: Mapping[str, float]) -> float:
    return sum(costs[k] * v for k, v in features.items() if v)  # a feature not counted needs no cost


# -- inference: exact terms --------------------------------------------------------------


def _blob_memory_words(target: Target) -> int:
    blob, layout = target.blob, target.layout
    if layout == "inline":  # `bytes memory blob = BLOB`: a length word, then the bytes
        return 1 + G.words(len(blob.data))
    return G.words(memory_alloc(blob, slot_bytes(layout, blob)))


def _row_memory_words(plan: Plan) -> int:
    """Memory one row's ``_run`` allocates: fixed, the input copy and each layer's outputs;
    int8, the outputs of the last layer and of sigmoid / tanh layers (the rest is scratch)."""
    if plan.mode == "fixed":
        return 1 + plan.n_inputs + sum(1 + layer.n_out for layer in plan.layers)
    last = len(plan.layers) - 1
    return sum(
        1 + layer.n_out
        for i, layer in enumerate(plan.layers)
        if i == last or activations.get(layer.activation).int8_class in ("squash", "rescale")
    )


def memory_words(target: Target, n_rows: int | None = None) -> int:
    """Words of memory ``predict`` (``n_rows`` None) or ``predictBatch`` of ``n_rows`` touches:
    the reserved 0x80 bytes (int8: and the scratch region), the blob, each row's arrays, the
    batch's outputs and classes, and the ABI-encoded return data."""
    plan, blob = target.plan, target.blob
    words = 4 + _blob_memory_words(target)
    if plan.mode == "int8" and plan.convolutional:
        words += gasconv.scratch_words(plan, blob)
    elif plan.mode == "int8":
        words += 5 * max(b.words_per_neuron for b in blob.layers)
    n_out = plan.n_outputs
    if n_rows is None:
        return words + _row_memory_words(plan) + 3 + n_out  # returns (int256[], uint256)
    arrays = 2 + n_rows * (n_out + 1)  # outputs and classes
    return words + arrays + n_rows * _row_memory_words(plan) + 2 + arrays  # returns both arrays


def inference_exact_terms(target: Target, n_rows: int | None = None) -> list[tuple[str, int]]:
    """Schedule terms of reading the weights and of the call's memory."""
    blob, layout = target.blob, target.layout
    terms = []
    if layout in ("storage", "packed"):
        terms.append(("cold SLOAD of weight slots", G.COLD_SLOAD_COST * len(slot_values(layout, blob))))
    elif layout == "code":
        chunks = code_chunks(blob)
        terms.append(
            (
                "data contracts: EXTCODECOPY (cold), EXTCODESIZE, EXTCODEHASH",
                sum(
                    G.COLD_ACCOUNT_ACCESS_COST + G.copy_cost(c.length) + 2 * G.WARM_STORAGE_READ_COST
                    for c in chunks
                ),
            )
        )
    else:
        terms.append(("CODECOPY of the weights", G.GAS_VERY_LOW + G.copy_cost(len(blob.data))))
    terms.append(("memory expansion", G.memory_cost(memory_words(target, n_rows))))
    return terms


def predict_calldata(plan: Plan, row: Sequence[int]) -> bytes:
    """``predict(row)``'s calldata."""
    if plan.mode == "int8":
        return _calldata("predict(bytes)", ["bytes"], [bytes(v & 0xFF for v in row)])
    return _calldata("predict(int256[])", ["int256[]"], [list(row)])


def batch_calldata(plan: Plan, rows: Sequence[Sequence[int]]) -> bytes:
    """``predictBatch``'s calldata: the rows concatenated, one dynamic argument (encoded by hand,
    fast for thousands of rows)."""
    if plan.mode == "int8":
        payload = b"".join(bytes(v & 0xFF for v in r) for r in rows)
        count, signature = len(payload), "predictBatch(bytes)"
        payload += bytes(-len(payload) % 32)
    else:
        payload = b"".join(v.to_bytes(32, "big", signed=True) for r in rows for v in r)
        count, signature = len(payload) // 32, "predictBatch(int256[])"
    return (
        function_signature_to_4byte_selector(signature)
        + encode(["uint256", "uint256"], [32, count])
        + payload
    )


_GROUPS = {
    "macs": "multiply-accumulates",
    "words": "int8 SIMD weight words",
    "lane_words": "int8 activation lanes",
    "input_words": "int8 activation lanes",
    "next_words": "int8 activation lanes",
    "neurons": "neurons",
    "array_neurons": "neurons",
    "layers": "layers",
    "simple_layers": "layers",
    "squash_layers": "layers",
    "rescale_layers": "layers",
    "inputs": "inputs",
    "outputs": "outputs",
    "slots": "weight slots (loop)",
    "data_contracts": "data contracts (checks)",
    "const": "call overhead and weight loading",
    "batch": "predictBatch overhead",
    "batch_rows": "predictBatch rows",
    "batch_outputs": "predictBatch rows",
}


def _group(feature: str) -> str:
    """The breakdown term a feature's gas is shown in. Weight loading shares the call overhead's
    term: fixed mode's fitted costs split the two with a negative share for the code and inline
    layouts, which only their sum (always positive) means anything for."""
    if feature.startswith("blob_words") or feature.startswith("load_"):
        return _GROUPS["const"]
    if feature.startswith("hidden_"):  # an int8 clamp layer's neurons (see _clamp_path)
        return "neurons"
    if feature.startswith(("conv", "grid_", "buf_grid")):
        return "conv layers"
    if feature.startswith(("pool", "maxpool", "avgpool")):
        return "pooling layers"
    return _GROUPS.get(feature, "activations")


def _loop_terms(plan: Plan, features: Mapping[str, int], costs: Costs | None = None) -> list[tuple[str, int]]:
    mode_costs = (costs or fitted_costs()).mode(plan.mode)
    grouped: Counter = Counter()
    for feature, count in features.items():
        if count:
            grouped[_group(feature)] += mode_costs[feature] * count
    return [(name, round(g)) for name, g in sorted(grouped.items(), key=lambda kv: -kv[1])]


def inference(target: Target, row: Sequence[int], *, costs: Costs | None = None) -> Estimate:
    """Receipt gas of ``predict(row)`` sent as a transaction (``costs``: default the fitted file's)."""
    terms = _loop_terms(target.plan, inference_features(target, row), costs)
    return estimate_transaction(
        predict_calldata(target.plan, row),
        terms + inference_exact_terms(target),
        calldata_floor=_floor(target),
    )


def batch_inference(target: Target, rows: Sequence[Sequence[int]], *, costs: Costs | None = None) -> Estimate:
    """Receipt gas of ``predictBatch`` over ``rows`` sent as a transaction."""
    terms = _loop_terms(target.plan, batch_features(target, rows), costs)
    exact = inference_exact_terms(target, len(rows))
    return estimate_transaction(
        batch_calldata(target.plan, rows), terms + exact, calldata_floor=_floor(target)
    )


# -- inference: upper bounds ---------------------------------------------------------------


def _worst_row(plan: Plan) -> list[int]:
    """A row whose every calldata byte is non-zero (-1 is 0xff...ff in either encoding)."""
    return [-1] * plan.n_inputs


def _with_margin(estimate: Estimate) -> Estimate:
    """The estimate plus ``BOUND_MARGIN``, shown as its own term."""
    margin = math.ceil(estimate.total * BOUND_MARGIN)
    return Estimate(
        estimate.total + margin, estimate.terms + ((f"safety margin ({BOUND_MARGIN:.0%})", margin),)
    )


def inference_upper_bound(target: Target, *, costs: Costs | None = None) -> Estimate:
    """The most receipt gas ``predict`` can cost on any row: every value on its costliest
    branch, every calldata byte non-zero, plus ``BOUND_MARGIN``."""
    plan = target.plan
    costs = costs or fitted_costs()
    features = call_features(target) + row_features_bound(target, costs.mode(plan.mode))
    terms = _loop_terms(plan, features, costs) + inference_exact_terms(target)
    calldata = predict_calldata(plan, _worst_row(plan))
    return _with_margin(estimate_transaction(calldata, terms, calldata_floor=_floor(target)))


def _worst_batch_calldata(plan: Plan, n_rows: int) -> bytes:
    """Bytes that cost at least what ``predictBatch``'s calldata of ``n_rows`` rows can cost, and
    grow by the same amount with every row: every row byte non-zero, a length word with four
    non-zero bytes, and (int8) 31 zero bytes of padding."""
    if plan.mode == "int8":
        signature, payload, padding = "predictBatch(bytes)", n_rows * plan.n_inputs, 31
    else:
        signature, payload, padding = "predictBatch(int256[])", 32 * n_rows * plan.n_inputs, 0
    head = function_signature_to_4byte_selector(signature) + encode(["uint256", "uint256"], [32, 2**32 - 1])
    return head + b"\xff" * payload + bytes(padding)


def batch_upper_bound(target: Target, n_rows: int, *, costs: Costs | None = None) -> Estimate:
    """The most receipt gas ``predictBatch`` of ``n_rows`` rows can cost (memory's quadratic
    growth with the batch included). Convex in ``n_rows`` (but for rounding)."""
    plan = target.plan
    costs = costs or fitted_costs()
    features = call_features(target) + _batch_terms(target, n_rows)
    row = row_features_bound(target, costs.mode(plan.mode))
    features.update({k: v * n_rows for k, v in row.items()})
    terms = _loop_terms(plan, features, costs) + inference_exact_terms(target, n_rows)
    calldata = _worst_batch_calldata(plan, n_rows)
    return _with_margin(estimate_transaction(calldata, terms, calldata_floor=_floor(target)))


@dataclass(frozen=True)
class BatchBound:
    """``predictBatch`` of n rows, 1 <= n <= ``rows``, costs at most ``intercept + n * per_row``
    gas; ``rows`` is the most that fit ``budget`` (90% of a 30M-gas block by default). The line is
    the chord of ``batch_upper_bound`` from 0 to ``rows`` rows, which is convex in n (memory
    grows quadratically), so the line lies above it."""

    intercept: int
    per_row: int
    rows: int
    budget: int

    def to_json(self) -> dict[str, int]:
        return {
            "intercept": self.intercept,
            "per_row": self.per_row,
            "rows_per_call": self.rows,
            "budget": self.budget,
        }


def batch_bound_line(target: Target, budget: int) -> BatchBound:
    """The line ``intercept + n * per_row`` above ``batch_upper_bound`` for batches that fit ``budget``."""
    rows = rows_that_fit(target, budget)
    intercept = batch_upper_bound(target, 0).total + 2  # + the margin's rounding, up to a gas a point
    span = max(rows, 1)
    return BatchBound(
        intercept, -(-(batch_upper_bound(target, span).total - intercept) // span), rows, budget
    )


def rows_that_fit(target: Target, gas: int, most: int | None = None) -> int:
    """The most rows (at most ``most``) whose ``batch_upper_bound`` is within ``gas``; 0 if one
    row does not fit."""

    def fits(n: int) -> bool:
        return batch_upper_bound(target, n).total <= gas

    if not fits(1):
        return 0
    lo, hi = 1, 2  # lo fits; hi is the next size to try
    while (most is None or lo < most) and fits(hi):
        lo, hi = hi, 2 * hi
    if most is not None:
        if lo >= most:
            return most
        hi = min(hi, most + 1)
    while hi - lo > 1:  # batch_upper_bound grows with the rows
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


# -- deployment and uploads --------------------------------------------------------------


def deploy_features(compiled) -> Counter:
    """What the constructor's fitted cost counts: a constant per mode and layout, code words and
    data contracts."""
    f: Counter = Counter({f"const_{compiled.plan.mode}_{compiled.layout}": 1})
    f["runtime_words"] = G.words(len(compiled.artifact.deployed_bytecode))
    if compiled.layout == "code":
        f["data_contracts"] = len(code_chunks(compiled.blob))
    return f


def _constructor_exact(compiled) -> list[tuple[str, int]]:
    """The code layout's constructor: per data contract EXTCODESIZE (cold), EXTCODECOPY of its
    first byte (STOP) and of its chunk, EXTCODEHASH (pinned); keccak of the blob, and the
    memory that holds it (before the runtime code is copied out)."""
    runtime = len(compiled.artifact.deployed_bytecode)
    if compiled.layout != "code":
        return [("runtime code copy", G.copy_cost(runtime) + G.memory_cost(G.words(runtime)))]
    blob, chunks = compiled.blob, code_chunks(compiled.blob)
    memory = 4 + G.words(memory_alloc(blob)) + G.words(runtime) + 8
    per_chunk = G.COLD_ACCOUNT_ACCESS_COST + 3 * G.WARM_STORAGE_READ_COST + G.copy_cost(1)
    return [
        (
            "data contracts: EXTCODESIZE (cold), 2 EXTCODECOPY, EXTCODEHASH",
            sum(per_chunk + G.copy_cost(c.length) for c in chunks),
        ),
        ("keccak256 of the weights", G.keccak_cost(len(blob.data))),
        ("runtime code copy", G.copy_cost(runtime)),
        ("memory expansion", G.memory_cost(memory)),
    ]


def deploy_calldata(compiled, data_addresses: Sequence[str] | None = None) -> bytes:
    """The creation transaction's data: initcode, and for ``code`` the data contracts' addresses."""
    if compiled.layout != "code":
        return compiled.artifact.bytecode
    n = len(code_chunks(compiled.blob))
    addresses = list(data_addresses or ["0x" + "11" * 20] * n)
    return compiled.artifact.bytecode + encode(["address[]"], [addresses])


def deploy(compiled, data_addresses: Sequence[str] | None = None, *, costs: Costs | None = None) -> Estimate:
    """Receipt gas of deploying the model contract (after its data contracts, for ``code``)."""
    runtime = len(compiled.artifact.deployed_bytecode)
    fitted = _cost(deploy_features(compiled), (costs or fitted_costs()).deploy)
    return estimate_transaction(
        deploy_calldata(compiled, data_addresses),
        [
            ("constructor", round(fitted)),
            *_constructor_exact(compiled),
            ("code deposit", G.code_deposit(runtime)),
        ],
        create=True,
        calldata_floor=_floor(compiled),
    )


def upload(compiled: Target, start: int, slots: Sequence[bytes], *, costs: Costs | None = None) -> Estimate:
    """Receipt gas of ``upload(start, slots)`` on a contract whose ``loaded()`` is ``start``:
    the slots, the keccak256(d || slot) chain over them, and ``loaded`` / ``uploadDigest``."""
    data = _calldata("upload(uint256,bytes32[])", ["uint256", "bytes32[]"], [start, list(slots)])
    nonzero = sum(any(s) for s in slots)
    stores = nonzero * (G.SSTORE_SET_GAS + G.COLD_SLOAD_COST) + (len(slots) - nonzero) * (
        G.COLD_SLOAD_COST + G.WARM_STORAGE_READ_COST
    )
    counter = (
        G.SSTORE_SET_GAS if start == 0 else G.SSTORE_RESET_GAS
    )  # 0 -> x on the first upload, else x -> y
    loop = (costs or fitted_costs()).upload
    return estimate_transaction(
        data,
        [
            ("weight SSTOREs", stores),
            ("loaded(), uploadDigest() SSTOREs", 2 * counter),
            ("weightsHash, loaded, uploadDigest SLOADs", 3 * G.COLD_SLOAD_COST),
            ("upload digest keccak256", G.keccak_cost(64) * len(slots)),
            ("upload loop", round(loop["slot"] * len(slots))),
            ("call overhead", round(loop["const"])),
        ],
        calldata_floor=_floor(compiled),
    )


def finalize(compiled: Target, *, costs: Costs | None = None) -> Estimate:
    """``finalize(hash)``: three cold SLOADs for the checks, the weightsHash SSTORE, the event."""
    data = _calldata("finalize(bytes32)", ["bytes32"], [compiled.blob.hash])
    overhead = (costs or fitted_costs()).upload["finalize"]
    return estimate_transaction(
        data,
        [
            ("weightsHash SSTORE", G.SSTORE_SET_GAS),
            ("weightsHash, loaded, uploadDigest SLOADs", 3 * G.COLD_SLOAD_COST),
            ("WeightsFinalized log", log_cost(1, 32)),
            ("call overhead", round(overhead)),
        ],
        calldata_floor=_floor(compiled),
    )


@dataclass(frozen=True)
class GasReport:
    """Everything :func:`estimate` predicts for one model and row: ``inference`` is one ``predict(row)``
    call; ``batch_inference`` (when rows were given) one ``predictBatch`` call over them, about 1,300
    gas more for a single row (what ``ml2sc predict`` and ``Deployment.predict`` send)."""

    deploy: Estimate
    upload: tuple[tuple[str, Estimate], ...]  # one per transaction, labelled as `deploy` labels them
    inference: Estimate
    inference_upper_bound: Estimate
    batch_bound: BatchBound
    batch_inference: Estimate | None = None  # one predictBatch call over the given rows, where given
    inference_row: str = ""  # where the estimated row comes from, in words (ml2sc.api.estimate sets it)
    fork: Fork = field(default_factory=get_fork)  # the rules the figures are priced under

    @property
    def storage_total(self) -> int:
        return sum(e.total for _, e in self.upload)

    @property
    def total(self) -> int:
        """Everything a deployment costs, then one inference of the estimated row."""
        return self.deploy.total + self.storage_total + self.inference.total

    def to_json(self) -> dict[str, object]:
        """Totals and breakdowns; ``batch_inference`` only where it was estimated."""
        batch = {} if self.batch_inference is None else {"batch_inference": self.batch_inference.total}
        return {
            "fork": self.fork.to_json(),
            "deploy": self.deploy.total,
            "upload": [e.total for _, e in self.upload],
            "upload_labels": [label for label, _ in self.upload],
            "inference": self.inference.total,
            "inference_row": self.inference_row,
            "inference_upper_bound": self.inference_upper_bound.total,
            "batch_upper_bound": self.batch_bound.to_json(),
            "total": self.total,
            **batch,
            "breakdown": {
                "deploy": self.deploy.to_json(),
                "upload": {label: e.to_json() for label, e in self.upload},
                "inference": self.inference.to_json(),
                "inference_upper_bound": self.inference_upper_bound.to_json(),
                **(
                    {}
                    if self.batch_inference is None
                    else {"batch_inference": self.batch_inference.to_json()}
                ),
            },
        }


def estimate(
    compiled,
    row: Sequence[int],
    chunk_size: int,
    budget: int | None = None,
    rows: Sequence[Sequence[int]] | None = None,
) -> GasReport:
    """Everything a deployment and one inference of ``row`` will cost under ``compiled.fork``'s rules,
    before any of it runs; batches are bounded within ``budget`` gas (default :func:`default_budget`
    of the fork: 90% of what one transaction may use in a 30M-gas block). With ``rows``, also one
    ``predictBatch`` call over them."""
    fork = get_fork(getattr(compiled, "fork", None))
    if budget is None:
        budget = default_budget(fork)
    uploads: list[tuple[str, Estimate]] = []
    if compiled.layout == "code":
        data = compiled.blob.data
        uploads = [
            (f"data[{i}]", data_contract_creation(data[c.offset : c.offset + c.length], fork))
            for i, c in enumerate(code_chunks(compiled.blob))
        ]
    elif compiled.layout in ("storage", "packed"):
        values = slot_values(compiled.layout, compiled.blob)
        for start in range(0, len(values), chunk_size):
            chunk = values[start : start + chunk_size]
            uploads.append((f"upload[{start}:{start + len(chunk)}]", upload(compiled, start, chunk)))
        uploads.append(("finalize", finalize(compiled)))
    return GasReport(
        deploy(compiled),
        tuple(uploads),
        inference(compiled, row),
        inference_upper_bound(compiled),
        batch_bound_line(compiled, budget),
        batch_inference(compiled, rows) if rows is not None else None,
        fork=fork,
    )
