"""Read a PyTorch model into a flat list of operations (:class:`Dense`, :class:`Activation`,
:class:`Conv`, :class:`Pool`, :class:`Reshape`).

torch.fx traces the module, so functional calls (``torch.relu``, ``F.sigmoid``, ``F.gelu``,
``x.relu()``, ``F.max_pool2d``, ``x.view(x.size(0), -1)``) are captured as well as modules (the
activations and how torch spells them are in ``ml2sc.activations``); where tracing is impossible, an
``nn.Sequential`` (also a TorchScript one, scripted or traced) is walked child by child. Anything
outside the supported set is refused with an error that names the layer.
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
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations

if TYPE_CHECKING:
    from .shapes import Shapes

SUPPORTED = (
    "Linear",
    *activations.torch_labels(),
    "Conv1d / Conv2d (groups=1, dilation=1, zero padding)",
    "MaxPool1d / MaxPool2d",
    "AvgPool1d / AvgPool2d",
    "BatchNorm1d (after a Linear or Conv1d)",
    "BatchNorm2d (after a Conv2d)",
    "Flatten",
    "Unflatten",
    "Identity",
    "Dropout (eval)",
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
    """Eval-mode batch norm: y = (x - mean) * scale + shift per feature or channel; folded into the
    Linear or convolution before it. ``kind`` is the layer's class (``BatchNorm1d``, ``BatchNorm2d``,
    ONNX ``BatchNormalization``): it decides which layer it may follow."""

    name: str
    mean: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    kind: str = "BatchNorm1d"


@dataclass(frozen=True, eq=False)
class Conv:
    """A 2-D convolution (groups=1, dilation=1, zero padding) over a (C, H, W) sample; a Conv1d is one
    with ``kernel height 1`` over (C, 1, L). ``weight`` has shape (C_out, C_in, kh, kw)."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)  # rows, columns added on both sides
    dims: int = 2  # 1 for Conv1d: the shape ml2sc reports and refuses by

    @property
    def c_out(self) -> int:
        return int(self.weight.shape[0])

    @property
    def c_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weight.shape[2]), int(self.weight.shape[3])


@dataclass(frozen=True)
class Pool:
    """Max or average pooling over (C, H, W) (a 1-D pool has kernel height 1). Average pooling counts
    padding as zeros (torch's default ``count_include_pad=True``); max pooling ignores it."""

    name: str
    kind: str  # "max" | "avg"
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    dims: int = 2


@dataclass(frozen=True)
class Reshape:
    """A change of shape that moves no number: ``shape`` is the per-sample shape after it, (C, H, W),
    (C, L) or (n,) (a flatten); the values stay in row-major (C, H, W) order."""

    name: str
    shape: tuple[int, ...]


Op = Dense | Activation | BatchNorm | Conv | Pool | Reshape


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
    bias = _bias(module, weight.shape[0])
    return Dense(name=name, weight=weight, bias=bias)


def _bias(module: Any, n_out: int) -> np.ndarray:
    """The layer's bias as float64, zeros where it has none (a traced layer lacks the attribute)."""
    bias = getattr(module, "bias", None)
    return np.zeros(n_out) if bias is None else bias.detach().cpu().double().numpy().copy()


def _batchnorm(name: str, module: Any, kind: str = "BatchNorm1d") -> BatchNorm:
    settings = _settings(name, module, kind, "eps")
    mean, var = getattr(module, "running_mean", None), getattr(module, "running_var", None)
    if mean is None or var is None:
        raise UnsupportedModel(f"{kind} {name!r} has no running statistics (track_running_stats=False)")
    var = var.detach().cpu().double().numpy()
    check_variance(f"{kind} {name!r}", var, float(settings.eps))
    scale = 1.0 / np.sqrt(var + float(settings.eps))
    shift = np.zeros_like(scale)
    weight = getattr(module, "weight", None)  # None: affine=False
    if weight is not None:
        scale = scale * weight.detach().cpu().double().numpy()
        shift = module.bias.detach().cpu().double().numpy().copy()
    return BatchNorm(name, mean.detach().cpu().double().numpy().copy(), scale, shift, kind)


