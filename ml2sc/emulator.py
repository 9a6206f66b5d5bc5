"""Run a :class:`~ml2sc.plan.Plan` with the contract's integer arithmetic, bit for bit.

``fixed`` mode uses Solidity's checked int256 operations (``evm_int``), so an overflow raises
the same panic the contract reverts with. ``int8`` mode's sums are exact by construction
(bounded far inside int256; the contract's SIMD lanes are sized for them), so plain Python
integers give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from . import evm_int as E
from . import fixed as fx
from .plan import INT8_MAX, Layer, Plan


@dataclass(frozen=True)
class Prediction:
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
    fmt, kind = plan.fmt, layer.activation
    if kind == "relu":
        return [fx.relu(v) for v in values]
    if kind == "leaky_relu":
        return [fx.leaky_relu(fmt, v, layer.slope) for v in values]
    if kind == "sigmoid":
        return [fx.sigmoid(fmt, v) for v in values]
    if kind == "tanh":
        return [fx.tanh(fmt, v) for v in values]
    if kind == "softmax":
        return fx.softmax(fmt, values)
    return values


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


def requantize(acc: int, layer: Layer) -> int:
    return (acc * layer.requant_m + (1 << (layer.requant_shift - 1))) >> layer.requant_shift


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
    pre = [requantize(acc, layer) for acc in accs]
    if last:
        return LayerTrace(tuple(pre), tuple(_activate(plan, layer, pre)))
    if layer.activation in ("sigmoid", "tanh"):
        q16 = _activate(plan, layer, pre)
        return LayerTrace(tuple(pre), tuple((f * INT8_MAX + (1 << 15)) >> 16 for f in q16))
    out = []
    for value in pre:
        y = max(-128, min(INT8_MAX, value))
        if layer.activation == "relu":
            y = max(0, y)
        elif layer.activation == "leaky_relu" and y < 0:
            y = (y * layer.slope) >> 16
        out.append(y)
    return LayerTrace(tuple(pre), tuple(out))


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
