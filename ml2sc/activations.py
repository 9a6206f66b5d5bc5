"""Every activation ml2sc translates, one record each: the single place a new one is added.

A record says how PyTorch spells the function (module classes, functions, tensor methods), its
float reference, its integer algorithm (``ml2sc.fixed``, the same in fixed mode's Q.F and in int8
mode's Q.16), the id the contract's ``_activate`` dispatches on, how int8 mode handles it between
layers, and what the gas model counts for it. Capture, quantization, the emulator, the renderer,
the templates and the gas model all read it from here.

int8 classes (what a hidden layer does between its requantized accumulator and the next layer):

- ``clamp``: requantize straight to the next layer's int8 scale, clamp to [-128, 127], then the
  function in int8 (none, relu, leaky_relu);
- ``squash``: requantize to Q.16, the function, then ``* 127`` to int8: outputs in [-1, 1]
  (sigmoid, tanh);
- ``rescale``: requantize to Q.16, the function, then a second dyadic multiplier to the
  calibrated int8 scale, clamped: unbounded outputs (gelu, gelu_tanh, silu);
- ``last``: only as the last layer (softmax).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import fixed as fx
from .fixed import FixedFormat

INT8_CLASSES = ("clamp", "squash", "rescale", "last")


class UnknownActivation(KeyError):
    """An activation name that no record in :data:`REGISTRY` has."""

    def __str__(self) -> str:
        return str(self.args[0])


def _sigmoid(x: np.ndarray, slope: float) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0: sigmoid is 0
        return 1 / (1 + np.exp(-x))


def _softmax(x: np.ndarray, slope: float) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # scipy comes with scikit-learn, a dependency

    return erf(x)


def _gelu(x: np.ndarray, slope: float) -> np.ndarray:
    return 0.5 * x * (1 + _erf(x / np.sqrt(2)))


def _gelu_tanh(x: np.ndarray, slope: float) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def _silu(x: np.ndarray, slope: float) -> np.ndarray:
    return x * _sigmoid(x, slope)


def _exp_cut(scale: int) -> Callable[[FixedFormat, int], bool]:
    """exp(-scale |x|) is cut off to 0 (sigmoid: scale 1, tanh: 2)."""
    return lambda fmt, v: scale * abs(v) >= fmt.exp_cutoff


@dataclass(frozen=True)
class ActivationKind:
    """One activation function and everything each stage needs to know of it."""

    name: str
    kind_id: int  # `kind` in the contract's _activate; fixed: the rendered Solidity depends on it
    float_fn: Callable[[np.ndarray, float], np.ndarray]  # (x, leaky slope) -> y, float64 reference
    int8_class: str  # see the module docstring
    modules: tuple[str, ...] = ()  # torch.nn class names (TorchScript's original_name)
    functions: tuple[str, ...] = ()  # dotted paths of torch functions that fx captures
    methods: tuple[str, ...] = ()  # tensor methods
    select: tuple[str, Any] | None = None  # (argument, value) among kinds sharing a torch name
    fixed_fn: Callable[[FixedFormat, int], int] | None = None  # element-wise integer algorithm
    int8_clamped: Callable[[int, int], int] | None = None  # clamp class: (int8 value, Q.16 slope)
    has_slope: bool = False  # leaky_relu's negative_slope
    uses_exp: bool = False  # the contract needs _expNeg
    uses_sigmoid: bool = False  # the contract needs _sigmoid
    solidity: str = ""  # the element-wise function in fixed_math.sol.j2
    gas_stem: str = ""  # gas-model feature stem: {prefix}{stem}, _neg, _cut
    gas_cut: Callable[[FixedFormat, int], bool] | None = None  # the value skips exp (cut-off path)

    @property
    def last_only(self) -> bool:
        return self.int8_class == "last"

    def apply_fixed(self, fmt: FixedFormat, values: Sequence[int], slope: int = 0) -> list[int]:
        """The activation on a layer's fixed-point values, as the contract computes it."""
        if self.name == "softmax":
            return fx.softmax(fmt, list(values))
        if self.name == "leaky_relu":
            return [fx.leaky_relu(fmt, v, slope) for v in values]
        if self.fixed_fn is None:
            return list(values)
        return [self.fixed_fn(fmt, v) for v in values]


