"""The numeric plan: the model's layers with every number encoded as an integer.

The plan is the single source that the blob encoder, the Solidity renderer and the Python
emulator read. Two modes:

- ``fixed``: weights, biases and activations are signed fixed-point numbers (``FixedFormat``).
- ``int8``: integer-only quantization. Weights are int8 with one scale per layer, inputs and
  hidden activations int8, accumulation exact (int32 range), and between layers a dyadic
  requantization ``(acc * m + 2**(s-1)) >> s``. Sigmoid, tanh and the outputs of the last
  layer are computed in Q.16 fixed point with the same integer algorithms as ``fixed`` mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .capture import Activation, Dense, Op
from .fixed import FixedFormat

MODES = ("fixed", "int8")
INT8_OUT_FORMAT = FixedFormat(16, 64)  # Q.16: int8 mode's outputs, sigmoid and tanh
INT8_MAX = 127


class PlanError(ValueError):
    pass


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """One Linear layer and the activation (if any) that follows it, in float."""

    name: str
    weight: np.ndarray  # (n_out, n_in)
    bias: np.ndarray
    activation: str  # "none" | "relu" | "leaky_relu" | "sigmoid" | "tanh" | "softmax"
    slope: float = 0.0  # leaky_relu's negative slope


@dataclass(frozen=True)
class Layer:
    name: str
    n_in: int
    n_out: int
    activation: str
    weights: tuple[int, ...]  # row-major (n_out, n_in)
    biases: tuple[int, ...]
    slope: int = 0  # leaky_relu: fixed -> Q.F; int8 -> Q.16
    requant_m: int = 0  # int8 only
    requant_shift: int = 0  # int8 only


@dataclass(frozen=True)
class Plan:
    mode: str
    fmt: FixedFormat  # fixed: the number format; int8: Q.16 of outputs, sigmoid and tanh
    layers: tuple[Layer, ...]
    input_scales: tuple[float, ...] = ()  # int8: x_q[i] = clamp(round(x[i] / input_scales[i]), -128, 127)

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def head(self) -> str:
        """How outputs become a class: ``argmax``, ``sigmoid`` (> 0.5) or ``logit`` (> 0)."""
        if self.n_outputs > 1:
            return "argmax"
        return "sigmoid" if self.layers[-1].activation == "sigmoid" else "logit"

    @property
    def architecture(self) -> str:
        return "-".join(str(n) for n in [self.n_inputs] + [layer.n_out for layer in self.layers])

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(layer.activation for layer in self.layers)

    @property
    def n_macs(self) -> int:
        return sum(layer.n_in * layer.n_out for layer in self.layers)

    @property
    def n_params(self) -> int:
        """Weights and biases, as PyTorch counts parameters."""
        return sum(layer.n_in * layer.n_out + layer.n_out for layer in self.layers)

    @property
    def describe_format(self) -> str:
        if self.mode == "fixed":
            return self.fmt.name
        return "int8 (per-layer weight scales, per-feature input scales, int32 accumulation, dyadic requantization)"


def group_layers(ops: Sequence[Op]) -> list[FloatLayer]:
    """Pair each Linear with the one activation that may follow it."""
    layers: list[FloatLayer] = []
    pending: Dense | None = None
    activation: Activation | None = None

    def close() -> None:
        nonlocal pending, activation
        if pending is not None:
            kind = activation.kind if activation else "none"
            slope = activation.params[0] if activation and activation.params else 0.0
            layers.append(FloatLayer(pending.name, pending.weight, pending.bias, kind, slope))
        pending, activation = None, None

    for op in ops:
        if isinstance(op, Dense):
            close()
            pending = op
        elif isinstance(op, Activation):
            if pending is None:
                raise PlanError(f"activation {op.name!r} comes before any Linear layer")
            if activation is not None:
                raise PlanError(f"two activations in a row ({activation.name!r}, {op.name!r})")
            activation = op
    close()
    if not layers:
        raise PlanError("the model has no Linear layer")
    for layer in layers[:-1]:
        if layer.activation == "softmax":
            raise PlanError(f"softmax after {layer.name!r} is supported only as the last layer")
    for layer in layers:
        if layer.activation == "leaky_relu" and not 0 <= layer.slope < 1:
            raise PlanError(f"leaky_relu after {layer.name!r}: negative_slope must be in [0, 1)")
    return layers


def build_fixed_plan(layers: Sequence[FloatLayer], fmt: FixedFormat | None = None) -> Plan:
    """Encode every number in ``fmt``; raise ``FormatOverflow`` naming any that does not fit."""
    fmt = fmt or FixedFormat()
    out: list[Layer] = []
    for layer in layers:
        n_out, n_in = layer.weight.shape
        weights = tuple(
            fmt.encode(float(v), f"weight {layer.name}[{j}, {i}]")
            for j, row in enumerate(layer.weight)
            for i, v in enumerate(row)
        )
        biases = tuple(fmt.encode(float(v), f"bias {layer.name}[{j}]") for j, v in enumerate(layer.bias))
        slope = fmt.encode(layer.slope, f"slope of {layer.name}") if layer.activation == "leaky_relu" else 0
        out.append(Layer(layer.name, int(n_in), int(n_out), layer.activation, weights, biases, slope))
    return Plan("fixed", fmt, tuple(out))


def build_plan(ops: Sequence[Op], fmt: FixedFormat | None = None, mode: str = "fixed", scales=None) -> Plan:
    """The plan for captured ``ops``: fixed point in ``fmt``, or int8 with calibrated ``scales``
    (see :func:`ml2sc.quant.calibrate`)."""
    layers = group_layers(ops)
    if mode == "fixed":
        return build_fixed_plan(layers, fmt)
    if mode == "int8":
        from .quant import build_int8_plan

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
            encoded.append([
                max(-128, min(INT8_MAX, round(float(v) / s))) for v, s in zip(row, plan.input_scales)
            ])
        else:
            encoded.append(
                [plan.fmt.encode(float(v), f"input row {r} feature {i}") for i, v in enumerate(row)]
            )
    return encoded


def decode_outputs(plan: Plan, outputs: Sequence[int]) -> list[float]:
    return [plan.fmt.decode(v) for v in outputs]
