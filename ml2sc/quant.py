"""Integer-only int8 quantization (symmetric, per-channel weight scales, dyadic requantization).

Calibration runs the float model on sample rows and records the largest magnitude entering
each layer; scale = max|value| / 127 (one per input feature, one per hidden layer). Weights get
one scale per output neuron (per channel): s_w[j] = max_i |W[j, i]| / 127, so a neuron with small
weights keeps its 8 bits instead of rounding to 0 next to a neuron with large ones (regression
heads above all). For neuron j, the exact int32 accumulator ``acc = sum w_q x_q + b_q`` stands for
``acc * s_in * s_w[j]``. It is brought to the next layer's int8 scale s_out, or to Q.16 for
sigmoid, tanh, GELU, SiLU and the last layer, by a dyadic number ``m[j] / 2**shift`` close to the
real ratio, as in integer-only inference work (Jacob et al. 2018; I-ViT's dyadic arithmetic): one
``shift`` per layer, set by the layer's largest ratio, and one 31-bit multiplier per neuron. GELU
and SiLU (int8 class ``rescale``) then reach the next layer's int8 scale by a second dyadic number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import activations
from .layers import INT8_MAX, INT8_OUT_FORMAT, FloatLayer, Layer, Plan, PlanError

Q16 = 1 << INT8_OUT_FORMAT.frac_bits
M_BITS = 31  # the largest requantization multiplier of a layer is in [2**30, 2**31)
# A neuron's weight scale is at least the layer's largest over 2**16, so its multiplier keeps at
# least 15 bits (relative error below 2**-15) under the layer's shared shift; only weights below
# 1/65536 of the layer's largest neuron's lose precision to it.
CHANNEL_RANGE = 2.0**-16
MAX_INPUTS = 66_000  # keeps sum(u * a') < 2**32 in each SWAR lane (255 * 255 * n)


def float_forward(layers: Sequence[FloatLayer], x: np.ndarray) -> list[np.ndarray]:
    """The activations after each layer, in float64."""
    outputs = []
    for layer in layers:
        x = activations.get(layer.activation).float_fn(x @ layer.weight.T + layer.bias, layer.slope)
        outputs.append(x)
    return outputs


def _scale(values: np.ndarray) -> float:
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    scale = peak / INT8_MAX
    # a column of zeros, or of subnormals whose scale underflows to 0.0, quantizes to 0 at any scale
    return scale if scale > 0 else 1.0


def input_scales(weight: np.ndarray, rows: np.ndarray) -> tuple[float, ...]:
    """One scale per input feature: its largest magnitude on ``rows`` / 127.

    A feature that is 0 (or subnormal) on every row has no range to measure, and its scale still
    matters: it folds into the first layer's weights (``W diag(s)``), whose per-neuron scales come
    from the largest folded weight. Scale 1.0 there made a dead pixel of digits, whose folded
    weight (trained on a near-constant column) was 1,000 times the others, set the scale of every
    neuron, so most live weights rounded to 0. A dead feature's scale is instead the largest that
    keeps its folded column within every neuron's largest live folded weight (the smallest
    ``live_peak[j] / |W[j, i]|``): it never sets a weight scale, and its zeros stay exact. A value
    it takes later is clamped at 127 of that scale, which is as far as the calibration rows vouch
    for. With no live feature at all (all-zero rows), every scale is 1.0.
    """
    peaks = np.max(np.abs(rows), axis=0) / INT8_MAX
    live = peaks > 0
    scales = np.where(live, peaks, 1.0)
    folded = np.abs(weight) * np.where(live, peaks, 0.0)
    live_peak = folded.max(axis=1) if folded.size else np.zeros(weight.shape[0])
    for i in np.flatnonzero(~live):
        column = np.abs(weight[:, i])
        bound = (column > 0) & (live_peak > 0)
        if bound.any():
            scale = float(np.min(live_peak[bound] / column[bound]))
            scales[i] = scale if math.isfinite(scale) and scale > 0 else 1.0
    return tuple(float(v) for v in scales)


def channel_scales(weight: np.ndarray) -> np.ndarray:
    """One weight scale per output neuron (row of ``weight``): its largest magnitude / 127, but at
    least the layer's largest scale times ``CHANNEL_RANGE``. An all-zero row (whose weights are 0
    at any scale) takes the layer's largest, so it never drives the layer's shared shift."""
    peaks = np.max(np.abs(weight), axis=1) / INT8_MAX if weight.size else np.zeros(weight.shape[0])
    top = float(peaks.max()) if peaks.size else 0.0
    if not top > 0:
        return np.ones(weight.shape[0])
    return np.maximum(peaks, top * CHANNEL_RANGE)


def dyadic(ratio: float) -> tuple[int, int]:
    """(m, shift) with m / 2**shift ~ ratio and m in [2**30, 2**31)."""
    if not ratio > 0 or not math.isfinite(ratio):
        raise PlanError(f"cannot requantize by {ratio}")
    mantissa, exponent = math.frexp(ratio)  # ratio = mantissa * 2**exponent, mantissa in [0.5, 1)
    m = round(mantissa * (1 << M_BITS))
    shift = M_BITS - exponent
    if m == 1 << M_BITS:
        m, shift = m >> 1, shift - 1
    if shift > 200:  # below 2**-169 every requantized value is 0: say so exactly
        return 0, 1
    if shift < 1:
        raise PlanError(f"requantization ratio {ratio:.3g} is too large for int8")
    return m, shift


def dyadic_channels(ratios: Sequence[float]) -> tuple[tuple[int, ...], int]:
    """(m_j, shift) with m_j / 2**shift ~ ratios[j]: one shift, set by the largest ratio (whose m is
    in [2**30, 2**31)), shared by every neuron of the layer; the other m_j are smaller."""
    m_top, shift = dyadic(max(ratios))
    if m_top == 0:
        return tuple(0 for _ in ratios), shift
    return tuple(round(r * 2.0**shift) for r in ratios), shift


@dataclass(frozen=True)
class Scales:
    """The calibrated int8 scales: one per input feature (features differ in range by orders
    of magnitude, e.g. breast-cancer 'area' vs 'smoothness'), and one per hidden layer output."""

    inputs: tuple[float, ...]
    hidden: tuple[float, ...]

    def values(self) -> tuple[float, ...]:
        """Every scale, flat (for checks that each is positive and finite)."""
        return (*self.inputs, *self.hidden)

    def to_json(self) -> dict[str, object]:
        return {"inputs": list(self.inputs), "hidden": list(self.hidden)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Scales:
        return cls(tuple(float(v) for v in data["inputs"]), tuple(float(v) for v in data["hidden"]))  # type: ignore[union-attr]


def calibrate(layers: Sequence[FloatLayer], rows: np.ndarray) -> Scales:
    """Scales from the largest magnitudes the float model sees on ``rows`` (finite floats only: a NaN
    or an infinity is refused with its row, not turned into a useless scale)."""
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    n_in = layers[0].weight.shape[1]
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise PlanError(f"calibration needs at least one row of floats, got an array of shape {rows.shape}")
    if rows.shape[1] != n_in:
        raise PlanError(f"calibration rows have {rows.shape[1]} features; the model takes {n_in}")
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if bad.size:  # a NaN max is silently dropped by max(), an inf one makes every scale useless
        row = int(bad[0])
        feature = int(np.flatnonzero(~np.isfinite(rows[row]))[0])
        raise PlanError(
            f"calibration row {row} feature {feature} is {rows[row, feature]}, not a finite number "
            f"({bad.size} of {rows.shape[0]} rows are not finite)"
        )
    outputs = float_forward(layers, rows)
    hidden = tuple(
        1 / INT8_MAX if activations.get(layer.activation).int8_class == "squash" else _scale(out)
        for layer, out in zip(layers[:-1], outputs[:-1])
    )
    return Scales(input_scales(layers[0].weight, rows), hidden)


def _requantizers(
    layer: FloatLayer, ratios: Sequence[float], input_scales: Sequence[float], first: bool
) -> tuple[tuple[int, ...], int]:
    """:func:`dyadic_channels`, with a ratio no int8 multiplier reaches explained by the two numbers
    that make it: the layer's largest weight and the largest input the calibration rows give it
    (an outlier row is as likely a cause as a wild weight)."""
    try:
        return dyadic_channels(ratios)
    except PlanError:
        feature = int(np.argmax(input_scales))
        where = f"input feature {feature}" if first else "its inputs (the previous layer's outputs)"
        raise PlanError(
            f"int8 cannot hold layer {layer.name!r}: its largest weight is "
            f"{float(np.max(np.abs(layer.weight))):.3g} and the calibration rows drive {where} up to "
            f"{INT8_MAX * float(input_scales[feature]):.3g}, which needs a requantization ratio of "
            f"{max(ratios):.3g} (int8 allows below 2**30); check the calibration rows for outliers and "
            "the model's weights, or use --format fixed"
        ) from None


def build_int8_plan(layers: Sequence[FloatLayer], scales: Scales) -> Plan:
    """The int8 plan of ``layers`` with calibrated ``scales`` (see :func:`calibrate`)."""
    if len(scales.hidden) != len(layers) - 1 or len(scales.inputs) != layers[0].weight.shape[1]:
        raise PlanError("the int8 scales do not match the model's shape")
    # The per-feature input scales fold into the first layer: W x = (W diag(s)) (x / s), so the
    # first layer sees inputs of scale 1 and weights W diag(s).
    s_in = 1.0
    out: list[Layer] = []
    for index, layer in enumerate(layers):
        n_out, n_in = layer.weight.shape
        if n_in > MAX_INPUTS:
            raise PlanError(f"layer {layer.name!r} has {n_in} inputs; int8 mode supports up to {MAX_INPUTS}")
        weight = layer.weight * np.asarray(scales.inputs) if index == 0 else layer.weight
        s_w = channel_scales(weight)
        w_q = np.clip(np.rint(weight / s_w[:, None]), -INT8_MAX, INT8_MAX).astype(np.int64)
        s_acc = s_in * s_w
        b_q = [int(v) for v in np.rint(layer.bias / s_acc)]
        last = index == len(layers) - 1
        kind = activations.get(layer.activation)
        out_m, out_shift = 0, 0
        if last or kind.int8_class in ("squash", "rescale"):
            ratios = [float(v) * Q16 for v in s_acc]
            if not last and kind.int8_class == "rescale":
                out_m, out_shift = dyadic(1 / (Q16 * scales.hidden[index]))
        else:
            ratios = [float(v) / scales.hidden[index] for v in s_acc]
        ms, shift = _requantizers(layer, ratios, scales.inputs if index == 0 else [s_in], index == 0)
        slope = round(layer.slope * Q16) if kind.has_slope else 0
        out.append(
            Layer(
                name=layer.name,
                n_in=int(n_in),
                n_out=int(n_out),
                activation=layer.activation,
                weights=tuple(int(v) for v in w_q.ravel()),
                biases=tuple(b_q),
                slope=slope,
                requant_m=ms,
                requant_shift=shift,
                out_m=out_m,
                out_shift=out_shift,
            )
        )
        if not last:
            s_in = scales.hidden[index]
    return Plan("int8", INT8_OUT_FORMAT, tuple(out), input_scales=scales.inputs)
