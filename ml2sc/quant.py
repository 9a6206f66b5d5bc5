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
from .layers import INT8_MAX, INT8_OUT_FORMAT, FloatLayer, Geometry, Layer, Plan, PlanError

Q16 = 1 << INT8_OUT_FORMAT.frac_bits
M_BITS = 31  # the largest requantization multiplier of a layer is in [2**30, 2**31)
# A neuron's weight scale is at least the layer's largest over 2**16, so its multiplier keeps at
# least 15 bits (relative error below 2**-15) under the layer's shared shift; only weights below
# 1/65536 of the layer's largest neuron's lose precision to it.
CHANNEL_RANGE = 2.0**-16
MAX_INPUTS = 66_000  # keeps sum(u * a') < 2**32 in each SWAR lane (255 * 255 * n)


def _windows(x: np.ndarray, geometry: Geometry, pad_value: float) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) views of the padded (N, C, H, W) batch ``x`` (strided, no copy)."""
    (kh, kw), (sh, sw), (ph, pw) = geometry.kernel, geometry.stride, geometry.padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    _, oh, ow = geometry.out_shape
    return view[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]


def spatial_forward(layer: FloatLayer, x: np.ndarray) -> np.ndarray:
    """A conv or pool layer (before its activation) on flat rows, in float64: flat rows out."""
    g = layer.geometry
    assert g is not None
    batch = x.reshape((x.shape[0], *g.in_shape))
    if layer.kind == "conv":
        win = _windows(batch, g, 0.0)
        out = (
            np.einsum("ncyxhw,ochw->noyx", win, layer.weight, optimize=True) + layer.bias[None, :, None, None]
        )
    elif layer.kind == "maxpool":
        out = _windows(batch, g, -np.inf).max(axis=(4, 5))
    else:  # avgpool, zeros counted (count_include_pad)
        out = _windows(batch, g, 0.0).sum(axis=(4, 5)) / g.taps
    return out.reshape(x.shape[0], -1)


def float_forward(layers: Sequence[FloatLayer], x: np.ndarray) -> list[np.ndarray]:
    """The activations after each layer, in float64."""
    outputs = []
    for layer in layers:
        z = x @ layer.weight.T + layer.bias if layer.kind == "dense" else spatial_forward(layer, x)
        x = activations.get(layer.activation).float_fn(z, layer.slope)
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


def channel_input_scales(layers: Sequence[FloatLayer], rows: np.ndarray) -> tuple[float, ...]:
    """A conv model's input scales, one per feature but equal within a channel: a conv shares its
    weights across positions, so only a per-channel scale folds into them. A dead channel takes 1.0."""
    g = layers[0].geometry
    assert g is not None
    c = g.in_shape[0]
    peaks = np.max(np.abs(rows.reshape(rows.shape[0], c, -1)), axis=(0, 2)) / INT8_MAX
    per_channel = np.where(peaks > 0, peaks, 1.0)
    return tuple(float(v) for v in np.repeat(per_channel, rows.shape[1] // c))


def calibrate(layers: Sequence[FloatLayer], rows: np.ndarray) -> Scales:
    """Scales from the largest magnitudes the float model sees on ``rows`` (finite floats only: a NaN
    or an infinity is refused with its row, not turned into a useless scale). A pooling layer's scale is
    the one of the values it pools (they pass through it unchanged)."""
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    n_in = layers[0].n_in
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
    if not layers[0].weighted:
        raise PlanError(
            f"int8 cannot start with pooling layer {layers[0].name!r} (its inputs have one scale per "
            "feature); use --format fixed"
        )
    outputs = float_forward(layers, rows)
    hidden: list[float] = []
    for layer, out in zip(layers[:-1], outputs[:-1]):
        if not layer.weighted:
            hidden.append(hidden[-1])
        elif activations.get(layer.activation).int8_class == "squash":
            hidden.append(1 / INT8_MAX)
        else:
            hidden.append(_scale(out))
    first = layers[0]
    scales = channel_input_scales(layers, rows) if first.kind == "conv" else input_scales(first.weight, rows)
    return Scales(scales, tuple(hidden))


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


MAX_CONV_TAPS = 32_000  # C_in * kh * kw: keeps every 32-bit SWAR lane of the conv kernel below 2**30


def _conv_channel_scale(layer: FloatLayer, input_scales: Sequence[float]) -> np.ndarray:
    """The first conv's weights with its input channels' scales folded in (W[:, c] * s_c)."""
    g = layer.geometry
    assert g is not None
    per_channel = np.asarray(input_scales).reshape(g.in_shape[0], -1)[:, 0]
    return layer.weight * per_channel[None, :, None, None]


def build_int8_plan(layers: Sequence[FloatLayer], scales: Scales) -> Plan:
    """The int8 plan of ``layers`` with calibrated ``scales`` (see :func:`calibrate`)."""
    if len(scales.hidden) != len(layers) - 1 or len(scales.inputs) != layers[0].n_in:
        raise PlanError("the int8 scales do not match the model's shape")
    # The per-feature input scales fold into the first layer: W x = (W diag(s)) (x / s), so the
    # first layer sees inputs of scale 1 and weights W diag(s) (a conv: one scale per input channel).
    s_in = 1.0
    out: list[Layer] = []
    for index, layer in enumerate(layers):
        if not layer.weighted:
            if index == 0:
                raise PlanError(f"int8 cannot start with pooling layer {layer.name!r}; use --format fixed")
            out.append(
                Layer(
                    layer.name,
                    layer.n_in,
                    layer.n_out,
                    "none",
                    (),
                    (),
                    kind=layer.kind,
                    geometry=layer.geometry,
                )
            )
            continue
        n_out, n_in = (layer.weight.shape[0], layer.n_in)
        if layer.kind == "dense" and n_in > MAX_INPUTS:
            raise PlanError(f"layer {layer.name!r} has {n_in} inputs; int8 mode supports up to {MAX_INPUTS}")
        kind = activations.get(layer.activation)
        if layer.kind == "conv":
            taps = int(np.prod(layer.weight.shape[1:]))
            if taps > MAX_CONV_TAPS:
                raise PlanError(
                    f"conv layer {layer.name!r} sums {taps} products per output (C_in * kh * kw); int8 mode "
                    f"supports up to {MAX_CONV_TAPS}"
                )
            if kind.int8_class != "clamp":
                raise PlanError(
                    f"int8 conv layers take relu, leaky_relu or no activation; {layer.name!r} has "
                    f"{layer.activation}: use --format fixed"
                )
            weight = _conv_channel_scale(layer, scales.inputs) if index == 0 else layer.weight
        else:
            weight = layer.weight * np.asarray(scales.inputs) if index == 0 else layer.weight
        flat = weight.reshape(n_out, -1)
        s_w = channel_scales(flat)
        w_q = np.clip(np.rint(flat / s_w[:, None]), -INT8_MAX, INT8_MAX).astype(np.int64)
        s_acc = s_in * s_w
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            scaled = np.rint(layer.bias / s_acc)
        if not np.all(np.isfinite(scaled)) or np.max(np.abs(scaled), initial=0) >= 2.0**120:
            j = int(np.argmax(~np.isfinite(scaled) | (np.abs(np.nan_to_num(scaled, posinf=0)) >= 2.0**120)))
            raise PlanError(
                f"int8 cannot hold the bias of {layer.name!r}[{j}] ({float(layer.bias[j]):.3g}) at its scale "
                f"{float(s_acc[j]):.3g}: the calibration rows (or the layer's weights) are too small for it; "
                "check the calibration rows, or use --format fixed"
            )
        b_q = [int(v) for v in scaled]
        last = index == len(layers) - 1
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
                n_out=layer.n_out,
                activation=layer.activation,
                weights=tuple(int(v) for v in w_q.ravel()),
                biases=tuple(b_q),
                slope=slope,
                requant_m=ms,
                requant_shift=shift,
                out_m=out_m,
                out_shift=out_shift,
                kind=layer.kind,
                geometry=layer.geometry,
            )
        )
        if not last:
            s_in = scales.hidden[index]
    return Plan("int8", INT8_OUT_FORMAT, tuple(out), input_scales=scales.inputs)