_RECORDS = (
    ActivationKind("none", 0, lambda x, s: x, "clamp", modules=("Identity",), int8_clamped=lambda y, s: y),
    ActivationKind(
        "relu",
        1,
        lambda x, s: np.maximum(x, 0),
        "clamp",
        ("ReLU",),
        ("torch.relu", "torch.nn.functional.relu"),
        ("relu",),
        fixed_fn=lambda fmt, v: fx.relu(v),
        int8_clamped=lambda y, s: max(0, y),
        gas_stem="relu",
    ),
    ActivationKind(
        "leaky_relu",
        2,
        lambda x, s: np.where(x >= 0, x, x * s),
        "clamp",
        ("LeakyReLU",),
        ("torch.nn.functional.leaky_relu",),
        has_slope=True,
        int8_clamped=lambda y, s: (y * s) >> 16 if y < 0 else y,
        solidity="_leaky",
        gas_stem="leaky",
    ),
    ActivationKind(
        "sigmoid",
        3,
        _sigmoid,
        "squash",
        ("Sigmoid",),
        ("torch.sigmoid", "torch.nn.functional.sigmoid"),
        ("sigmoid",),
        fixed_fn=fx.sigmoid,
        uses_exp=True,
        uses_sigmoid=True,
        solidity="_sigmoid",
        gas_stem="sig",
        gas_cut=_exp_cut(1),
    ),
    ActivationKind(
        "tanh",
        4,
        lambda x, s: np.tanh(x),
        "squash",
        ("Tanh",),
        ("torch.tanh", "torch.nn.functional.tanh"),
        ("tanh",),
        fixed_fn=fx.tanh,
        uses_exp=True,
        solidity="_tanh",
        gas_stem="tanh",
        gas_cut=_exp_cut(2),
    ),
    ActivationKind(
        "softmax",
        5,
        _softmax,
        "last",
        ("Softmax",),
        ("torch.softmax", "torch.nn.functional.softmax"),
        ("softmax",),
        uses_exp=True,
        gas_stem="softmax",
    ),
    ActivationKind(
        "gelu",
        6,
        _gelu,
        "rescale",
        ("GELU",),
        ("torch.nn.functional.gelu",),
        select=("approximate", "none"),
        fixed_fn=fx.gelu,
        uses_exp=True,
        solidity="_gelu",
        gas_stem="gelu",
        gas_cut=lambda fmt, v: abs(v) >= fmt.gelu_cutoff,
    ),
    ActivationKind(
        "gelu_tanh",
        7,
        _gelu_tanh,
        "rescale",
        ("GELU",),
        ("torch.nn.functional.gelu",),
        select=("approximate", "tanh"),
        fixed_fn=fx.gelu_tanh,
        uses_exp=True,
        uses_sigmoid=True,
        solidity="_geluTanh",
        gas_stem="gelu_tanh",
        gas_cut=lambda fmt, v: abs(v) >= fmt.gelu_tanh_cutoff,
    ),
    ActivationKind(
        "silu",
        8,
        _silu,
        "rescale",
        ("SiLU",),
        ("torch.nn.functional.silu",),
        fixed_fn=fx.silu,
        uses_exp=True,
        uses_sigmoid=True,
        solidity="_silu",
        gas_stem="silu",
        gas_cut=_exp_cut(1),
    ),
)

REGISTRY: dict[str, ActivationKind] = {r.name: r for r in _RECORDS}
NAMES = tuple(REGISTRY)
KIND_IDS: dict[str, int] = {r.name: r.kind_id for r in _RECORDS}


def get(name: str) -> ActivationKind:
    """The record of ``name``; an unknown name is an :class:`UnknownActivation` naming the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownActivation(f"unknown activation {name!r}; known: {', '.join(NAMES)}") from None


def names(int8_class: str) -> tuple[str, ...]:
    """The activations of one int8 class, in kind-id order."""
    if int8_class not in INT8_CLASSES:
        raise ValueError(f"unknown int8 class {int8_class!r}; one of {', '.join(INT8_CLASSES)}")
    return tuple(r.name for r in _RECORDS if r.int8_class == int8_class)


def for_module(class_name: str, module: Any) -> ActivationKind | None:
    """The activation a torch.nn module of ``class_name`` is, or None if it is no activation."""
    for record in _RECORDS:
        if class_name in record.modules and record.name != "none" and _selected(record, module, {}):
            return record
    return None


def function_table() -> dict[Callable[..., Any], tuple[ActivationKind, ...]]:
    """torch function object -> the records that capture it (several when ``select`` picks one)."""
    import importlib

    table: dict[Callable[..., Any], tuple[ActivationKind, ...]] = {}
    for record in _RECORDS:
        for path in record.functions:
            module_name, _, attribute = path.rpartition(".")
            fn = getattr(importlib.import_module(module_name), attribute)
            table[fn] = table.get(fn, ()) + (record,)
    return table


def for_method(method: str) -> ActivationKind | None:
    """The activation a tensor method (``x.relu()``) is, or None."""
    return next((r for r in _RECORDS if method in r.methods), None)


def choose(candidates: Sequence[ActivationKind], kwargs: dict[str, Any]) -> ActivationKind | None:
    """Among records sharing a torch function, the one whose ``select`` argument matches."""
    return next((r for r in candidates if _selected(r, None, kwargs)), None)


def _selected(record: ActivationKind, module: Any, kwargs: dict[str, Any]) -> bool:
    if record.select is None:
        return True
    argument, value = record.select
    default = "none"  # GELU's approximate: the only select today
    got = getattr(module, argument, default) if module is not None else kwargs.get(argument, default)
    return got == value


def torch_labels() -> tuple[str, ...]:
    """The torch.nn classes that are activations, for error messages ("Softmax (last layer)")."""
    labels: list[str] = []
    for record in _RECORDS[1:]:
        for module in record.modules:
            label = f"{module} (last layer)" if record.last_only else module
            if label not in labels:
                labels.append(label)
    return tuple(labels)
