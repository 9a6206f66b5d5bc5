"""Plan + blob + layout -> Solidity source text, through the templates in ``ml2sc/templates``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eth_utils import keccak

from evmkit.resources import render

from . import commitment
from .blob import Blob, LayerBlob
from .layouts import check_layout, code_chunks, memory_alloc, slot_bytes
from .plan import Plan

KIND_IDS = {"none": 0, "relu": 1, "leaky_relu": 2, "sigmoid": 3, "tanh": 4, "softmax": 5}
_HEAD_DOC = {
    "argmax": "index of the largest output",
    "sigmoid": "1 if the sigmoid output is above 0.5, else 0",
    "logit": "1 if the output is above 0, else 0",
}


@dataclass(frozen=True)
class LayerView:
    """What the template needs of one layer."""

    name: str
    n_in: int
    n_out: int
    activation: str
    kind_id: int
    last: bool
    blob: LayerBlob


def contract_name_for(source_name: str) -> str:
    """A valid Solidity identifier derived from a file name."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", source_name.rsplit("/", 1)[-1].split(".")[0]).strip("_")
    name = "".join(part[:1].upper() + part[1:] for part in stem.split("_") if part) or "Model"
    if name[0].isdigit():
        name = "M" + name
    return name if name.lower().endswith("mlp") else name + "MLP"


def render_contract(plan: Plan, blob: Blob, layout: str, contract_name: str, source_name: str) -> str:
    check_layout(layout)
    layers = [
        LayerView(l.name, l.n_in, l.n_out, l.activation, KIND_IDS[l.activation], i == len(plan.layers) - 1, b)
        for i, (l, b) in enumerate(zip(plan.layers, blob.layers))
    ]
    activations = sorted({l.activation for l in plan.layers})
    width = slot_bytes(layout, blob)
    return render(
        "ml2sc", "mlp.sol.j2",
        plan=plan,
        blob=blob,
        fmt=plan.fmt,
        layout=layout,
        layout_family="slots" if layout in ("storage", "packed") else layout,
        slot_bytes=width,
        n_slots=-(-len(blob.data) // width),
        alloc=memory_alloc(blob, width),
        chunks=code_chunks(blob),
        layers=layers,
        activations=activations,
        hidden_activations=sorted({l.activation for l in plan.layers[:-1]}),
        uses_exp=bool({"sigmoid", "tanh", "softmax"} & set(activations)),
        input_type="bytes calldata" if plan.mode == "int8" else "int256[] calldata",
        input_doc="one int8 per feature, quantized with the plan's input scale"
        if plan.mode == "int8"
        else f"int256 fixed point scaled by 2**{plan.fmt.frac_bits}",
        scratch_words=max(b.words_per_neuron for b in blob.layers) if plan.mode == "int8" else 0,
        scratch_error=int.from_bytes(keccak(text="ScratchUnavailable()")[:4], "big"),
        contract_name=contract_name,
        source_name=source_name,
        head_doc=_HEAD_DOC[plan.head],
        commit=_commitment(plan, blob, layout),
    )


def _commitment(plan: Plan, blob: Blob, layout: str) -> dict[str, str]:
    """The hashes the contract holds as constants (ml2sc.commitment), as hex."""
    c = commitment.commit(plan, blob, layout)
    return {"arch_hash": c.arch_hash.hex(), "model_hash": c.model_hash.hex(), "upload_digest": c.upload_digest.hex()}
