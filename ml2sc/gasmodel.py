"""Analytic gas of ml2sc transactions: deploy, each weight upload, one inference. Pure.

Every prediction is receipt gas, summed from named terms:

- schedule terms computed exactly from the Prague schedule (``evmkit.gas``): the transaction
  base, calldata with the EIP-7623 floor, contract creation and EIP-3860 initcode words, code
  deposit, SSTORE by the slot's old and new value, cold SLOADs and account accesses, copies,
  keccak, and memory expansion (its quadratic part from the words the call allocates);
- loop terms: how often each part of the generated code runs (multiply-accumulates, neurons,
  layers, activation branches taken, slots, words) times that part's cost. The counts come
  from the plan and, for data-dependent branches (a negative ReLU input, a sigmoid's sign, an
  int8 clamp), from the emulator's trace of the row. The per-part costs are the opcode gas of
  the code that solc 0.8.30 generates from these templates; ``tools/calibrate_gas.py``
  derives them from receipts (least squares over a grid of models) and they are stored below.
  A template change means running it again; the tests hold the model within 1% of receipts.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from evmkit import gas as G

from . import emulator
from .layouts import code_chunks, data_contract_initcode, memory_alloc, slot_bytes, slot_values
from .onchain import Compiled, encode_row
from .plan import Plan

# The data contract's 12-byte creation code: PUSH2, DUP1, PUSH1, PUSH1 (3 gas each),
# CODECOPY (3 + copy + memory), PUSH1 (3), RETURN (0).
DATA_INITCODE_STATIC = 6 * G.GAS_VERY_LOW


@dataclass(frozen=True)
class Estimate:
    """A receipt-gas prediction with the terms it adds up."""

    total: int
    terms: tuple[tuple[str, int], ...]

    def to_json(self) -> dict[str, object]:
        return {"total": self.total, "terms": dict(self.terms)}


def _tx(data: bytes, execution_terms: Sequence[tuple[str, int]], create: bool = False) -> Estimate:
    execution = sum(g for _, g in execution_terms)
    terms = [("transaction base", G.TX_BASE_COST), ("calldata", G.calldata_cost(data))]
    if create:
        terms += [("contract creation", G.TX_CREATE_COST),
                  ("initcode words", G.INITCODE_WORD_COST * G.words(len(data)))]
    terms += [(name, g) for name, g in execution_terms if g]
    total = G.transaction_gas(data, execution, create)
    floor = G.floor_gas(data)
    if total == floor and floor > G.intrinsic_gas(data, create) + execution:
        terms.append(("EIP-7623 calldata floor top-up", floor - G.intrinsic_gas(data, create) - execution))
    return Estimate(total, tuple(terms))


def _calldata(signature: str, types: list[str], args: list[object]) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, args)


# -- data contracts (exact) ---------------------------------------------------------------


def data_contract_creation(chunk: bytes) -> Estimate:
    """Receipt gas of deploying ``0x00 || chunk`` as a data contract: exact."""
    initcode = data_contract_initcode(chunk)
    runtime_bytes = len(chunk) + 1
    return _tx(initcode, [
        ("creation code", DATA_INITCODE_STATIC + G.copy_cost(runtime_bytes) + G.memory_cost(G.words(runtime_bytes))),
        ("code deposit", G.code_deposit(runtime_bytes)),
    ], create=True)


# -- fitted loop costs (tools/calibrate_gas.py writes gas_costs.json) ---------------------
# Gas of each counted part of the generated code, per mode; keys are the feature names below.
COSTS_FILE = Path(__file__).with_name("gas_costs.json")
LOOP_COSTS: dict[str, dict[str, float]] = {}
DEPLOY_COSTS: dict[str, float] = {}
UPLOAD_COSTS: dict[str, float] = {}


def _activation_events(kind: str, values: Sequence[int], fmt_cutoff: int, prefix: str) -> Counter:
    """How often each branch of an activation runs, from the values it is applied to."""
    events: Counter = Counter()
    n = len(values)
    if kind == "relu":
        events[f"{prefix}relu"] += n
        events[f"{prefix}relu_neg"] += sum(v < 0 for v in values)
    elif kind == "leaky_relu":
        events[f"{prefix}leaky"] += n
        events[f"{prefix}leaky_neg"] += sum(v < 0 for v in values)
    elif kind in ("sigmoid", "tanh"):
        short = "sig" if kind == "sigmoid" else "tanh"
        scale = 1 if kind == "sigmoid" else 2
        events[f"{prefix}{short}"] += n
        events[f"{prefix}{short}_neg"] += sum(v < 0 for v in values)
        events[f"{prefix}{short}_cut"] += sum(scale * abs(v) >= fmt_cutoff for v in values)
    elif kind == "softmax":
        top = max(values)
        events[f"{prefix}softmax"] += n
        events[f"{prefix}softmax_cut"] += sum(top - v >= fmt_cutoff for v in values)
    return events


def inference_features(compiled: Compiled, row: Sequence[int]) -> Counter:
    """Counts of every part of ``predict(row)``'s execution that costs gas."""
    plan, blob, layout = compiled.plan, compiled.blob, compiled.layout
    f: Counter = Counter(const=1, inputs=plan.n_inputs, outputs=plan.n_outputs, layers=len(plan.layers))
    f["neurons"] = sum(layer.n_out for layer in plan.layers)
    f[f"head_{plan.head}"] = 1
    f[f"load_{layout}"] = 1
    f[f"blob_words_{layout}"] = G.words(len(blob.data))
    if layout in ("storage", "packed"):
        f["slots"] = len(slot_values(layout, blob))
    elif layout == "code":
        f["data_contracts"] = len(code_chunks(blob))
    cutoff = plan.fmt.exp_cutoff
    steps = emulator.trace(plan, row)
    last = len(plan.layers) - 1
    if plan.mode == "int8":
        f["input_words"] = blob.layers[0].words_per_neuron
    for index, (layer, step) in enumerate(zip(plan.layers, steps)):
        if plan.mode == "fixed":
            f["macs"] += layer.n_in * layer.n_out
            f["act_layers"] += layer.activation != "none"
            f.update(_activation_events(layer.activation, step.pre, cutoff, ""))
            continue
        f["words"] += blob.layers[index].words_per_neuron * layer.n_out
        f["extra_words"] += (blob.layers[index].words_per_neuron - 1) * layer.n_out  # past each neuron's first
        f["lane_words"] += 4 * blob.layers[index].words_per_neuron
        if index == last:
            f["out_act_call"] += layer.activation != "none"
            f.update(_activation_events(layer.activation, step.pre, cutoff, "out_"))
        elif layer.activation in ("sigmoid", "tanh"):
            f.update(_activation_events(layer.activation, step.pre, cutoff, "squash_"))
            f["next_words"] += blob.layers[index + 1].words_per_neuron
        else:
            f[f"hidden_{layer.activation}"] += layer.n_out
            f["clamp_hi"] += sum(v > 127 for v in step.pre)
            if layer.activation != "relu":  # relu has no lower clamp: it is branchless
                f["clamp_lo"] += sum(v < -128 for v in step.pre)
            if layer.activation == "leaky_relu":
                f["leaky_neg"] += sum(min(127, max(-128, v)) < 0 for v in step.pre)
            f["next_words"] += blob.layers[index + 1].words_per_neuron
    return f


