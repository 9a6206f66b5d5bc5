"""Plan + blob + layout -> Solidity source text, through the templates in ``ml2sc/templates``."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from eth_utils import keccak

from evmkit.resources import render

from . import activations, commitment, convplan
from .blob import Blob, LayerBlob
from .convplan import Walks
from .layers import Geometry, Plan
from .layouts import check_layout, code_chunks, memory_alloc, slot_bytes

KIND_IDS = activations.KIND_IDS  # the templates see it as KIND: {{ KIND.sigmoid }}
_DOCUMENTED_KINDS = 6  # ids 0-5 are always listed in _activate's comment; later ones when used
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
    int8_class: str  # clamp | squash | rescale | last (see ml2sc.activations)
    suffix: str  # the int8 _rescale<Suffix> function of a gelu / silu hidden layer
    kind: str = "dense"
    geometry: Geometry | None = None
    then_words: int = 0  # int8 conv models: activation words to build for the next (Linear) layer
    then_grid: int | None = None  # int8 conv models: the layer whose grid this Linear layer's bytes fill


def comment_text(text: str) -> str:
    """``text`` safe inside a ``//`` comment of a template: every character outside printable ASCII
    (0x20-0x7e: a newline above all, which would end the comment and start code) becomes ``?``.
    Names of printable ASCII render unchanged."""
    return re.sub(r"[^\x20-\x7e]", "?", text)


def contract_name_for(source_name: str) -> str:
    """A valid Solidity identifier derived from a file name."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", source_name.rsplit("/", 1)[-1].split(".")[0]).strip("_")
    name = "".join(part[:1].upper() + part[1:] for part in stem.split("_") if part) or "Model"
    if name[0].isdigit():
        name = "M" + name
    return name if name.lower().endswith("mlp") else name + "MLP"


def render_contract(plan: Plan, blob: Blob, layout: str, contract_name: str, source_name: str) -> str:
    """The model contract's Solidity source."""
    check_layout(layout)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", contract_name):
        raise ValueError(f"contract name {contract_name!r} is not a Solidity identifier")
    layers = [
        LayerView(
            comment_text(layer.name),
            layer.n_in,
            layer.n_out,
            layer.activation,
            KIND_IDS[layer.activation],
            i == len(plan.layers) - 1,
            b,
            activations.get(layer.activation).int8_class,
            _suffix(activations.get(layer.activation).solidity),
            layer.kind,
            layer.geometry,
        )
        for i, (layer, b) in enumerate(zip(plan.layers, blob.layers))
    ]
    scratch_words = max(b.words_per_neuron for b in blob.layers) if plan.mode == "int8" else 0
    scratch_end = 128 + 160 * scratch_words
    walks = None
    if plan.mode == "int8" and plan.convolutional:
        layers, walks = _conv_walks(plan, blob, layers)
        scratch_end = walks.end
    used = sorted({layer.activation for layer in plan.layers})
    records = [activations.get(name) for name in used]
    width = slot_bytes(layout, blob)
    return render(
        "ml2sc",
        "mlp.sol.j2",
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
        activations=used,
        hidden_activations=sorted({layer.activation for layer in plan.layers[:-1]}),
        uses_exp=any(r.uses_exp for r in records),
        uses_sigmoid=any(r.uses_sigmoid for r in records),
        KIND=KIND_IDS,
        kind_doc=", ".join(
            f"{r.kind_id} {r.name}"
            for r in activations.REGISTRY.values()
            if r.kind_id < _DOCUMENTED_KINDS or r.name in used
        ),
        extra_kinds=sorted((r for r in records if r.kind_id >= _DOCUMENTED_KINDS), key=lambda r: r.kind_id),
        rescale_kinds=_rescale_functions(layers),
        input_type="bytes calldata" if plan.mode == "int8" else "int256[] calldata",
        input_doc="one int8 per feature, quantized with the plan's input scale"
        if plan.mode == "int8"
        else f"int256 fixed point scaled by 2**{plan.fmt.frac_bits}",
        scratch_words=scratch_words,
        scratch_end=scratch_end,
        walks=walks,
        first_grid=walks.grids.get(0) if walks else None,
        buf_grids=[(v.then_grid, walks.grids[v.then_grid]) for v in layers if v.then_grid is not None]
        if walks
        else [],
        scratch_error=int.from_bytes(keccak(text="ScratchUnavailable()")[:4], "big"),
        contract_name=contract_name,
        source_name=comment_text(source_name),
        head_doc=_HEAD_DOC[plan.head],
        commit=_commitment(plan, blob, layout),
    )


def _conv_walks(plan: Plan, blob: Blob, views: list[LayerView]) -> tuple[list[LayerView], Walks]:
    """An int8 conv model's memory map (``ml2sc.convplan``) and each layer's hand-over to the next:
    a Linear reads activation words built from BUF; a conv or pool reads its grid, which a Linear
    before it fills from BUF (a conv or pool before it writes there directly)."""
    layers = plan.layers
    walks = convplan.memory_map(plan, blob)
    out = []
    for i, view in enumerate(views):
        consumer = i + 2 if i + 1 in walks.fused else i + 1
        if i in walks.fused or consumer >= len(layers):
            out.append(view)
        elif layers[consumer].kind == "dense":
            out.append(replace(view, then_words=blob.layers[consumer].words_per_neuron))
        elif view.kind == "dense":
            out.append(replace(view, then_grid=consumer))
        else:
            out.append(view)
    return out, walks


def _suffix(function: str) -> str:
    """_geluTanh -> GeluTanh."""
    return function[1:2].upper() + function[2:]


def _rescale_functions(layers: list[LayerView]) -> list[tuple[str, str]]:
    """(suffix, function) of each int8 ``_rescale<Suffix>`` the hidden layers need."""
    functions = sorted(
        {activations.get(v.activation).solidity for v in layers if v.int8_class == "rescale" and not v.last}
    )
    return [(_suffix(fn), fn) for fn in functions]


def _commitment(plan: Plan, blob: Blob, layout: str) -> dict[str, str]:
    """The hashes the contract holds as constants (ml2sc.commitment), as hex."""
    c = commitment.commit(plan, blob, layout)
    return {
        "arch_hash": c.arch_hash.hex(),
        "model_hash": c.model_hash.hex(),
        "upload_digest": c.upload_digest.hex(),
    }