def check_variance(label: str, var: np.ndarray, eps: float) -> None:
    """A batch norm divides by sqrt(var + eps): a variance that makes it zero, negative or not a number
    (a corrupt or hand-edited file) is refused here, not folded into NaN weights."""
    bad = np.flatnonzero(~(np.asarray(var, dtype=np.float64) + eps > 0))
    if bad.size:
        i = int(bad[0])
        raise UnsupportedModel(
            f"{label} has running_var[{i}] = {float(var[i]):g} with eps {eps:g}: var + eps must be positive"
        )


def _check_softmax_dim(name: str, dim: Any) -> None:
    if dim not in (None, -1, 1):
        raise UnsupportedModel(
            f"softmax {name!r} over dim={dim}: only the feature dimension (-1 or 1) is supported"
        )


def _unsupported(name: str, kind: str) -> UnsupportedModel:
    return UnsupportedModel(f"layer {name!r} ({kind}) is not supported; supported: {', '.join(SUPPORTED)}")


# torch.jit.trace keeps a layer's weights but not its settings: they are the constant arguments of the
# one aten call its forward makes (the names are the call's parameters, in order)
_ATEN_ARGS = {
    "aten::_convolution": "input weight bias stride padding dilation transposed output_padding groups",
    "aten::_convolution_mode": "input weight bias stride padding dilation groups",
    "aten::max_pool1d": "input kernel_size stride padding dilation ceil_mode",
    "aten::max_pool2d": "input kernel_size stride padding dilation ceil_mode",
    "aten::max_pool1d_with_indices": "input kernel_size stride padding dilation ceil_mode",
    "aten::max_pool2d_with_indices": "input kernel_size stride padding dilation ceil_mode",
    "aten::avg_pool1d": "input kernel_size stride padding ceil_mode count_include_pad",
    "aten::avg_pool2d": "input kernel_size stride padding ceil_mode count_include_pad divisor_override",
    "aten::flatten": "input start_dim end_dim",
    "aten::unflatten": "input dim unflattened_size",
    "aten::batch_norm": "input weight bias running_mean running_var training momentum eps",
    "aten::leaky_relu": "input negative_slope",
    "aten::softmax": "input dim dtype",
    "aten::gelu": "input approximate",
}
_ACTIVATION_SETTINGS = {"LeakyReLU": "negative_slope", "Softmax": "dim", "GELU": "approximate"}


def _settings(name: str, module: Any, kind: str, key: str) -> Any:
    """Where a layer's settings (``stride``, ``kernel_size``, ...) are read: the module itself (Python
    or scripted), or for a traced TorchScript layer, which lacks them, its one aten call's arguments."""
    if hasattr(module, key):
        return module
    graph = getattr(module, "graph", None)
    if graph is None:
        raise UnsupportedModel(f"{kind} {name!r} has no {key!r} setting; is it a torch.nn.{kind}?")
    calls = [node for node in graph.nodes() if node.kind().startswith("aten::")]
    found = ", ".join(node.kind() for node in calls) or "no aten call"
    if len(calls) != 1 or calls[0].kind() not in _ATEN_ARGS:
        why = " (a padding_mode other than 'zeros')" if "aten::pad" in found and "Conv" in kind else ""
        raise UnsupportedModel(f"traced {kind} {name!r} computes {found}{why}; ml2sc reads one plain {kind}")
    call = calls[0]
    values = {
        "groups": 1,
        "padding_mode": "zeros",  # any other mode traces as aten::pad before the convolution: refused above
        "return_indices": call.kind().endswith("_with_indices"),
        "divisor_override": None,
        "count_include_pad": True,
    }
    values.update(zip(_ATEN_ARGS[call.kind()].split(), (_traced_constant(v) for v in call.inputs())))
    return SimpleNamespace(**values)


def _traced_constant(value: Any) -> Any:
    """A traced call's argument: a constant or a list of constants; a tensor (the input, a weight) is
    None here, read from the module instead."""
    node = value.node()
    if node.kind() == "prim::Constant":
        constant = value.toIValue()
        return None if hasattr(constant, "shape") else constant
    if node.kind() == "prim::ListConstruct":
        return [_traced_constant(v) for v in node.inputs()]
    return None