def _memory_words(compiled: Compiled) -> int:
    """Words of memory ``predict`` touches: the blob, plus scratch and arrays."""
    plan, blob = compiled.plan, compiled.blob
    words = 4 + G.words(memory_alloc(blob, slot_bytes(compiled.layout, blob)))  # 0x80 reserved + blob
    if plan.mode == "int8":
        widest = max(b.words_per_neuron for b in blob.layers)
        words += 5 * widest + plan.n_outputs + 1  # activation words and a' bytes; outputs
    else:
        words += plan.n_inputs + 1 + sum(layer.n_out + 1 for layer in plan.layers)
    return words + 2 * plan.n_outputs + 4  # return data


def inference_exact_terms(compiled: Compiled) -> list[tuple[str, int]]:
    """Schedule terms of reading the weights and of the call's memory."""
    blob, layout = compiled.blob, compiled.layout
    terms = []
    if layout in ("storage", "packed"):
        terms.append(("cold SLOAD of weight slots", G.COLD_SLOAD_COST * len(slot_values(layout, blob))))
    elif layout == "code":
        chunks = code_chunks(blob)
        terms.append(("EXTCODECOPY of data contracts (cold)", sum(
            G.COLD_ACCOUNT_ACCESS_COST + G.copy_cost(c.length) for c in chunks)))
    else:
        terms.append(("CODECOPY of the weights", G.GAS_VERY_LOW + G.copy_cost(len(blob.data))))
    terms.append(("memory expansion", G.memory_cost(_memory_words(compiled))))
    return terms


