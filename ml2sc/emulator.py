"""Run a :class:`~ml2sc.plan.Plan` with the contract's integer arithmetic, bit for bit.

``fixed`` mode uses Solidity's checked int256 operations (``evm_int``), so an overflow raises
the same panic the contract reverts with. ``int8`` mode's sums are exact by construction
(bounded far inside int256; the contract's SIMD lanes are sized for them), so plain Python
integers give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import activations
from . import evm_int as E
from .layers import INT8_MAX, Geometry, Layer, Plan


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


def _windows(x: np.ndarray, g: Geometry, pad: object) -> np.ndarray:
    """(C, OH, OW, kh, kw) windows over the (C, H, W) array ``x`` padded with ``pad``."""
    (kh, kw), (sh, sw), (ph, pw) = g.kernel, g.stride, g.padding
    if ph or pw:
        padded = np.full((x.shape[0], x.shape[1] + 2 * ph, x.shape[2] + 2 * pw), pad, dtype=x.dtype)
        padded[:, ph : ph + x.shape[1], pw : pw + x.shape[2]] = x
        x = padded
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    _, oh, ow = g.out_shape
    return view[:, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]


def _conv_sums(layer: Layer, x: np.ndarray, start: np.ndarray, check: bool) -> np.ndarray:
    """acc[co, y, x] = start[co] + sum over (ci, ky, kx), in that order, of window * weight: the
    contract's order, so that a checked sum overflows where the contract's does (padding adds 0)."""
    g = layer.geometry
    assert g is not None
    c_out, (c_in, _, _), (kh, kw) = g.out_shape[0], g.in_shape, g.kernel
    win = _windows(x, g, 0)
    weights = np.array(layer.weights, dtype=object).reshape(c_out, c_in, kh, kw)
    out = np.empty(g.out_shape, dtype=object)
    for co in range(c_out):
        acc = np.full(g.out_shape[1:], start[co], dtype=object)
        for ci in range(c_in):
            for ky in range(kh):
                for kx in range(kw):
                    prod = win[ci, :, :, ky, kx] * weights[co, ci, ky, kx]
                    acc = acc + prod
                    if check and (_out_of_range(prod) or _out_of_range(acc)):
                        raise E.EvmPanic(0x11, "int256 overflow")
        out[co] = acc
    return out


def _out_of_range(values: np.ndarray) -> bool:
    return bool(values.size) and (values.max() > E.INT256_MAX or values.min() < E.INT256_MIN)


def _fixed_conv(plan: Plan, layer: Layer, a: list[int]) -> list[int]:
    g = layer.geometry
    assert g is not None
    f = plan.fmt.frac_bits
    x = np.array(a, dtype=object).reshape(g.in_shape)
    start = np.array([E.shl(b, f) for b in layer.biases], dtype=object)
    peak = max((abs(v) for v in a), default=0) * max((abs(w) for w in layer.weights), default=0)
    bound = max((abs(v) for v in start), default=0) + peak * g.in_shape[0] * g.taps
    sums = _conv_sums(layer, x, start, check=bound > E.INT256_MAX)
    return [E.sar(int(v), f) for v in sums.ravel()]


def _pool(layer: Layer, a: list[int], mode: str) -> list[int]:
    """Max pooling ignores padding; average pooling counts it as 0 and divides by the window size:
    fixed mode truncates toward zero (Solidity's /), int8 rounds half up on the offset bytes a + 128."""
    g = layer.geometry
    assert g is not None
    x = np.array(a, dtype=object).reshape(g.in_shape)
    if layer.kind == "maxpool":
        below = E.INT256_MIN - 1  # under any value: padding never wins
        return [int(v) for v in _windows(x, g, below).max(axis=(3, 4)).ravel()]
    n = g.taps
    if mode == "int8":
        sums = _windows(x + 128, g, 128).sum(axis=(3, 4))
        return [(int(v) + (n >> 1)) // n - 128 for v in sums.ravel()]
    win = _windows(x, g, 0)
    out = []
    for window in win.reshape(-1, n):
        total = 0
        for v in window:
            total = E.add(total, int(v))
        out.append(E.sdiv(total, n))
    return out


def _int8_conv(plan: Plan, layer: Layer, x: list[int], last: bool) -> LayerTrace:
    g = layer.geometry
    assert g is not None
    sums = _conv_sums(
        layer, np.array(x, dtype=object).reshape(g.in_shape), np.array(layer.biases, dtype=object), False
    )
    per_channel = g.out_shape[1] * g.out_shape[2]
    pre = [requantize(int(acc), layer, k // per_channel) for k, acc in enumerate(sums.ravel())]
    kind = activations.get(layer.activation)
    return LayerTrace(tuple(pre), tuple(kind.int8_clamped(_clamp(v), layer.slope) for v in pre))


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
        if layer.kind in ("maxpool", "avgpool"):
            pooled = tuple(_pool(layer, a, plan.mode))
            step = LayerTrace(pooled, pooled)
        elif layer.kind == "conv" and plan.mode == "int8":
            step = _int8_conv(plan, layer, a, index == len(plan.layers) - 1)
        elif layer.kind == "conv":
            pre = _fixed_conv(plan, layer, a)
            step = LayerTrace(tuple(pre), tuple(_activate(plan, layer, pre)))
        elif plan.mode == "int8":
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