def _ints(label: str, what: str, value: Any, dims: int) -> tuple[int, ...]:
    """An int or ``dims`` ints (torch's ``_single`` / ``_pair``) as a tuple of ``dims`` ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * dims
    if (
        isinstance(value, (tuple, list))
        and len(value) == dims
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        return tuple(int(v) for v in value)
    want = "an int" if dims == 1 else f"an int or {dims} ints"
    raise UnsupportedModel(f"{label} has {what}={value!r}: expected {want}")


def _as_2d(values: tuple[int, ...], fill: int) -> tuple[int, int]:
    """A 1-D setting (k,) as the 2-D one over a (C, 1, L) sample: (fill, k)."""
    return (fill, values[0]) if len(values) == 1 else (values[0], values[1])


def _conv(name: str, module: Any, kind: str) -> Conv:
    """A Conv1d / Conv2d module (groups=1, dilation=1, zero padding); a Conv1d gets kernel height 1."""
    label = f"{kind} {name!r}"
    dims = 1 if kind == "Conv1d" else 2
    settings = _settings(name, module, kind, "stride")
    if settings.groups != 1:
        raise UnsupportedModel(f"{label} has groups={settings.groups}: only groups=1 is supported")
    if any(d != 1 for d in _ints(label, "dilation", settings.dilation, dims)):
        raise UnsupportedModel(f"{label} has dilation={settings.dilation}: only dilation 1 is supported")
    if settings.padding_mode != "zeros":
        raise UnsupportedModel(
            f"{label} has padding_mode={settings.padding_mode!r}: only 'zeros' is supported"
        )
    weight = module.weight.detach().cpu().double().numpy().copy()
    if weight.ndim != dims + 2:
        raise UnsupportedModel(f"{label} has a weight of shape {weight.shape}; a {kind} has {dims + 2} dims")
    stride = _ints(label, "stride", settings.stride, dims)
    padding = _conv_padding(label, settings.padding, tuple(weight.shape[2:]), stride)
    bias = _bias(module, weight.shape[0])
    if dims == 1:
        weight = weight[:, :, None, :]
    return Conv(name, weight, bias, _as_2d(stride, 1), _as_2d(padding, 0), dims)


def _conv_padding(
    label: str, padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...]
) -> tuple[int, ...]:
    """Padding as ints: 'valid' is none; 'same' only where it pads both sides alike (stride 1, odd kernel)."""
    if padding == "valid":
        return (0,) * len(kernel)
    if padding == "same":
        if any(s != 1 for s in stride) or any(k % 2 == 0 for k in kernel):
            raise UnsupportedModel(
                f"{label} has padding='same' with kernel {kernel} and stride {stride}: that pads one side "
                "more than the other; only an odd kernel with stride 1 (the same padding on both sides) "
                "is supported, or give the padding as numbers"
            )
        return tuple(k // 2 for k in kernel)
    if isinstance(padding, str):
        raise UnsupportedModel(f"{label} has padding={padding!r}: expected 'valid', 'same' or numbers")
    return _ints(label, "padding", padding, len(kernel))


def _pool(name: str, kind: str, settings: Any) -> Pool:
    """A max / average pool, module or function (floor mode; average pools count the padding)."""
    label = f"{kind} {name!r}"
    dims = 1 if kind.endswith("1d") else 2
    pool_kind = "max" if kind.startswith("Max") else "avg"
    kernel = _ints(label, "kernel_size", settings.kernel_size, dims)
    given = settings.stride  # None (or [] when traced): the kernel size
    stride = kernel if given is None or given == [] else _ints(label, "stride", given, dims)
    padding = _ints(label, "padding", settings.padding, dims)
    if settings.ceil_mode:
        raise UnsupportedModel(f"{label} has ceil_mode=True: only ceil_mode=False is supported")
    if pool_kind == "max":
        if any(d != 1 for d in _ints(label, "dilation", settings.dilation, dims)):
            raise UnsupportedModel(f"{label} has dilation={settings.dilation}: only dilation 1 is supported")
        if settings.return_indices:
            raise UnsupportedModel(f"{label} has return_indices=True: only the pooled values are supported")
    else:
        if getattr(settings, "divisor_override", None) is not None:
            raise UnsupportedModel(
                f"{label} has divisor_override={settings.divisor_override}: only None is supported"
            )
        if not settings.count_include_pad and any(padding):
            raise UnsupportedModel(
                f"{label} has count_include_pad=False with padding {settings.padding}: ml2sc divides by the "
                "whole kernel, padding included (count_include_pad=True)"
            )
    return Pool(name, pool_kind, _as_2d(kernel, 1), _as_2d(stride, 1), _as_2d(padding, 0), dims)


def _flatten(name: str, kind: str, start_dim: Any, end_dim: Any) -> Reshape:
    """Flatten(1, -1): each sample to one row. Any other range keeps or merges dims ml2sc cannot."""
    if (start_dim, end_dim) != (1, -1):
        where = "with the batch dimension" if start_dim == 0 else f"from dim {start_dim} to {end_dim}"
        raise UnsupportedModel(
            f"{kind} {name!r} flattens {where}; only flatten(x, 1) (each sample to one row) is supported"
        )
    return Reshape(name, ())


def _unflatten(name: str, module: Any) -> Reshape:
    settings = _settings(name, module, "Unflatten", "dim")
    size = settings.unflattened_size
    if settings.dim != 1 or not all(isinstance(d, int) for d in size):
        raise UnsupportedModel(
            f"Unflatten {name!r} with dim={settings.dim}, sizes {size}: only nn.Unflatten(1, (C, H, W)) "
            "is supported"
        )
    return Reshape(name, tuple(int(d) for d in size))


_CONVS = ("Conv1d", "Conv2d")
_POOLS = ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d")
_NO_OP_MODULES = ("Identity", "Dropout", "Dropout1d", "Dropout2d")


def _module_ops(name: str, module: Any, kind: str) -> list[Op]:
    """The ops for one leaf module, by its class name (TorchScript keeps ``original_name``)."""
    if kind == "Linear":
        return [_dense(name, module)]
    key = _ACTIVATION_SETTINGS.get(kind)
    settings = _settings(name, module, kind, key) if key else module
    record = activations.for_module(kind, settings)
    if record is not None:
        if record.last_only:
            _check_softmax_dim(name, settings.dim)
        params = (float(settings.negative_slope),) if record.has_slope else ()
        return [Activation(name, record.name, params)]
    if kind == "GELU":
        raise UnsupportedModel(
            f"GELU {name!r} with approximate={getattr(settings, 'approximate', '?')!r}: "
            "only 'none' and 'tanh' are supported"
        )
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        return [_batchnorm(name, module, kind)]
    if kind in _CONVS:
        return [_conv(name, module, kind)]
    if kind in _POOLS:
        return [_pool(name, kind, _settings(name, module, kind, "kernel_size"))]
    if kind == "Flatten":
        settings = _settings(name, module, kind, "start_dim")
        return [_flatten(name, kind, settings.start_dim, settings.end_dim)]
    if kind == "Unflatten":
        return [_unflatten(name, module)]
    if kind in _NO_OP_MODULES:
        return []
    raise _unsupported(name, kind)


_PASS_METHODS = {"contiguous"}
_RESHAPE_METHODS = {"view", "reshape"}
PASS = "pass"  # a function that changes nothing ml2sc computes (dropout in eval)
# the arguments of the pooling functions after the input, in order, and their defaults
_POOL_ARGS = {
    "MaxPool": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "AvgPool1d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
}
_POOL_DEFAULTS = {
    "stride": None,
    "padding": 0,
    "dilation": 1,
    "ceil_mode": False,
    "return_indices": False,
    "count_include_pad": True,
    "divisor_override": None,
}


@lru_cache(maxsize=1)
def _function_table() -> dict[Callable[..., Any], tuple[activations.ActivationKind, ...] | str]:
    """torch function -> the activation records it may be, or ``PASS``."""
    import torch.nn.functional as F

    table: dict[Callable[..., Any], tuple[activations.ActivationKind, ...] | str] = {}
    table.update(activations.function_table())
    for passthrough in (F.dropout, F.dropout1d, F.dropout2d):
        table[passthrough] = PASS
    return table


@lru_cache(maxsize=1)
def _pool_functions() -> dict[Callable[..., Any], str]:
    """torch pooling function -> the pool module it computes as."""
    import torch
    import torch.nn.functional as F

    return {
        F.max_pool1d: "MaxPool1d",
        F.max_pool2d: "MaxPool2d",
        torch.max_pool1d: "MaxPool1d",
        torch.max_pool2d: "MaxPool2d",
        F.avg_pool1d: "AvgPool1d",
        F.avg_pool2d: "AvgPool2d",
    }


def _fx_ops(model: Any) -> list[Op]:
    import torch
    import torch.fx

    graph_module = torch.fx.symbolic_trace(model)
    modules = dict(graph_module.named_modules())
    ops: list[Op] = []
    current = None
    sizes: set[Any] = set()  # x.size(0) nodes: the batch size a view / reshape keeps
    chain: set[Any] = set()  # the tensors so far; each has the batch first
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise UnsupportedModel("the model takes more than one input; ml2sc needs one")
            current = node
            chain.add(node)
            continue
        if node.op == "output":
            if node.args[0] is not current:
                raise UnsupportedModel("the model's output is not the end of its layer chain")
            break
        if node.op == "get_attr":
            raise UnsupportedModel(
                f"node {node.name!r} reads the tensor attribute {node.target!r}: layers must be modules "
                "(nn.Linear, nn.Conv2d, ...), not functions of stored tensors such as F.conv2d(x, self.w)"
            )
        reshaping = _is_reshape(node)
        if node.op == "call_method" and node.target == "size":
            _check_size(node, chain)
            sizes.add(node)
            continue
        inputs = list(node.all_input_nodes)
        if inputs[:1] != [current] or any(not (reshaping and a in sizes) for a in inputs[1:]):
            raise UnsupportedModel(
                f"node {node.name!r} ({node.target}) is not part of a single chain of layers "
                "(branches, residual connections and several inputs are not supported)"
            )
        if node.op == "call_module":
            module = modules[node.target]
            ops += _module_ops(str(node.target), module, type(module).__name__)
        elif node.op == "call_function":
            ops += _function_ops(node, sizes)
        elif node.op == "call_method":
            record = activations.for_method(str(node.target))
            if record is not None:
                ops.append(_functional(node, record))
            elif reshaping:
                ops.append(_view(node, sizes))
            elif node.target == "flatten":
                ops.append(_flatten_call(node))
            elif node.target not in _PASS_METHODS:
                raise _unsupported(node.name, f"tensor.{node.target}()")
        current = node
        chain.add(node)
    return ops


def _is_reshape(node: Any) -> bool:
    """x.view(...), x.reshape(...) or torch.reshape(x, ...): the nodes that may read x.size(0)."""
    import torch

    if node.op == "call_method":
        return node.target in _RESHAPE_METHODS
    return node.op == "call_function" and node.target is torch.reshape


def _check_size(node: Any, chain: set[Any]) -> None:
    """Only ``x.size(0)`` of a tensor of the chain (the batch size), read by a view / reshape, is allowed."""
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    if node.args[0] not in chain or dim != 0 or not all(_is_reshape(user) for user in node.users):
        raise UnsupportedModel(
            f"node {node.name!r} reads the tensor's size: only x.view(x.size(0), ...) and "
            "x.reshape(x.size(0), ...) are supported"
        )


def _function_ops(node: Any, sizes: set[Any]) -> list[Op]:
    """The ops for one call_function node: an activation, a pool, a flatten or reshape, or nothing."""
    import torch

    target = node.target
    pool = _pool_functions().get(target)
    if pool is not None:
        return [_pool(node.name, pool, _pool_call(node, pool))]
    if target is torch.flatten:
        return [_flatten_call(node)]
    if target is torch.reshape:
        return [_view(node, sizes)]
    found = _function_table().get(target)
    if target is operator.getitem or found is None:
        kind = getattr(target, "__name__", str(target))
        if target is getattr:
            kind = f"getattr(x, {node.args[1]!r}): write x.size(0) for the batch size"
        raise _unsupported(node.name, kind)
    if found == PASS:
        return []
    record = activations.choose(found, dict(node.kwargs))
    if record is None:
        raise _unsupported(node.name, f"{target.__name__}({dict(node.kwargs)})")
    return [_functional(node, record)]


def _constant_args(node: Any, values: dict[str, Any]) -> None:
    import torch.fx

    for key, value in values.items():
        if isinstance(value, torch.fx.Node) or (
            isinstance(value, (tuple, list)) and any(isinstance(v, torch.fx.Node) for v in value)
        ):
            raise UnsupportedModel(
                f"node {node.name!r} computes its {key} in the graph; ml2sc needs constants"
            )


def _pool_call(node: Any, kind: str) -> SimpleNamespace:
    """F.max_pool2d(x, 2, stride=...) etc.: the arguments by name, with torch's defaults."""
    names = _POOL_ARGS[kind if kind.startswith("Avg") else "MaxPool"]
    extra = node.args[1:]
    unknown = [key for key in node.kwargs if key not in names]
    if len(extra) > len(names) or unknown:
        raise _unsupported(node.name, f"{kind} with arguments {extra} {dict(node.kwargs)}")
    values = {**_POOL_DEFAULTS, **dict(zip(names, extra)), **node.kwargs}
    if "kernel_size" not in values:
        raise _unsupported(node.name, f"{kind} without a kernel_size")
    _constant_args(node, values)
    return SimpleNamespace(**values)