def predict_calldata(plan: Plan, row: Sequence[int]) -> bytes:
    if plan.mode == "int8":
        return _calldata("predict(bytes)", ["bytes"], [encode_row(plan, row)])
    return _calldata("predict(int256[])", ["int256[]"], [list(row)])


_GROUPS = {
    "macs": "multiply-accumulates", "words": "int8 SIMD weight words", "lane_words": "int8 activation lanes",
    "neurons": "neurons", "layers": "layers", "inputs": "inputs", "outputs": "outputs",
    "slots": "weight slots (loop)", "data_contracts": "data contracts (EXTCODECOPY)", "const": "call overhead",
}


def _group(feature: str) -> str:
    if feature.startswith("blob_words") or feature.startswith("load_"):
        return "weight loading"
    return _GROUPS.get(feature, "activations")


def inference(compiled: Compiled, row: Sequence[int]) -> Estimate:
    """Receipt gas of ``predict(row)`` sent as a transaction."""
    costs = LOOP_COSTS[compiled.plan.mode]
    grouped: Counter = Counter()
    for feature, count in inference_features(compiled, row).items():
        grouped[_group(feature)] += costs.get(feature, 0.0) * count
    terms = [(name, round(g)) for name, g in sorted(grouped.items(), key=lambda kv: -kv[1])]
    return _tx(predict_calldata(compiled.plan, row), terms + inference_exact_terms(compiled))


# -- deployment and uploads --------------------------------------------------------------


def deploy_features(compiled: Compiled) -> Counter:
    f: Counter = Counter({f"const_{compiled.plan.mode}_{compiled.layout}": 1})
    f["runtime_words"] = G.words(len(compiled.artifact.deployed_bytecode))
    if compiled.layout == "code":
        f["data_contracts"] = len(code_chunks(compiled.blob))
    return f


def _constructor_exact(compiled: Compiled) -> list[tuple[str, int]]:
    """The code layout's constructor: EXTCODESIZE + EXTCODECOPY of each data contract, keccak
    of the blob, and the memory that holds it (before the runtime code is copied out)."""
    runtime = len(compiled.artifact.deployed_bytecode)
    if compiled.layout != "code":
        return [("runtime code copy", G.copy_cost(runtime) + G.memory_cost(G.words(runtime)))]
    blob, chunks = compiled.blob, code_chunks(compiled.blob)
    memory = 4 + G.words(memory_alloc(blob)) + G.words(runtime) + 8
    return [
        ("data contracts: EXTCODESIZE (cold), EXTCODECOPY", sum(
            G.COLD_ACCOUNT_ACCESS_COST + G.WARM_STORAGE_READ_COST + G.copy_cost(c.length) for c in chunks)),
        ("keccak256 of the weights", G.keccak_cost(len(blob.data))),
        ("runtime code copy", G.copy_cost(runtime)),
        ("memory expansion", G.memory_cost(memory)),
    ]


def deploy_calldata(compiled: Compiled, data_addresses: Sequence[str] | None = None) -> bytes:
    if compiled.layout != "code":
        return compiled.artifact.bytecode
    n = len(code_chunks(compiled.blob))
    addresses = list(data_addresses or ["0x" + "11" * 20] * n)
    return compiled.artifact.bytecode + encode(["address[]", "bytes32"], [addresses, compiled.blob.hash])


