"""Read a PyTorch MLP into a flat list of operations (:class:`Dense` and :class:`Activation`).

torch.fx traces the module, so functional calls (``torch.relu``, ``F.sigmoid``, ``F.gelu``,
``x.relu()``) are captured as well as modules (the activations and how torch spells them are in
``ml2sc.activations``); where tracing is impossible, an ``nn.Sequential`` (also a
TorchScript one) is walked child by child. Anything outside the supported set is refused
with an error that names the layer.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import activations

SUPPORTED = (
    "Linear",
    *activations.torch_labels(),
    "BatchNorm1d (after a Linear)",
    "Identity",
    "Dropout (eval)",
    "Flatten",
)


class UnsupportedModel(ValueError):
    """The model uses something ml2sc cannot translate; the message names it."""


class ModelLoadError(ValueError):
    """The model file is missing or is not a whole PyTorch module."""


@dataclass(frozen=True, eq=False)
class Dense:
    """y = W x + b, with W of shape (n_out, n_in)."""

    name: str
    weight: np.ndarray
    bias: np.ndarray

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])


@dataclass(frozen=True)
class Activation:
    """An activation function; ``kind`` names its record in ``ml2sc.activations``."""

    name: str
    kind: str
    params: tuple[float, ...] = field(default=())


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """Eval-mode BatchNorm1d: y = (x - mean) * scale + shift; folded into the Linear before it."""

    name: str
    mean: np.ndarray
    scale: np.ndarray
    shift: np.ndarray


Op = Dense | Activation | BatchNorm


def load_model(path: str | Path) -> Any:
    """Load a whole module saved by ``torch.save(model)`` or ``torch.jit.save``.

    ``torch.save`` files are unpickled (``weights_only=False``): load only trusted files.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream, still supported here
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except Exception:  # noqa: BLE001 - not TorchScript; try a pickled module next
        pass
    try:
        model = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one clear line
        raise ModelLoadError(f"cannot load {path} as a PyTorch model: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise ModelLoadError(
            f"{path} holds a {type(model).__name__}, not a whole module: save it with "
            "torch.save(model) (not model.state_dict()) or torch.jit.save"
        )
    return model


def _dense(name: str, module: Any) -> Dense:
    weight = module.weight.detach().cpu().double().numpy().copy()
    if module.bias is not None:
        bias = module.bias.detach().cpu().double().numpy().copy()
    else:
        bias = np.zeros(weight.shape[0])
    return Dense(name=name, weight=weight, bias=bias)


def _batchnorm(name: str, module: Any) -> BatchNorm:
    if module.running_mean is None or module.running_var is None:
        raise UnsupportedModel(f"BatchNorm1d {name!r} has no running statistics (track_running_stats=False)")
    var = module.running_var.detach().cpu().double().numpy()
    scale = 1.0 / np.sqrt(var + float(module.eps))
    shift = np.zeros_like(scale)
    if module.affine:
        scale = scale * module.weight.detach().cpu().double().numpy()
        shift = module.bias.detach().cpu().double().numpy().copy()
    return BatchNorm(name, module.running_mean.detach().cpu().double().numpy().copy(), scale, shift)


def _check_softmax_dim(name: str, dim: Any) -> None:
    if dim not in (None, -1, 1):
        raise UnsupportedModel(
            f"softmax {name!r} over dim={dim}: only the feature dimension (-1 or 1) is supported"
        )


def _unsupported(name: str, kind: str) -> UnsupportedModel:
    return UnsupportedModel(f"layer {name!r} ({kind}) is not supported; supported: {', '.join(SUPPORTED)}")


def _module_ops(name: str, module: Any, kind: str) -> list[Op]:
    """The ops for one leaf module, by its class name (TorchScript keeps ``original_name``)."""
    if kind == "Linear":
        return [_dense(name, module)]
    record = activations.for_module(kind, module)
    if record is not None:
        if record.last_only:
            _check_softmax_dim(name, module.dim)
        params = (float(module.negative_slope),) if record.has_slope else ()
        return [Activation(name, record.name, params)]
    if kind == "GELU":
        raise UnsupportedModel(
            f"GELU {name!r} with approximate={getattr(module, 'approximate', '?')!r}: "
            "only 'none' and 'tanh' are supported"
        )
    if kind == "BatchNorm1d":
        return [_batchnorm(name, module)]
    if kind in ("Identity", "Dropout", "Flatten"):
        return []
    raise _unsupported(name, kind)


_PASS_METHODS = {"flatten", "view", "reshape", "contiguous"}
PASS = "pass"  # a function that changes nothing ml2sc computes (flatten, dropout in eval)


@lru_cache(maxsize=1)
def _function_table() -> dict[Callable[..., Any], tuple[activations.ActivationKind, ...] | str]:
    """torch function -> the activation records it may be, or ``PASS``."""
    import torch
    import torch.nn.functional as F

    table: dict[Callable[..., Any], tuple[activations.ActivationKind, ...] | str] = {}
    table.update(activations.function_table())
    for passthrough in (torch.flatten, F.dropout):
        table[passthrough] = PASS
    return table