def _flatten_call(node: Any) -> Reshape:
    """torch.flatten(x, 1) / x.flatten(1)."""
    start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
    _constant_args(node, {"start_dim": start, "end_dim": end})
    return _flatten(node.name, "flatten", start, end)


def _view(node: Any, sizes: set[Any]) -> Reshape:
    """x.view(-1, C, H, W), x.view(x.size(0), -1), x.reshape(-1, n), torch.reshape(x, (...)): the shape
    of each sample; the first dimension must keep the batch (-1 or x.size(0))."""
    args = node.args[1:]
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    elif not args:
        args = tuple(node.kwargs.get("shape", node.kwargs.get("size", ())))
    if not args:
        raise _unsupported(node.name, f"{node.target} without a shape")
    first, rest = args[0], tuple(args[1:])
    shown = tuple("x.size(0)" if d in sizes else d for d in args)
    if not (first == -1 and isinstance(first, int)) and first not in sizes:
        raise UnsupportedModel(
            f"{node.name!r} reshapes to {shown}: the first dimension must keep the batch (-1 or x.size(0))"
        )
    if not rest or not all(isinstance(d, int) and not isinstance(d, bool) for d in rest):
        raise UnsupportedModel(
            f"{node.name!r} reshapes to {shown}: ml2sc needs the batch first, then constant per-sample sizes"
        )
    if first == -1 and -1 in rest:
        raise UnsupportedModel(f"{node.name!r} reshapes to {shown}: only one dimension may be -1")
    return Reshape(node.name, () if rest == (-1,) else rest)  # (n,) becomes () once n is checked


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


