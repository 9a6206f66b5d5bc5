"""Read an ONNX file into the same op list :func:`ml2sc.capture.capture` gives for the torch model.

Files from ``torch.onnx.export`` (the dynamo exporter) and from ``skl2onnx`` (``MLPClassifier``,
``MLPRegressor``) are a single chain of layers: Gemm, or MatMul then Add of a bias; Conv, MaxPool,
AveragePool (1-D or 2-D, padding the same on both sides); Relu, LeakyRelu, Sigmoid, Tanh, Gelu, SiLU
(Sigmoid then Mul, as torch exports it) and a last Softmax; BatchNormalization after a layer (folded
into it); Flatten(axis=1) and Reshape that keep the batch first (a :class:`Reshape`). Identity, Cast
and Dropout change nothing ml2sc computes. A 3-D or 4-D input (N, C, L) / (N, C, H, W) becomes a
``Reshape("input", (C, L) / (C, H, W))`` first, since ml2sc contracts take flat rows. What follows
the last layer to turn its outputs into a class (ArgMax, skl2onnx's ArrayFeatureExtractor / ZipMap /
Cast / Reshape, and the binary ``[1 - p, p]`` probabilities) is read as the class output ml2sc's
head computes. Anything else is refused with its op type and node name: a wrong answer must never look right.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .capture import (
    Activation,
    BatchNorm,
    Conv,
    Dense,
    ModelLoadError,
    Op,
    Pool,
    Reshape,
    UnsupportedModel,
    check_variance,
    finish_ops,
)

SUPPORTED_OPS = (
    "Gemm",
    "MatMul+Add",
    "Relu",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "Gelu",
    "Sigmoid*x (SiLU)",
    "Softmax (last layer)",
    "Conv (group=1, dilations 1)",
    "MaxPool",
    "AveragePool",
    "BatchNormalization (after a layer)",
    "Identity",
    "Cast",
    "Flatten",
    "Reshape",
    "Dropout",
)
_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
_NO_OPS = ("Identity", "Dropout", "Cast")
_SHAPE_OPS = ("Flatten", "Reshape")
# after the last layer: how exporters turn outputs into labels and probabilities
_HEAD_OPS = (
    "ArgMax",
    "ArrayFeatureExtractor",
    "ZipMap",
    "Cast",
    "Reshape",
    "Identity",
    "Flatten",
    "Squeeze",
    "Sub",
    "Concat",
)
_FLOAT_TYPES = (1, 11)  # TensorProto.FLOAT, DOUBLE


@dataclass(frozen=True)
class _Graph:
    """The parts of an ONNX graph the walk needs: nodes, constants and who reads each tensor."""

    nodes: tuple[Any, ...]
    constants: dict[str, np.ndarray]
    consumers: dict[str, list[Any]]
    outputs: frozenset[str]
    batch: int | None = None  # the input's batch size where the file fixes it


def load_onnx(path: str | Path) -> list[Op]:
    """The ops of the model in the ONNX file ``path`` (external ``.data`` weights are read from its
    folder)."""
    model = _read(Path(path))
    graph = _index(model.graph)
    current, dims = _single_input(model.graph, graph)
    current_input = current
    graph = replace(graph, batch=dims[0] if dims and dims[0] else None)
    visited: set[int] = set()
    ops: list[Op] = _input_reshape(current, dims)
    while True:
        readers = [n for n in graph.consumers.get(current, []) if id(n) not in visited]
        if not readers:
            if current not in graph.outputs:
                raise UnsupportedModel(f"tensor {current!r} ends the layer chain but is no graph output")
            break
        if all(n.op_type in _HEAD_OPS for n in readers) and not _continues(readers):
            _check_head(graph, current, readers, ops, visited)
            break
        current = _step(graph, current, readers, ops, visited)
    left = [n for n in graph.nodes if id(n) not in visited and n.op_type != "Constant"]
    if left:
        raise UnsupportedModel(
            f"{_label(left[0])} is not part of a single chain of layers from the model's one input "
            "(branches, residual connections and several inputs are not supported)"
        )
    ops = finish_ops(ops)
    _check_declared_width(current_input, dims, ops)
    return ops


def _check_declared_width(name: str, dims: list[int | None] | None, ops: list[Op]) -> None:
    """The file's declared per-sample input size must be the one the layers read: a Reshape that
    folds two samples of a row into the batch (``(N, 72)`` read as ``(-1, 1, 6, 6)``) would otherwise
    make a 36-input contract of a 72-input model."""
    from .shapes import infer_shapes

    if not dims or len(dims) < 2 or any(d is None for d in dims[1:]):
        return
    declared = int(np.prod(dims[1:]))
    n_inputs = infer_shapes(ops).n_inputs
    if declared != n_inputs:
        raise UnsupportedModel(
            f"input {name!r} is declared with {declared} values per sample, but the layers read {n_inputs}: "
            "a Reshape that changes the batch size is not supported"
        )


def _read(path: Path) -> Any:
    """The parsed model; a missing, corrupt or incomplete file is one line naming it."""
    import onnx

    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=True)
    except Exception as exc:  # noqa: BLE001 - protobuf, missing .data, ...: one clear line
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"cannot read {path} as an ONNX model: {detail}") from None
    if not model.HasField("graph") or not model.graph.node:
        raise ModelLoadError(f"cannot read {path} as an ONNX model: it holds no graph")
    return model


def _index(graph: Any) -> _Graph:
    from onnx import numpy_helper

    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            constants[node.output[0]] = _constant_value(node)
            continue
        for name in node.input:
            if name and name not in constants:
                consumers.setdefault(name, []).append(node)
    return _Graph(tuple(graph.node), constants, consumers, frozenset(o.name for o in graph.output))


def _constant_value(node: Any) -> np.ndarray:
    from onnx import helper, numpy_helper

    attribute = node.attribute[0]
    value = helper.get_attribute_value(attribute)
    return numpy_helper.to_array(value) if attribute.name == "value" else np.asarray(value)


def _single_input(proto: Any, graph: _Graph) -> tuple[str, list[int | None] | None]:
    """The name of the one float input (old files also list initializers as inputs) and its shape
    (None for a symbolic size; no list where the file gives no shape)."""
    inputs = [i for i in proto.input if i.name not in graph.constants]
    if len(inputs) != 1:
        names = ", ".join(repr(i.name) for i in inputs) or "none"
        raise UnsupportedModel(f"the model takes {len(inputs)} inputs ({names}); ml2sc needs one")
    tensor = inputs[0].type.tensor_type if inputs[0].type.HasField("tensor_type") else None
    if tensor is None or tensor.elem_type not in _FLOAT_TYPES:
        raise UnsupportedModel(f"input {inputs[0].name!r} is not a float tensor")
    if not tensor.HasField("shape"):
        return inputs[0].name, None
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim]
    return inputs[0].name, dims


def _input_reshape(name: str, dims: list[int | None] | None) -> list[Op]:
    """An (N, C, L) / (N, C, H, W) input starts with ``Reshape("input", (C, L) / (C, H, W))``: ml2sc
    contracts take each sample as one flat row, in the same row-major order."""
    if dims is None or len(dims) not in (3, 4):
        return []
    if any(d is None for d in dims[1:]):
        shown = tuple(d if d is not None else "?" for d in dims)
        raise UnsupportedModel(
            f"input {name!r} has shape {shown}: ml2sc needs fixed channel and spatial sizes (only the "
            "batch may be symbolic)"
        )
    return [Reshape("input", tuple(int(d) for d in dims[1:] if d is not None))]


def _label(node: Any) -> str:
    return f"{node.op_type} node {node.name or node.output[0]!r}"


def _unsupported(node: Any, why: str = "") -> UnsupportedModel:
    reason = why or f"is not supported; supported: {', '.join(SUPPORTED_OPS)}"
    return UnsupportedModel(f"{_label(node)} {reason}")


def _name(node: Any) -> str:
    """The torch module path the dynamo exporter records (the name capture() gives), else the node's."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = [str(s) for s in ast.literal_eval(prop.value)]
            except (ValueError, SyntaxError):
                break
            path = ".".join(s for s in scopes[:-1] if s)
            return path or scopes[-1]
    return node.name or node.output[0]


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _float32_value(value: float) -> float:
    """A float32 attribute as the decimal it was written as (0.2, not 0.20000000298)."""
    return float(str(np.float32(value)))


