"""The numeric plan: the model's layers with every number encoded as an integer.

The plan is the single source that the blob encoder, the Solidity renderer and the Python
emulator read. Two modes:

- ``fixed``: weights, biases and activations are signed fixed-point numbers (``FixedFormat``).
- ``int8``: integer-only quantization. Weights are int8 with one scale per output neuron, inputs
  (one scale per feature) and hidden activations int8, accumulation exact (int32 range), and
  between layers a dyadic requantization ``(acc * m_j + 2**(s-1)) >> s`` (one multiplier per
  neuron, one shift per layer). Sigmoid, tanh, GELU, SiLU and the outputs of
  the last layer are computed in Q.16 fixed point with the same integer algorithms as ``fixed``
  mode (see ``ml2sc.activations`` for how each activation is handled).

The plan's types live in ``ml2sc.layers`` (so that ``quant`` builds int8 plans without importing
this module); they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from . import activations
from .capture import Activation, Conv, Dense, Op, Pool
from .fixed import FixedFormat
from .layers import INT8_MAX, INT8_OUT_FORMAT, MODES, FloatLayer, Geometry, Layer, Plan, PlanError
from .quant import Scales, build_int8_plan
from .shapes import as_chw, infer_shapes

__all__ = [
    "INT8_MAX",
    "INT8_OUT_FORMAT",
    "MODES",
    "FloatLayer",
    "Layer",
    "Plan",
    "PlanError",
    "build_fixed_plan",
    "build_plan",
    "decode_outputs",
    "encode_inputs",
    "group_layers",
]


def group_layers(ops: Sequence[Op]) -> list[FloatLayer]:
    """Pair each Linear or convolution with the one activation that may follow it; a pooling layer
    stands alone; reshapes only change the shapes the layers see (``ml2sc.shapes``).

    An activation right after a max pool moves before it when the layer before the pool has none and
    the activation never decreases (max(f(x)) = f(max(x)) then, exactly); anywhere else after a pool it
    is refused. The last layer must be a Linear: it makes the outputs and the class."""
    shapes = infer_shapes(ops)
    layers: list[FloatLayer] = []
    pending: Dense | Conv | None = None
    pending_shape: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    activation: Activation | None = None
    shape_before: tuple[int, ...] = ()

    def close() -> None:
        nonlocal pending, activation
        if pending is not None:
            kind = activation.kind if activation else "none"
            slope = activation.params[0] if activation and activation.params else 0.0
            if isinstance(pending, Dense):
                layers.append(FloatLayer(pending.name, pending.weight, pending.bias, kind, slope))
            else:
                assert pending_shape is not None
                geometry = _geometry(pending, *pending_shape)
                layers.append(
                    FloatLayer(pending.name, pending.weight, pending.bias, kind, slope, "conv", geometry)
                )
        pending, activation = None, None

    for op, shape in zip(ops, shapes.after):
        if isinstance(op, (Dense, Conv)):
            close()
            pending = op
            pending_shape = (shape_before, shape)
        elif isinstance(op, Pool):
            close()
            geometry = _geometry(op, shape_before, shape)
            kind = "maxpool" if op.kind == "max" else "avgpool"
            layers.append(FloatLayer(op.name, np.zeros((0, 0)), np.zeros(0), "none", 0.0, kind, geometry))
        elif isinstance(op, Activation):
            if pending is None and layers and layers[-1].kind == "maxpool":
                _move_before_pool(layers, op)
            elif pending is None:
                where = f"after pooling layer {layers[-1].name!r}" if layers else "before any Linear layer"
                raise PlanError(f"activation {op.name!r} comes {where}")
            elif activation is not None:
                raise PlanError(f"two activations in a row ({activation.name!r}, {op.name!r})")
            else:
                activation = op
        shape_before = shape
    close()
    if not layers or not any(layer.weighted for layer in layers):
        raise PlanError("the model has no Linear layer")
    if layers[-1].kind != "dense":
        raise PlanError(
            f"the model ends with {layers[-1].kind} layer {layers[-1].name!r}; ml2sc needs a Linear layer "
            "last (it makes the outputs and the class): flatten and add one"
        )
    for layer in layers[:-1]:
        if activations.get(layer.activation).last_only:
            raise PlanError(f"{layer.activation} after {layer.name!r} is supported only as the last layer")
    for layer in layers:
        if activations.get(layer.activation).has_slope and not 0 <= layer.slope < 1:
            raise PlanError(f"{layer.activation} after {layer.name!r}: negative_slope must be in [0, 1)")
        _check_finite(layer)
    return layers


def _check_finite(layer: FloatLayer) -> None:
    """A NaN or an infinity in a weight or bias (a corrupt file, a BatchNorm with a zero or negative
    variance folded in) is refused by layer and index, in both formats: int8 would otherwise clip
    it to a number no kernel lane holds."""
    for what, values in (("weight", layer.weight), ("bias", layer.bias)):
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            index = ", ".join(str(int(i)) for i in bad[0])
            value = values[tuple(bad[0])]
            raise PlanError(
                f"{what} {layer.name}[{index}] is {value}, not a finite number ({len(bad)} of {values.size} "
                f"{what}s are not finite)"
            )


MONOTONE = ("relu", "leaky_relu", "sigmoid", "tanh", "none")  # never decreasing: they commute with max


def _move_before_pool(layers: list[FloatLayer], op: Activation) -> None:
    pool = layers[-1]
    before = layers[-2] if len(layers) > 1 else None
    if before is None or not before.weighted or before.activation != "none" or op.kind not in MONOTONE:
        raise PlanError(
            f"activation {op.name!r} after pooling layer {pool.name!r}: put it before the pool "
            "(ml2sc moves only a non-decreasing activation across a max pool, onto a layer without one)"
        )
    slope = op.params[0] if op.params else 0.0
    layers[-2] = replace(before, activation=op.kind, slope=slope)


def _geometry(op: Conv | Pool, before: tuple[int, ...], after: tuple[int, ...]) -> Geometry:
    return Geometry(as_chw(before), as_chw(after), op.kernel, op.stride, op.padding, op.dims)


def build_fixed_plan(layers: Sequence[FloatLayer], fmt: FixedFormat | None = None) -> Plan:
    """Encode every number in ``fmt``; raise ``FormatOverflow`` naming any that does not fit."""
    fmt = fmt or FixedFormat()
    out: list[Layer] = []
    for layer in layers:
        weights = tuple(
            fmt.encode(float(v), f"weight {layer.name}[{', '.join(str(int(i)) for i in index)}]")
            for index, v in np.ndenumerate(layer.weight)
        )
        biases = tuple(fmt.encode(float(v), f"bias {layer.name}[{j}]") for j, v in enumerate(layer.bias))
        has_slope = activations.get(layer.activation).has_slope
        slope = fmt.encode(layer.slope, f"slope of {layer.name}") if has_slope else 0
        out.append(
            Layer(
                layer.name,
                layer.n_in,
                layer.n_out,
                layer.activation,
                weights,
                biases,
                slope,
                kind=layer.kind,
                geometry=layer.geometry,
            )
        )
    return Plan("fixed", fmt, tuple(out))


def build_plan(
    ops: Sequence[Op], fmt: FixedFormat | None = None, mode: str = "fixed", scales: Scales | None = None
) -> Plan:
    """The plan for captured ``ops``: fixed point in ``fmt``, or int8 with calibrated ``scales``
    (see :func:`ml2sc.quant.calibrate`)."""
    layers = group_layers(ops)
    if mode == "fixed":
        return build_fixed_plan(layers, fmt)
    if mode == "int8":
        if scales is None:
            raise PlanError("int8 mode needs calibrated scales")
        return build_int8_plan(layers, scales)
    raise PlanError(f"unknown number format {mode!r}; choose from {', '.join(MODES)}")


def encode_inputs(plan: Plan, rows: Sequence[Sequence[float]]) -> list[list[int]]:
    """Inputs as the contract takes them: fixed point, or int8 (saturating) in int8 mode."""
    encoded = []
    for r, row in enumerate(rows):
        if len(row) != plan.n_inputs:
            raise PlanError(f"row {r} has {len(row)} features; the model takes {plan.n_inputs}")
        if plan.mode == "int8":
            bad = [i for i, v in enumerate(row) if not np.isfinite(float(v))]
            if bad:
                raise PlanError(f"input row {r} feature {bad[0]} is {row[bad[0]]}, not a finite number")
            encoded.append(
                [max(-128, min(INT8_MAX, round(float(v) / s))) for v, s in zip(row, plan.input_scales)]
            )
        else:
            encoded.append(
                [plan.fmt.encode(float(v), f"input row {r} feature {i}") for i, v in enumerate(row)]
            )
    return encoded


def decode_outputs(plan: Plan, outputs: Sequence[int]) -> list[float]:
    """The contract's outputs as floats (Q.F, or Q.16 in int8 mode)."""
    return [plan.fmt.decode(v) for v in outputs]
