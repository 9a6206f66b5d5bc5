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


KINDS = ("dense", "conv", "maxpool", "avgpool")
Shape3 = tuple[int, int, int]  # (C, H, W); a 1-D (C, L) sample is (C, 1, L)


@dataclass(frozen=True)
class Geometry:
    """Where a conv or pool layer's window goes: its input and output (C, H, W), kernel, stride and
    zero padding (rows, columns on each side). ``dims`` (1 or 2) is how the model spelled it."""

    in_shape: Shape3
    out_shape: Shape3
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dims: int = 2

    @property
    def taps(self) -> int:
        """Window positions per output channel: kh * kw (times C_in for a conv)."""
        return self.kernel[0] * self.kernel[1]

    def describe(self, pool: bool = False) -> str:
        """``5x5``, ``3x3 stride 2 pad 1``; a pool's stride shows only where it is not its kernel."""
        one = self.dims == 1
        k = f"{self.kernel[1]}" if one else f"{self.kernel[0]}x{self.kernel[1]}"
        parts = [k]
        if self.stride != ((self.kernel) if pool else (1, 1)):
            parts.append(f"stride {self.stride[1] if one else 'x'.join(map(str, self.stride))}")
        if self.padding != (0, 0):
            parts.append(f"pad {self.padding[1] if one else 'x'.join(map(str, self.padding))}")
        return " ".join(parts)


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """One Linear or convolution layer and the activation (if any) that follows it, or a pooling
    layer, in float."""

    name: str
    weight: np.ndarray  # dense (n_out, n_in); conv (C_out, C_in, kh, kw); pool: empty
    bias: np.ndarray
    activation: str  # a name in ml2sc.activations.REGISTRY
    slope: float = 0.0  # leaky_relu's negative slope
    kind: str = "dense"
    geometry: Geometry | None = None  # conv and pool layers

    @property
    def n_in(self) -> int:
        if self.geometry is not None:
            c, h, w = self.geometry.in_shape
            return c * h * w
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        if self.geometry is not None:
            c, h, w = self.geometry.out_shape
            return c * h * w
        return int(self.weight.shape[0])

    @property
    def weighted(self) -> bool:
        return self.kind in ("dense", "conv")


@dataclass(frozen=True)
class Layer:
    """One layer with every number an integer, as the contract and the emulator read it. A conv or
    pool layer's ``n_in`` / ``n_out`` are its flat input and output sizes (C * H * W)."""

    name: str
    n_in: int
    n_out: int
    activation: str
    weights: tuple[int, ...]  # row-major: dense (n_out, n_in); conv (C_out, C_in, kh, kw)
    biases: tuple[int, ...]
    slope: int = 0  # leaky_relu: fixed -> Q.F; int8 -> Q.16
    requant_m: tuple[int, ...] = ()  # int8 only: one multiplier per output neuron (per channel)
    requant_shift: int = 0  # int8 only: one shift for the layer
    out_m: int = 0  # int8 rescale class (gelu, silu) in a hidden layer: Q.16 -> int8 multiplier
    out_shift: int = 0
    kind: str = "dense"  # dense | conv | maxpool | avgpool
    geometry: Geometry | None = None  # conv and pool layers

    @property
    def weighted(self) -> bool:
        return self.kind in ("dense", "conv")

    @property
    def channels(self) -> int:
        """Output channels (conv) or neurons (dense): one bias and one multiplier each."""
        return self.geometry.out_shape[0] if self.kind == "conv" and self.geometry else self.n_out

    @property
    def n_macs(self) -> int:
        if self.kind == "conv" and self.geometry is not None:
            return self.n_out * self.geometry.in_shape[0] * self.geometry.taps
        return self.n_in * self.n_out if self.kind == "dense" else 0

    @property
    def n_params(self) -> int:
        return len(self.weights) + len(self.biases)

    @property
    def shape_label(self) -> str:
        """How the architecture string shows the layer: its output size, or its kind and shape."""
        if self.geometry is None:
            return str(self.n_out)
        c, h, w = self.geometry.out_shape
        out = f"{c}x{w}" if self.geometry.dims == 1 else f"{c}x{h}x{w}"
        return f"{self.kind}{self.geometry.describe(pool=self.kind != 'conv')}({out})"


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
        """``64-32-10`` for an MLP; a conv model names its conv and pool layers with their shapes."""
        first = self.layers[0]
        start = str(self.n_inputs)
        if first.geometry is not None:
            c, h, w = first.geometry.in_shape
            start = f"{c}x{w}" if first.geometry.dims == 1 else f"{c}x{h}x{w}"
        return "-".join([start] + [layer.shape_label for layer in self.layers])

    @property
    def convolutional(self) -> bool:
        return any(layer.geometry is not None for layer in self.layers)

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(layer.activation for layer in self.layers)

    @property
    def n_macs(self) -> int:
        return sum(layer.n_macs for layer in self.layers)

    @property
    def n_params(self) -> int:
        """Weights and biases, as PyTorch counts parameters."""
        return sum(layer.n_params for layer in self.layers)

    @property
    def describe_format(self) -> str:
        if self.mode == "fixed":
            return self.fmt.name
        inputs = "per-channel" if self.layers[0].kind == "conv" else "per-feature"
        return (
            f"int8 (per-channel weight scales, {inputs} input scales, int32 accumulation, "
            "dyadic requantization)"
        )