_OP_TYPES = (Dense, Activation, BatchNorm, Conv, Pool, Reshape)


def capture(model: Any) -> list[Op]:
    """The model's computation as a list of ops, first to last: a ``torch.nn.Module``, a fitted
    scikit-learn MLP, or ops already read (an ONNX file's)."""
    import torch

    from .sklearn_import import is_sklearn, sklearn_ops

    if isinstance(model, list) and all(isinstance(op, _OP_TYPES) for op in model):
        ops = list(model)
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
    return finish_ops(ops)


def finish_ops(ops: list[Op]) -> list[Op]:
    """The op list ml2sc plans from: batch norms folded, shapes checked, and the reshapes that move
    nothing dropped (a flatten of a row that is already flat, as MLPs start with; the first of two
    reshapes in a row). What is left: ``Reshape(name, ())`` for each flatten, and the (C, H, W) /
    (C, L) shape where a flat row becomes an image. Running it again changes nothing."""
    ops = fold_batchnorm(ops)
    start = next((i for i, op in enumerate(ops) if not isinstance(op, (Activation, BatchNorm, Reshape))), 0)
    ops = [op for i, op in enumerate(ops) if not (i < start and isinstance(op, Reshape) and not op.shape)]
    shapes = _check_shapes(ops)
    out: list[Op] = []
    inputs: list[tuple[int, ...]] = []  # the shape each kept op reads; () while still unknown
    before: tuple[int, ...] = ()
    for op, after in zip(ops, shapes.after):
        if isinstance(op, Reshape):
            if out and isinstance(out[-1], Reshape) and (inputs[-1] or len(after) == 1):
                out.pop()  # its values were never read before this reshape
                before = inputs.pop()
            if len(after) == 1 and len(before) <= 1:  # a flat row stays a flat row
                before = after
                continue
            if len(op.shape) == 1:  # (n,): n matched the sample's size above
                op = Reshape(op.name, ())
        out.append(op)
        inputs.append(before)
        before = after
    return out


