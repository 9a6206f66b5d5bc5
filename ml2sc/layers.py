"""The plan's data types, apart from the code that builds them (``plan`` and ``quant`` both do).

:class:`FloatLayer` is a Linear layer and its activation in float; :class:`Layer` and :class:`Plan`
hold every number as the integer the contract reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat

MODES = ("fixed", "int8")
INT8_OUT_FORMAT = FixedFormat(16, 64)  # Q.16: int8 mode's outputs and its squash / rescale functions
INT8_MAX = 127


class PlanError(ValueError):
    """The model cannot be planned (shape, activation order, scales); the message says why."""


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """One Linear layer and the activation (if any) that follows it, in float."""

    name: str
    weight: np.ndarray  # (n_out, n_in)
    bias: np.ndarray
    activation: str  # a name in ml2sc.activations.REGISTRY
    slope: float = 0.0  # leaky_relu's negative slope


@dataclass(frozen=True)
class Layer:
    """One layer with every number an integer, as the contract and the emulator read it."""

    name: str
    n_in: int
    n_out: int
    activation: str
    weights: tuple[int, ...]  # row-major (n_out, n_in)
    biases: tuple[int, ...]
    slope: int = 0  # leaky_relu: fixed -> Q.F; int8 -> Q.16
    requant_m: tuple[int, ...] = ()  # int8 only: one multiplier per output neuron (per channel)
    requant_shift: int = 0  # int8 only: one shift for the layer
    out_m: int = 0  # int8 rescale class (gelu, silu) in a hidden layer: Q.16 -> int8 multiplier
    out_shift: int = 0


@dataclass(frozen=True)
class Plan:
    """The model as integers: the single source of the blob, the contract and the emulator."""

    mode: str
    fmt: FixedFormat  # fixed: the number format; int8: Q.16 of outputs and squash / rescale functions
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
        return (
            "int8 (per-channel weight scales, per-feature input scales, int32 accumulation, "
            "dyadic requantization)"
        )