def _const(graph: _Graph, node: Any, name: str, what: str) -> np.ndarray:
    if name not in graph.constants:
        raise _unsupported(node, f"reads {what} {name!r} computed in the graph; ml2sc needs stored weights")
    return np.asarray(graph.constants[name], dtype=np.float64)


def _continues(readers: Sequence[Any]) -> bool:
    """A lone no-op (Cast to float, Reshape, ...) that may still lead to more layers."""
    return len(readers) == 1 and readers[0].op_type in _NO_OPS + _SHAPE_OPS


def _step(graph: _Graph, current: str, readers: list[Any], ops: list[Op], visited: set[int]) -> str:
    """Consume the node(s) that read ``current``; return the tensor they produce."""
    if len(readers) == 2:
        return _silu(graph, current, readers, ops, visited)
    if len(readers) > 1:
        names = ", ".join(_label(n) for n in readers)
        raise UnsupportedModel(
            f"tensor {current!r} feeds several nodes ({names}): not a single chain of layers"
        )
    node = readers[0]
    visited.add(id(node))
    if node.input[0] != current and node.op_type != "MatMul":
        raise _unsupported(node, f"takes {current!r} as a later operand; ml2sc needs a chain of layers")
    kind = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
    attrs = _attrs(node)
    if kind == "Gemm":
        ops.append(_gemm(graph, node, attrs))
    elif kind == "MatMul":
        return _matmul(graph, current, node, ops, visited)
    elif kind in _ACTIVATIONS:
        ops.append(Activation(_name(node), _ACTIVATIONS[kind]))
    elif kind == "LeakyRelu":
        ops.append(Activation(_name(node), "leaky_relu", (_float32_value(attrs.get("alpha", 0.01)),)))
    elif kind == "Gelu":
        approximate = attrs.get("approximate", b"none")
        approximate = approximate.decode() if isinstance(approximate, bytes) else str(approximate)
        if approximate not in ("none", "tanh"):
            raise _unsupported(
                node, f"with approximate={approximate!r}: only 'none' and 'tanh' are supported"
            )
        ops.append(Activation(_name(node), "gelu" if approximate == "none" else "gelu_tanh"))
    elif kind == "Softmax":
        if attrs.get("axis", -1) not in (-1, 1):
            raise _unsupported(
                node, f"over axis={attrs['axis']}: only the feature axis (-1 or 1) is supported"
            )
        ops.append(Activation(_name(node), "softmax"))
    elif kind == "BatchNormalization":
        ops.append(_batchnorm(graph, node, attrs))
    elif kind == "Conv":
        ops.append(_conv(graph, node, attrs, ops))
    elif kind in ("MaxPool", "AveragePool"):
        ops.append(_pool(graph, node, attrs, ops))
    elif kind == "Flatten":
        if attrs.get("axis", 1) != 1:
            raise _unsupported(node, f"with axis={attrs['axis']}: only axis=1 keeps rows and features")
        ops.append(Reshape(_name(node), ()))
    elif kind == "Reshape":
        ops.append(_reshape(graph, node, attrs))
    elif kind in _NO_OPS:
        _check_no_op(graph, node, attrs)
    else:
        raise _unsupported(node)
    return node.output[0]