def fold_batchnorm(ops: list[Op]) -> list[Op]:
    """Fold each batch norm into the layer right before it: a Linear (BatchNorm1d), a Conv1d
    (BatchNorm1d) or a Conv2d (BatchNorm2d), per output feature / channel:
    W' = diag(s) W, b' = s (b - mean) + shift."""
    folded: list[Op] = []
    for op in ops:
        if not isinstance(op, BatchNorm):
            folded.append(op)
            continue
        before = folded[-1] if folded else None
        if op.kind == "BatchNorm2d":
            fits, want = isinstance(before, Conv) and before.dims == 2, "a Conv2d layer"
        elif op.kind == "BatchNorm1d":
            fits = isinstance(before, Dense) or (isinstance(before, Conv) and before.dims == 1)
            want = "a Linear layer (or a Conv1d)"
        else:  # ONNX BatchNormalization
            fits, want = isinstance(before, (Dense, Conv)), "a Gemm, MatMul or Conv"
        if not fits or before is None:
            raise UnsupportedModel(
                f"{op.kind} {op.name!r} must follow {want} directly (it is folded into it)"
            )
        n_out = before.n_out if isinstance(before, Dense) else before.c_out
        if len(op.scale) != n_out:
            raise UnsupportedModel(
                f"{op.kind} {op.name!r} has {len(op.scale)} features; {before.name!r} gives {n_out}"
            )
        bias = (before.bias - op.mean) * op.scale + op.shift
        name = f"{before.name}+{op.name}"
        if isinstance(before, Dense):
            folded[-1] = Dense(name=name, weight=before.weight * op.scale[:, None], bias=bias)
        else:
            weight = before.weight * op.scale[:, None, None, None]
            folded[-1] = Conv(name, weight, bias, before.stride, before.padding, before.dims)
    return folded


def _check_shapes(ops: list[Op]) -> Shapes:
    """Every op's shape (``ml2sc.shapes``); a pure MLP keeps its short messages."""
    from .shapes import infer_shapes

    if not any(isinstance(op, (Dense, Conv)) for op in ops):
        spatial = any(isinstance(op, Pool) for op in ops)
        raise UnsupportedModel(f"the model has no Linear {'or Conv ' if spatial else ''}layer")
    if not any(isinstance(op, (Conv, Pool, Reshape)) for op in ops):
        denses = [op for op in ops if isinstance(op, Dense)]
        for before, after in zip(denses, denses[1:]):
            if before.n_out != after.n_in:
                raise UnsupportedModel(
                    f"layer {after.name!r} expects {after.n_in} inputs but {before.name!r} gives "
                    f"{before.n_out}"
                )
    return infer_shapes(ops)