def deploy(compiled: Compiled, data_addresses: Sequence[str] | None = None) -> Estimate:
    """Receipt gas of deploying the model contract (after its data contracts, for ``code``)."""
    runtime = len(compiled.artifact.deployed_bytecode)
    fitted = sum(DEPLOY_COSTS.get(k, 0.0) * v for k, v in deploy_features(compiled).items())
    return _tx(deploy_calldata(compiled, data_addresses), [
        ("constructor", round(fitted)),
        *_constructor_exact(compiled),
        ("code deposit", G.code_deposit(runtime)),
    ], create=True)


def upload(compiled: Compiled, start: int, slots: Sequence[bytes]) -> Estimate:
    """Receipt gas of ``upload(start, slots)`` on a contract whose ``loaded()`` is ``start``."""
    data = _calldata("upload(uint256,bytes32[])", ["uint256", "bytes32[]"], [start, list(slots)])
    nonzero = sum(any(s) for s in slots)
    stores = nonzero * (G.SSTORE_SET_GAS + G.COLD_SLOAD_COST) + (len(slots) - nonzero) * (
        G.COLD_SLOAD_COST + G.WARM_STORAGE_READ_COST)
    loaded = G.SSTORE_SET_GAS if start == 0 else G.SSTORE_RESET_GAS  # loaded(): 0 -> n, else n -> m
    return _tx(data, [
        ("weight SSTOREs", stores),
        ("loaded() SSTORE", loaded),
        ("weightsHash, loaded SLOADs", 2 * G.COLD_SLOAD_COST),
        ("upload loop", round(UPLOAD_COSTS.get("slot", 0.0) * len(slots))),
        ("call overhead", round(UPLOAD_COSTS.get("const", 0.0))),
    ])


def finalize(compiled: Compiled) -> Estimate:
    data = _calldata("finalize(bytes32)", ["bytes32"], [compiled.blob.hash])
    return _tx(data, [
        ("weightsHash SSTORE", G.SSTORE_SET_GAS),
        ("call overhead", round(UPLOAD_COSTS.get("finalize", 0.0))),
    ])


@dataclass(frozen=True)
class GasReport:
    deploy: Estimate
    upload: tuple[tuple[str, Estimate], ...]  # one per transaction, labelled as `deploy` labels them
    inference: Estimate

    def to_json(self) -> dict[str, object]:
        return {
            "deploy": self.deploy.total,
            "upload": [e.total for _, e in self.upload],
            "upload_labels": [label for label, _ in self.upload],
            "inference": self.inference.total,
            "breakdown": {
                "deploy": self.deploy.to_json(),
                "upload": {label: e.to_json() for label, e in self.upload},
                "inference": self.inference.to_json(),
            },
        }


def estimate(compiled: Compiled, row: Sequence[int], chunk_size: int) -> GasReport:
    """Everything a deployment and one inference of ``row`` will cost, before any of it runs."""
    uploads: list[tuple[str, Estimate]] = []
    if compiled.layout == "code":
        data = compiled.blob.data
        uploads = [(f"data[{i}]", data_contract_creation(data[c.offset : c.offset + c.length]))
                   for i, c in enumerate(code_chunks(compiled.blob))]
    elif compiled.layout in ("storage", "packed"):
        values = slot_values(compiled.layout, compiled.blob)
        for start in range(0, len(values), chunk_size):
            chunk = values[start : start + chunk_size]
            uploads.append((f"upload[{start}:{start + len(chunk)}]", upload(compiled, start, chunk)))
        uploads.append(("finalize", finalize(compiled)))
    return GasReport(deploy(compiled), tuple(uploads), inference(compiled, row))


def load_costs(costs: Mapping[str, object]) -> None:
    """Install fitted costs (used by tools/calibrate_gas.py before it writes them out)."""
    LOOP_COSTS.clear()
    LOOP_COSTS.update(costs["loop"])  # type: ignore[arg-type]
    DEPLOY_COSTS.clear()
    DEPLOY_COSTS.update(costs["deploy"])  # type: ignore[arg-type]
    UPLOAD_COSTS.clear()
    UPLOAD_COSTS.update(costs["upload"])  # type: ignore[arg-type]


if COSTS_FILE.is_file():
    load_costs(json.loads(COSTS_FILE.read_text()))
