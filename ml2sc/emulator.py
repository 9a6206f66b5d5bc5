"""Run a :class:`~ml2sc.plan.Plan` with the contract's integer arithmetic, bit for bit.

``fixed`` mode uses Solidity's checked int256 operations (``evm_int``), so an overflow raises
the same panic the contract reverts with. ``int8`` mode's sums are exact by construction
(bounded far inside int256; the contract's SIMD lanes are sized for them), so plain Python
integers give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import activations
from . import evm_int as E
from .layers import INT8_MAX, Layer, Plan


@dataclass(frozen=True)
class Prediction:
    """What ``predict`` returns on-chain: the outputs and the class they give."""

    outputs: tuple[int, ...]  # fixed-point (Q.F; Q.16 in int8 mode), as the contract returns them
    predicted_class: int


def classify(plan: Plan, outputs: Sequence[int]) -> int:
    """argmax (first maximum) for several outputs; a 0.5 / 0 threshold for one."""
    if plan.head == "argmax":
        best = 0
        for j in range(1, len(outputs)):
            if outputs[j] > outputs[best]:
                best = j
        return best
    threshold = plan.fmt.one >> 1 if plan.head == "sigmoid" else 0
    return 1 if outputs[0] > threshold else 0


def _activate(plan: Plan, layer: Layer, values: list[int]) -> list[int]:
    """An activation on fixed-point values (Q.F; Q.16 in int8 mode)."""
    return activations.get(layer.activation).apply_fixed(plan.fmt, values, layer.slope)


def _fixed_dense(plan: Plan, layer: Layer, a: list[int]) -> list[int]:
    f = plan.fmt.frac_bits
    out = []
    for j in range(layer.n_out):
        row = j * layer.n_in
        acc = E.shl(layer.biases[j], f)
        for i in range(layer.n_in):
            acc = E.add(acc, E.mul(a[i], layer.weights[row + i]))
        out.append(E.sar(acc, f))
    return out


def requantize(acc: int, layer: Layer, neuron: int) -> int:
    """int8 mode's dyadic step for one neuron: (acc * m[neuron] + 2**(shift-1)) >> shift."""
    return (acc * layer.requant_m[neuron] + (1 << (layer.requant_shift - 1))) >> layer.requant_shift


@dataclass(frozen=True)
class LayerTrace:
    """One layer's values: before the activation (fixed: the dense outputs; int8: the
    requantized accumulators, before clamping) and after it (the next layer's inputs)."""

    pre: tuple[int, ...]
    post: tuple[int, ...]


def _int8_layer(plan: Plan, layer: Layer, x: list[int], last: bool) -> LayerTrace:
    accs = [
        sum(w * v for w, v in zip(layer.weights[j * layer.n_in : (j + 1) * layer.n_in], x)) + layer.biases[j]
        for j in range(layer.n_out)
    ]
    pre = [requantize(acc, layer, j) for j, acc in enumerate(accs)]
    if last:
        return LayerTrace(tuple(pre), tuple(_activate(plan, layer, pre)))
    kind = activations.get(layer.activation)
    if kind.int8_class == "squash":  # Q.16 in [-1, 1] -> int8
        q16 = _activate(plan, layer, pre)
        return LayerTrace(tuple(pre), tuple((f * INT8_MAX + (1 << 15)) >> 16 for f in q16))
    if kind.int8_class == "rescale":  # Q.16 -> the calibrated int8 scale, clamped
        half = 1 << (layer.out_shift - 1)
        q16 = _activate(plan, layer, pre)
        return LayerTrace(tuple(pre), tuple(_clamp((f * layer.out_m + half) >> layer.out_shift) for f in q16))
    return LayerTrace(tuple(pre), tuple(kind.int8_clamped(_clamp(v), layer.slope) for v in pre))


def _clamp(value: int) -> int:
    return max(-128, min(INT8_MAX, value))


def trace(plan: Plan, inputs: Sequence[int]) -> list[LayerTrace]:
    """Every layer's values for one row; raises :class:`EvmPanic` where the contract reverts."""
    if len(inputs) != plan.n_inputs:
        raise ValueError(f"expected {plan.n_inputs} inputs, got {len(inputs)}")
    a = list(inputs)
    layers = []
    for index, layer in enumerate(plan.layers):
        if plan.mode == "int8":
            step = _int8_layer(plan, layer, a, index == len(plan.layers) - 1)
        else:
            pre = _fixed_dense(plan, layer, a)
            step = LayerTrace(tuple(pre), tuple(_activate(plan, layer, pre)))
        layers.append(step)
        a = list(step.post)
    return layers


def predict(plan: Plan, inputs: Sequence[int]) -> Prediction:
    """What ``predict(input)`` returns on-chain; raises :class:`EvmPanic` where it reverts."""
    outputs = trace(plan, inputs)[-1].post
    return Prediction(outputs, classify(plan, outputs))