def _check_no_op(graph: _Graph, node: Any, attrs: dict[str, Any]) -> None:
    """Identity, Dropout (inference), Cast to float."""
    if node.op_type == "Cast" and attrs.get("to") not in _FLOAT_TYPES:
        raise _unsupported(node, f"casts to type {attrs.get('to')}, not to float, inside the layer chain")
    if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2]:
        training = graph.constants.get(node.input[2])
        if training is None or bool(np.asarray(training)):
            raise _unsupported(node, "may run in training mode; export the model in eval mode")


def _reshape(graph: _Graph, node: Any, attrs: dict[str, Any]) -> Reshape:
    """Reshape to a stored shape that keeps the batch first: (-1, n) flattens, (-1, C, H, W) makes an
    image. The first entry may be -1, 0 (copy, unless allowzero), 1 or the file's fixed batch size."""
    shape = [int(v) for v in _const(graph, node, node.input[1], "shape").reshape(-1)]
    allowzero = bool(attrs.get("allowzero", 0))
    batch = (-1, 1) if graph.batch in (None, 1) else (-1, graph.batch)
    first, rest = (shape[0], shape[1:]) if shape else (None, [])
    if not rest or not (first in batch or (first == 0 and not allowzero)):
        raise _unsupported(node, f"to shape {shape}: the first dimension must keep the batch (-1)")
    if any(d == 0 or d < -1 for d in rest) or rest.count(-1) + (first == -1) > 1:
        raise _unsupported(
            node, f"to shape {shape}: ml2sc needs the batch, then positive sizes (one may be -1)"
        )
    return Reshape(_name(node), () if rest == [-1] else tuple(rest))


