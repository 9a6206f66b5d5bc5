"""What a deployed model commits to, computed the same way here and in the contract (pure, no chain).

- ``descriptor``: everything but the weights that decides the outputs: layer sizes, each layer's
  activation and its constants (leaky slope, int8 requantization), the number format and input
  scales, the classification head, the weight layout. ``arch_hash`` is keccak256 of its canonical
  JSON.
- ``weights_hash``: keccak256 of the weight blob (one definition for every layout).
- ``model_hash`` = keccak256(arch_hash || weights_hash): the one value that names the whole model.
  The contract holds it as a constant; ``ml2sc verify`` recomputes it from the model file.
- ``upload_digest``: storage and packed layouts upload slots in transactions; the contract chains
  every slot it stores, d = keccak256(d || slot) from d = 0, and ``finalize`` refuses unless the
  chain ends at the digest compiled in. The chain runs slot by slot, so it does not depend on how
  the upload was cut into transactions or resumed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from .blob import Blob
from .layouts import slot_values
from .plan import Layer, Plan

DESCRIPTOR_VERSION = 1


def descriptor(plan: Plan, layout: str) -> dict[str, Any]:
    """The model without its weights, as plain JSON values (floats exactly, as hex)."""
    return {
        "ml2sc_model": DESCRIPTOR_VERSION,
        "mode": plan.mode,
        "frac_bits": plan.fmt.frac_bits,
        "weight_bits": plan.fmt.weight_bits,
        "input_scales": [float(s).hex() for s in plan.input_scales],
        "head": plan.head,
        "layout": layout,
        "layers": [_layer_descriptor(layer) for layer in plan.layers],
    }


def _layer_descriptor(layer: Layer) -> dict[str, Any]:
    """A layer's shape and integer constants. int8 layers list one requantization multiplier per
    neuron (per-channel scales; the blob holds them too) and the layer's shift; fixed layers keep
    the ``0, 0`` they always had, and the output rescale of int8 gelu/silu layers is named only
    where it exists, so the hashes of models without them are what they always were. A conv or pool
    layer adds its kind and window (shapes, kernel, stride, padding): two models that differ only
    there compute different things from the same weights."""
    out: dict[str, Any] = {
        "n_in": layer.n_in,
        "n_out": layer.n_out,
        "activation": layer.activation,
        "slope": layer.slope,
        "requant_m": list(layer.requant_m) if layer.requant_m else 0,
        "requant_shift": layer.requant_shift,
    }
    if layer.out_m or layer.out_shift:
        out |= {"out_m": layer.out_m, "out_shift": layer.out_shift}
    if layer.geometry is not None:  # conv and pool layers: where the window goes (MLPs hash as before)
        g = layer.geometry
        out |= {
            "kind": layer.kind,
            "in_shape": list(g.in_shape),
            "out_shape": list(g.out_shape),
            "kernel": list(g.kernel),
            "stride": list(g.stride),
            "padding": list(g.padding),
        }
    return out


def canonical(desc: dict[str, Any]) -> bytes:
    return json.dumps(desc, sort_keys=True, separators=(",", ":")).encode()


def arch_hash(desc: dict[str, Any]) -> bytes:
    return keccak(canonical(desc))


def model_hash(arch: bytes, weights: bytes) -> bytes:
    return keccak(arch + weights)


def upload_digest(slots: Sequence[bytes]) -> bytes:
    """The chain the contract's ``upload`` keeps over the 32-byte slot values it stores."""
    digest = bytes(32)
    for value in slots:
        digest = keccak(digest + value)
    return digest


@dataclass(frozen=True)
class Commitment:
    descriptor: dict[str, Any]
    arch_hash: bytes
    weights_hash: bytes
    model_hash: bytes
    upload_digest: bytes  # storage and packed layouts only; the chain over no slots elsewhere


def commit(plan: Plan, blob: Blob, layout: str) -> Commitment:
    desc = descriptor(plan, layout)
    arch = arch_hash(desc)
    slots = slot_values(layout, blob) if layout in ("storage", "packed") else []
    return Commitment(desc, arch, blob.hash, model_hash(arch, blob.hash), upload_digest(slots))


def _layer_words(a: dict[str, Any], b: dict[str, Any], number: int) -> list[str]:
    out = []
    if (a["n_in"], a["n_out"]) != (b["n_in"], b["n_out"]):
        out.append(f"shape of layer {number} differs ({a['n_in']}x{a['n_out']} vs {b['n_in']}x{b['n_out']})")
    if a["activation"] != b["activation"]:
        out.append(f"activation of layer {number} differs ({a['activation']} vs {b['activation']})")
    elif a["slope"] != b["slope"]:
        out.append(f"leaky slope of layer {number} differs")
    if (a["requant_m"], a["requant_shift"]) != (b["requant_m"], b["requant_shift"]):
        out.append(f"int8 requantization of layer {number} differs")
    for key, words in (("kind", "kind"), ("kernel", "kernel"), ("stride", "stride"), ("padding", "padding")):
        if a.get(key) != b.get(key):  # conv and pool layers (absent from a Linear layer's descriptor)
            shown = (
                (a.get(key) or "dense", b.get(key) or "dense") if key == "kind" else (a.get(key), b.get(key))
            )
            out.append(f"{words} of layer {number} differs ({shown[0]} vs {shown[1]})")
    if a.get("kind") == b.get("kind") and (a.get("in_shape"), a.get("out_shape")) != (
        b.get("in_shape"),
        b.get("out_shape"),
    ):
        out.append(
            f"input or output shape of layer {number} differs ({a.get('in_shape')} vs {b.get('in_shape')})"
        )
    return out


def differences(model: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """What differs between two descriptors, in words ("activation of layer 1 differs (relu vs tanh)");
    `model` is the model file's, `other` the deployment's."""
    out = []
    for key, words in (
        ("mode", "number format"),
        ("layout", "weight layout"),
        ("head", "classification head"),
    ):
        if model.get(key) != other.get(key):
            out.append(f"{words} differs ({model.get(key)} vs {other.get(key)})")
    if (model.get("frac_bits"), model.get("weight_bits")) != (
        other.get("frac_bits"),
        other.get("weight_bits"),
    ):
        out.append("fixed-point format differs (fractional or weight bits)")
    if model.get("input_scales") != other.get("input_scales"):
        out.append("int8 input scales differ")
    la, lb = model.get("layers", []), other.get("layers", [])
    if len(la) != len(lb):
        out.append(f"number of layers differs ({len(la)} vs {len(lb)})")
    for number, (a, b) in enumerate(zip(la, lb), 1):
        out += _layer_words(a, b, number)
    if not out and model != other:
        out.append("model description differs")
    return out