def _fx_ops(model: Any) -> list[Op]:
    import torch.fx

    graph_module = torch.fx.symbolic_trace(model)
    modules = dict(graph_module.named_modules())
    ops: list[Op] = []
    current = None
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise UnsupportedModel("the model takes more than one input; ml2sc needs one")
            current = node
            continue
        if node.op == "output":
            if node.args[0] is not current:
                raise UnsupportedModel("the model's output is not the end of its layer chain")
            break
        if node.op == "get_attr":
            raise UnsupportedModel(f"node {node.name!r} reads a tensor attribute; not an MLP")
        inputs = [a for a in node.all_input_nodes]
        if inputs != [current]:
            raise UnsupportedModel(
                f"node {node.name!r} ({node.target}) is not part of a single chain of layers "
                "(branches, residual connections and several inputs are not supported)"
            )
        if node.op == "call_module":
            module = modules[node.target]
            ops += _module_ops(str(node.target), module, type(module).__name__)
        elif node.op == "call_function":
            found = _function_table().get(node.target)
            if node.target is operator.getitem or found is None:
                raise _unsupported(node.name, getattr(node.target, "__name__", str(node.target)))
            if found != PASS:
                record = activations.choose(found, dict(node.kwargs))
                if record is None:
                    raise _unsupported(node.name, f"{node.target.__name__}({dict(node.kwargs)})")
                ops.append(_functional(node, record))
        elif node.op == "call_method":
            record = activations.for_method(str(node.target))
            if record is not None:
                ops.append(_functional(node, record))
            elif node.target not in _PASS_METHODS:
                raise _unsupported(node.name, f"tensor.{node.target}()")
        current = node
    return ops


def _functional(node: Any, record: activations.ActivationKind) -> Activation:
    """An activation from a call node; reads negative_slope / dim from its arguments."""
    if record.has_slope:
        slope = node.kwargs.get("negative_slope", node.args[1] if len(node.args) > 1 else 0.01)
        return Activation(node.name, record.name, (float(slope),))
    if record.last_only:
        _check_softmax_dim(node.name, node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None))
    return Activation(node.name, record.name)


def _sequential_ops(model: Any, prefix: str = "") -> list[Op]:
    ops: list[Op] = []
    for child_name, child in model.named_children():
        name = f"{prefix}{child_name}"
        kind = getattr(child, "original_name", None) or type(child).__name__
        if kind == "Sequential":
            ops += _sequential_ops(child, prefix=f"{name}.")
        else:
            ops += _module_ops(name, child, kind)
    return ops


def capture(model: Any) -> list[Op]:
    """The model's computation as a list of ops, first to last."""
    import torch

    if isinstance(model, torch.jit.ScriptModule):
        if getattr(model, "original_name", "") != "Sequential":
            raise UnsupportedModel(
                f"TorchScript module {getattr(model, 'original_name', '?')!r} is not an "
                "nn.Sequential; save the Python module with torch.save(model) instead"
            )
        ops = _sequential_ops(model)
    else:
        try:
            ops = _fx_ops(model)
        except UnsupportedModel:
            raise
        except Exception as exc:  # noqa: BLE001 - fx cannot trace everything
            if not isinstance(model, torch.nn.Sequential):
                raise UnsupportedModel(
                    f"cannot trace {type(model).__name__} with torch.fx ({exc}); "
                    "use an nn.Sequential or an fx-traceable forward()"
                ) from None
            ops = _sequential_ops(model)
    ops = fold_batchnorm(ops)
    _check_shapes(ops)
    return ops


def fold_batchnorm(ops: list[Op]) -> list[Op]:
    """Fold each BatchNorm1d into the Linear right before it: W' = diag(s) W, b' = s (b - mean) + shift."""
    folded: list[Op] = []
    for op in ops:
        if not isinstance(op, BatchNorm):
            folded.append(op)
            continue
        before = folded[-1] if folded else None
        if not isinstance(before, Dense):
            raise UnsupportedModel(
                f"BatchNorm1d {op.name!r} must follow a Linear layer directly (it is folded into it)"
            )
        if len(op.scale) != before.n_out:
            raise UnsupportedModel(
                f"BatchNorm1d {op.name!r} has {len(op.scale)} features; {before.name!r} gives {before.n_out}"
            )
        weight = before.weight * op.scale[:, None]
        bias = (before.bias - op.mean) * op.scale + op.shift
        folded[-1] = Dense(name=f"{before.name}+{op.name}", weight=weight, bias=bias)
    return folded


def _check_shapes(ops: list[Op]) -> None:
    denses = [op for op in ops if isinstance(op, Dense)]
    if not denses:
        raise UnsupportedModel("the model has no Linear layer")
    for before, after in zip(denses, denses[1:]):
        if before.n_out != after.n_in:
            raise UnsupportedModel(
                f"layer {after.name!r} expects {after.n_in} inputs but {before.name!r} gives {before.n_out}"
            )