def _window(
    node: Any, attrs: dict[str, Any], kernel: tuple[int, ...], ops: list[Op]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Strides and padding (one per side, both sides alike) of a Conv / MaxPool / AveragePool."""
    dims = len(kernel)
    strides = tuple(int(s) for s in attrs.get("strides", [1] * dims))
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if len(strides) != dims:
        raise _unsupported(node, f"with strides {list(strides)} for a {dims}-D kernel")
    if auto_pad == "VALID":
        return strides, (0,) * dims
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return strides, _same_padding(node, kernel, strides, ops)
    if auto_pad not in ("NOTSET", ""):
        raise _unsupported(node, f"with auto_pad={auto_pad!r}")
    pads = tuple(int(p) for p in attrs.get("pads", [0] * 2 * dims))
    if len(pads) != 2 * dims or pads[:dims] != pads[dims:]:
        raise _unsupported(
            node, f"with pads {list(pads)}: ml2sc pads both sides alike (begin pads = end pads)"
        )
    return strides, pads[:dims]


def _same_padding(
    node: Any, kernel: tuple[int, ...], strides: tuple[int, ...], ops: list[Op]
) -> tuple[int, ...]:
    """auto_pad SAME_*: the padding that keeps ceil(size / stride), where it is the same on both sides."""
    from .shapes import as_chw, infer_shapes

    try:
        shape = infer_shapes(ops).after[-1] if ops else ()
    except UnsupportedModel:
        shape = ()
    if len(shape) not in (2, 3):
        raise _unsupported(node, "with auto_pad SAME: its input's height and width are unknown here")
    sizes = as_chw(shape)[3 - len(kernel) :]
    pads = []
    for size, k, s in zip(sizes, kernel, strides):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        if total % 2:
            raise _unsupported(
                node, f"with auto_pad SAME over size {size}, kernel {k}, stride {s}: pads one side more"
            )
        pads.append(total // 2)
    return tuple(pads)


def _conv(graph: _Graph, node: Any, attrs: dict[str, Any], ops: list[Op]) -> Conv:
    """Conv with stored weights (1-D or 2-D kernel, group 1, dilations 1); a 1-D one gets kernel height 1."""
    weight = _const(graph, node, node.input[1], "weight")
    if weight.ndim not in (3, 4):
        raise _unsupported(node, f"with a {weight.ndim - 2}-D kernel; ml2sc convolves in 1-D or 2-D")
    if attrs.get("group", 1) != 1:
        raise _unsupported(node, f"with group={attrs['group']}: only group=1 is supported")
    kernel = tuple(int(k) for k in weight.shape[2:])
    if any(d != 1 for d in attrs.get("dilations", [])):
        raise _unsupported(node, f"with dilations {list(attrs['dilations'])}: only 1 is supported")
    strides, pads = _window(node, attrs, kernel, ops)
    n_out = weight.shape[0]
    if len(node.input) > 2 and node.input[2]:
        bias = _const(graph, node, node.input[2], "bias").reshape(-1)
        if bias.size != n_out:
            raise _unsupported(node, f"with {bias.size} biases for {n_out} output channels")
    else:
        bias = np.zeros(n_out)
    dims = weight.ndim - 2
    if dims == 1:
        weight, strides, pads = weight[:, :, None, :], (1, *strides), (0, *pads)
    name = _dense_name(node.input[1], node)
    weight, bias = np.ascontiguousarray(weight), np.array(bias)
    return Conv(name, weight, bias, (strides[0], strides[1]), (pads[0], pads[1]), dims)


def _pool(graph: _Graph, node: Any, attrs: dict[str, Any], ops: list[Op]) -> Pool:
    """MaxPool / AveragePool in floor mode; an average counts the padding (count_include_pad=1)."""
    kernel = tuple(int(k) for k in attrs.get("kernel_shape", []))
    if len(kernel) not in (1, 2):
        raise _unsupported(node, f"with kernel {list(kernel)}: ml2sc pools in 1-D or 2-D")
    if attrs.get("ceil_mode", 0):
        raise _unsupported(node, "with ceil_mode=1: only ceil_mode=0 is supported")
    strides, pads = _window(node, attrs, kernel, ops)
    if node.op_type == "MaxPool":
        if any(d != 1 for d in attrs.get("dilations", [])):
            raise _unsupported(node, f"with dilations {list(attrs['dilations'])}: only 1 is supported")
        if attrs.get("storage_order", 0):
            raise _unsupported(node, "with storage_order=1 is not supported")
        indices = node.output[1] if len(node.output) > 1 else ""
        if indices and (graph.consumers.get(indices) or indices in graph.outputs):
            raise _unsupported(node, "with its Indices output used: only the pooled values are supported")
    elif not attrs.get("count_include_pad", 0) and any(pads):
        raise _unsupported(
            node, f"with pads {list(pads)} and count_include_pad=0: ml2sc divides by the whole kernel"
        )
    dims = len(kernel)
    if dims == 1:
        kernel, strides, pads = (1, *kernel), (1, *strides), (0, *pads)
    kind = "max" if node.op_type == "MaxPool" else "avg"
    window = (kernel[0], kernel[1]), (strides[0], strides[1]), (pads[0], pads[1])
    return Pool(_name(node), kind, *window, dims)


def _gemm(graph: _Graph, node: Any, attrs: dict[str, Any]) -> Dense:
    if attrs.get("transA", 0) != 0:
        raise _unsupported(node, "with transA=1 is not supported")
    b = _const(graph, node, node.input[1], "weight")
    weight = b if attrs.get("transB", 0) else b.T
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    if alpha != 1.0:
        weight = weight * alpha
    n_out = weight.shape[0]
    if len(node.input) > 2 and node.input[2]:
        c = _const(graph, node, node.input[2], "bias")
        bias = np.broadcast_to(c.reshape(-1) if c.size == n_out else c, (n_out,)) * beta
    else:
        bias = np.zeros(n_out)
    return Dense(
        _dense_name(node.input[1], node), np.ascontiguousarray(weight), np.array(bias, dtype=np.float64)
    )


def _dense_name(weight_name: str, node: Any) -> str:
    """torch's initializers are named ``<module path>.weight``: the name capture() gives the Linear."""
    return weight_name.removesuffix(".weight") if weight_name.endswith(".weight") else _name(node)


def _matmul(graph: _Graph, current: str, node: Any, ops: list[Op], visited: set[int]) -> str:
    """MatMul(x, W) then, when it follows, Add of a stored bias (either operand order)."""
    if node.input[0] != current:
        raise _unsupported(node, f"takes {current!r} as its second operand; ml2sc needs x @ W")
    w = _const(graph, node, node.input[1], "weight")
    if w.ndim != 2:
        raise _unsupported(node, f"with a {w.ndim}-D weight; ml2sc needs a matrix")
    weight = np.ascontiguousarray(w.T)
    out = node.output[0]
    readers = graph.consumers.get(out, [])
    bias = np.zeros(weight.shape[0])
    if len(readers) == 1 and readers[0].op_type == "Add":
        add = readers[0]
        other = add.input[1] if add.input[0] == out else add.input[0]
        if other in graph.constants:
            c = _const(graph, add, other, "bias")
            if c.size not in (1, weight.shape[0]) or c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
                raise _unsupported(add, f"adds a {list(c.shape)} tensor; a bias has one value per output")
            bias = np.broadcast_to(c.reshape(-1), (weight.shape[0],)).astype(np.float64)
            visited.add(id(add))
            out = add.output[0]
    ops.append(Dense(_dense_name(node.input[1], node), weight, np.array(bias)))
    return out


def _batchnorm(graph: _Graph, node: Any, attrs: dict[str, Any]) -> BatchNorm:
    """Inference BatchNormalization, computed as capture() computes torch's BatchNorm1d / 2d."""
    gamma, beta, mean, var = (_const(graph, node, n, "statistic").reshape(-1) for n in node.input[1:5])
    eps = _float32_value(attrs.get("epsilon", 1e-5))
    check_variance(_label(node), var, eps)
    scale = 1.0 / np.sqrt(var + eps) * gamma
    return BatchNorm(_name(node), mean.copy(), scale, beta.copy(), "BatchNormalization")


def _silu(graph: _Graph, current: str, readers: list[Any], ops: list[Op], visited: set[int]) -> str:
    """x * Sigmoid(x), as torch exports SiLU."""
    sigmoid = next((n for n in readers if n.op_type == "Sigmoid"), None)
    mul = next((n for n in readers if n.op_type == "Mul"), None)
    if sigmoid is None or mul is None or sorted(mul.input) != sorted([current, sigmoid.output[0]]):
        names = ", ".join(_label(n) for n in readers)
        raise UnsupportedModel(
            f"tensor {current!r} feeds several nodes ({names}): not a single chain of layers"
        )
    if graph.consumers.get(sigmoid.output[0], []) != [mul]:
        raise _unsupported(sigmoid, "is read by more than x * sigmoid(x)")
    visited.update((id(sigmoid), id(mul)))
    ops.append(Activation(_name(mul), "silu"))
    return mul.output[0]


def _check_head(graph: _Graph, end: str, readers: list[Any], ops: list[Op], visited: set[int]) -> None:
    """What follows the last layer must only turn its outputs into a class or probabilities.

    ArgMax takes the first maximum (ml2sc's argmax); skl2onnx's labels must be 0..n-1 (ml2sc gives
    the index); a binary model's ``[1 - p, p]`` is ml2sc's sigmoid head (p > 0.5)."""
    derived = {end}
    queue = list(readers)
    while queue:
        node = queue.pop(0)
        if id(node) in visited:
            continue
        if any(i and i not in derived and i not in graph.constants for i in node.input):
            continue  # reached again once its other inputs are derived
        if node.op_type not in _HEAD_OPS:
            raise _unsupported(node, "after the last layer is not a class output ml2sc computes")
        attrs = _attrs(node)
        if node.op_type == "ArgMax" and (
            attrs.get("axis", 0) not in (-1, 1) or attrs.get("select_last_index", 0) != 0
        ):
            raise _unsupported(node, "must take the first maximum over the feature axis")
        if node.op_type == "ArrayFeatureExtractor":
            labels = graph.constants.get(node.input[0])
            if labels is None or labels.dtype.kind not in "iu" or list(labels) != list(range(len(labels))):
                shown = "computed" if labels is None else list(labels)[:6]
                raise _unsupported(node, f"maps classes to labels {shown}; ml2sc gives the index 0..n-1")
        if node.op_type == "Sub":
            one = graph.constants.get(node.input[0])
            if one is None or node.input[1] != end or np.asarray(one).size != 1 or float(one) != 1.0:
                raise _unsupported(node, "after the last layer is not the binary probability 1 - p")
        if node.op_type == "Concat" and node.input[-1] != end:
            raise _unsupported(node, "after the last layer is not the binary probabilities [1 - p, p]")
        if node.op_type in ("Sub", "Concat") and not _binary_sigmoid(ops):
            raise _unsupported(node, "after the last layer: [1 - p, p] needs one sigmoid output")
        visited.add(id(node))
        derived.update(o for o in node.output if o)
        for out in node.output:
            queue.extend(graph.consumers.get(out, []))


def _binary_sigmoid(ops: Sequence[Op]) -> bool:
    denses = [op for op in ops if isinstance(op, Dense)]
    last = ops[-1] if ops else None
    return bool(denses) and denses[-1].n_out == 1 and isinstance(last, Activation) and last.kind == "sigmoid"
