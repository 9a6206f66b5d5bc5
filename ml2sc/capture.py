"""Read a PyTorch MLP into a flat list of operations (:class:`Dense` and :class:`Activation`).

torch.fx traces the module, so functional calls (``torch.relu``, ``F.sigmoid``, ``F.gelu``,
``x.relu()``) are captured as well as modules (the activations and how torch spells them are in
``ml2sc.activations``); where tracing is impossible, an ``nn.Sequential`` (also a
TorchScript one) is walked child by child. Anything outside the supported set is refused
with an error that names the layer.
"""

from __future__ import annotations

import importlib
import operator
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    """The model file is missing, unreadable or not a model ml2sc reads; the message says why."""


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


MAGIC_ZIP = b"PK\x03\x04"  # torch.save and torch.jit.save
MAGIC_COMPRESSED = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18")  # joblib
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a pre-1.6 torch.save file
ARCH_HELP = "save with torch.save(model.state_dict()) and pass --arch module:Class"


def file_kind(path: Path) -> str:
    """What a model file is, from its first bytes (the extension only where bytes cannot tell):
    ``torch`` (zip), ``pickle`` (protocol 2+), ``compressed`` (joblib), ``onnx``, ``empty``, ``text``
    or ``unknown``."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "empty"
    if head.startswith(MAGIC_ZIP):
        return "torch"
    if head[0] == 0x80:
        return "pickle"
    if path.suffix.lower() == ".onnx" or head[0] == 0x08:  # ModelProto field 1 (ir_version), a varint
        return "onnx"
    if head.startswith(MAGIC_COMPRESSED):
        return "compressed"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown"
    return "text" if "\0" not in text else "unknown"


@contextmanager
def cwd_importable() -> Iterator[None]:
    """Make the current directory importable for the duration (the CLI run as a script lacks it)."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _explain(path: Path, exc: BaseException) -> ModelLoadError:
    """One line on why unpickling failed, with the fix where the cause is known."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    attr = re.search(r"Can't get attribute '([^']+)' on <module '([^']+)'", text)
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)  # `python -m pkg`: __main__'s repr names pkg.__main__
    if attr and attr[2] in ("__main__", getattr(spec, "name", "__main__")):  # pickled from a script
        return ModelLoadError(
            f"cannot load {path}: its class {attr[1]!r} was defined in the script that saved it (__main__), "
            f"which is not importable here; save its weights with torch.save(model.state_dict()) and "
            f"pass --arch module:Class naming a module that defines {attr[1]}, or move {attr[1]} into a "
            f"module and save again (an nn.Sequential can also go through torch.jit.save)"
        )
    if attr:
        return ModelLoadError(
            f"cannot load {path}: module {attr[2]!r} has no class {attr[1]!r} (renamed or removed since "
            "saving)"
        )
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return ModelLoadError(
            f"cannot load {path}: its class lives in module {exc.name!r}, which is not importable from here; "
            f"run from the folder that holds it, add that folder to PYTHONPATH, or {ARCH_HELP}"
        )
    return ModelLoadError(f"cannot load {path} as a model: {text}")


def _unpickle(path: Path, kind: str) -> Any:
    """A pickle / joblib file's object; a pre-1.6 ``torch.save`` file through torch."""
    import joblib

    try:
        with cwd_importable(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's version-mismatch warnings: the checks below suffice
            obj = joblib.load(path)
        if isinstance(obj, int) and obj == TORCH_LEGACY_MAGIC and kind == "pickle":
            return _torch_load(path)
        return obj
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one clear line
        raise _explain(path, exc) from None


def _torch_load(path: Path) -> Any:
    import torch

    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream, still supported here
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except Exception:  # noqa: BLE001 - not TorchScript; try a pickled module next
        pass
    try:
        with cwd_importable():
            return torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one clear line
        raise _explain(path, exc) from None


def load_model(path: str | Path, arch: Any = None) -> Any:
    """Load a model file: a whole module from ``torch.save(model)`` or ``torch.jit.save``; a state_dict
    with ``arch`` (see :func:`build_arch`); a fitted scikit-learn MLP from joblib or pickle; or an ONNX
    file (its ops, through ``ml2sc.onnx_import``). The kind is read from the file's first bytes.

    torch.save, joblib and pickle files are unpickled (``weights_only=False``), which can run code: load
    only trusted files. The current directory is importable while they load, so that classes defined
    in modules next to the user are found.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelLoadError(f"{path} is a folder, not a model file: pass the file itself")
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    kind = file_kind(path)
    if kind == "onnx":
        if arch is not None:
            raise ModelLoadError(f"--arch applies to a state_dict file; {path} is an ONNX model")
        from .onnx_import import load_onnx

        return load_onnx(path)
    if kind == "empty":
        raise ModelLoadError(f"cannot load {path}: the file is empty")
    if kind == "text":
        raise ModelLoadError(f"cannot load {path}: it is a text file, not a model file")
    if kind == "unknown":
        raise ModelLoadError(
            f"cannot load {path}: not a model file (expected torch.save / torch.jit.save, joblib, pickle "
            "or ONNX)"
        )
    model = _torch_load(path) if kind == "torch" else _unpickle(path, kind)
    return _checked(path, model, arch)


def _is_state_dict(obj: Any) -> bool:
    import torch

    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _checked(path: Path, model: Any, arch: Any) -> Any:
    """The loaded object as a model: a module, a state_dict loaded into ``arch``, or a sklearn MLP."""
    import torch

    from .sklearn_import import SUPPORTED as SKLEARN
    from .sklearn_import import is_sklearn

    if _is_state_dict(model):
        if arch is None:
            raise ModelLoadError(
                f"{path} holds a state_dict, not a whole module: pass --arch module:Class (arch= in the "
                "API) to name the class it belongs to, or save the whole module with torch.save(model) "
                "or torch.jit.save"
            )
        return load_state_dict(build_arch(arch), model, path)
    if arch is not None:
        if isinstance(model, torch.nn.Module) or is_sklearn(model):
            raise ModelLoadError(f"--arch applies to a state_dict file; {path} holds a whole model")
        raise ModelLoadError(
            f"--arch applies to a state_dict file; {path} holds {_a(type(model).__name__)}, not a "
            "state_dict (a training checkpoint? save checkpoint['state_dict'] on its own)"
        )
    if isinstance(model, torch.nn.Module):
        return model
    if is_sklearn(model):
        return model
    raise ModelLoadError(
        f"{path} holds {_a(type(model).__name__)}, not a model: save the whole module with "
        f"torch.save(model), or a state_dict on its own with --arch (a training checkpoint's "
        f"checkpoint['state_dict']), or a fitted scikit-learn {' / '.join(SKLEARN)}"
    )


def _a(noun: str) -> str:
    """The noun with its indefinite article ("an int", "a dict")."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def build_arch(arch: Any) -> Any:
    """The module a state_dict loads into: ``"module:Class"`` (imported with the current directory
    importable, built with no arguments), a module class, or a built ``nn.Module``."""
    import torch

    if isinstance(arch, torch.nn.Module):
        return arch
    if isinstance(arch, str):
        module_name, _, class_name = arch.partition(":")
        if not module_name or not class_name:
            raise ModelLoadError(f"--arch {arch!r}: expected module:Class, e.g. mynets:Net")
        try:
            with cwd_importable():
                module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelLoadError(
                f"--arch {arch}: cannot import module {module_name!r} ({exc}); run from the folder that "
                "holds it or add that folder to PYTHONPATH"
            ) from None
        try:
            cls = operator.attrgetter(class_name)(module)
        except AttributeError:
            raise ModelLoadError(
                f"--arch {arch}: module {module_name!r} has no class {class_name!r}"
            ) from None
    elif isinstance(arch, type):
        cls = arch
    else:
        raise TypeError(
            f"arch must be 'module:Class', a module class or an nn.Module, not {type(arch).__name__}"
        )
    name = getattr(cls, "__name__", str(cls))
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ModelLoadError(f"arch {name!r} is not a torch.nn.Module class")
    try:
        return cls()
    except TypeError as exc:
        raise ModelLoadError(
            f"arch {name}() needs arguments ({exc}); give its arguments defaults, or pass a built "
            "module (arch=Net(...)) through the Python API"
        ) from None


def load_state_dict(module: Any, state: dict[str, Any], path: Path | str = "state_dict") -> Any:
    """``module`` with ``state`` loaded (strict); mismatched keys or shapes named in one line."""
    have = module.state_dict()
    missing = [k for k in have if k not in state]
    unexpected = [k for k in state if k not in have]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in have.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("other shapes", shapes)):
        if keys:
            problems.append(f"{label}: {', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''}")
    if problems:
        raise ModelLoadError(
            f"{path} does not fit {type(module).__name__} ({'; '.join(problems)}): is --arch the class "
            "it was saved from?"
        )
    module.load_state_dict(state, strict=True)
    return module.eval()


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
    """The model's computation as a list of ops, first to last: a ``torch.nn.Module``, a fitted
    scikit-learn MLP, or ops already read (an ONNX file's)."""
    import torch

    from .sklearn_import import is_sklearn, sklearn_ops

    if isinstance(model, list) and all(isinstance(op, (Dense, Activation, BatchNorm)) for op in model):
        ops = fold_batchnorm(model)
    elif is_sklearn(model):
        ops = sklearn_ops(model)
    elif type(model) is torch.nn.Linear:  # a bare layer: fx cannot trace a leaf module on its own
        ops = _sequential_ops(torch.nn.Sequential(model))
    elif isinstance(model, torch.jit.ScriptModule):
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
