"""Convolutional models: the ops capture() and load_onnx() read (Conv, Pool, Reshape), their numbers
against torch through a plain numpy forward, and clear refusals of what ml2sc cannot compute."""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from torch import nn

from ml2sc import activations
from ml2sc.capture import Conv, Dense, Pool, Reshape, UnsupportedModel, capture, load_model
from ml2sc.onnx_import import load_onnx
from ml2sc.shapes import infer_shapes

# ---- a numpy reference of the ops --------------------------------------------------------------


def _windows(x: np.ndarray, kernel, stride, padding, fill: float) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) windows of an (N, C, H, W) array padded with ``fill``."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def forward(ops, x: np.ndarray) -> np.ndarray:
    """The float model the ops describe, in numpy float64, on flat rows."""
    n = len(x)
    for op in ops:
        if isinstance(op, Reshape):
            x = x.reshape(n, -1) if op.shape == () else x.reshape(n, *op.shape)
        elif isinstance(op, (Conv, Pool)):
            one_d = x.ndim == 3
            x4 = x[:, :, None, :] if one_d else x
            if isinstance(op, Conv):
                win = _windows(x4, op.kernel, op.stride, op.padding, 0.0)
                x4 = np.einsum("ncijab,ocab->noij", win, op.weight) + op.bias[None, :, None, None]
            elif op.kind == "max":
                x4 = _windows(x4, op.kernel, op.stride, op.padding, -np.inf).max(axis=(4, 5))
            else:
                x4 = _windows(x4, op.kernel, op.stride, op.padding, 0.0).mean(axis=(4, 5))
            x = x4[:, :, 0, :] if one_d else x4
        elif isinstance(op, Dense):
            assert x.ndim == 2, f"{op.name} gets shape {x.shape}"
            x = x @ op.weight.T + op.bias
        else:
            x = activations.get(op.kind).float_fn(x, op.params[0] if op.params else 0.0)
    return x.reshape(n, -1)


def torch_out(model: nn.Module, x: np.ndarray, shape=None) -> np.ndarray:
    """The model's output in float64 (its float32 weights, exactly, as double)."""
    double = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        inputs = torch.tensor(x if shape is None else x.reshape(len(x), *shape))
        return double(inputs).reshape(len(x), -1).numpy()


def export(model: nn.Module, path: Path, shape, dynamic: bool = True) -> Path:
    """The dynamo exporter (its progress lines silenced)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (torch.zeros(2, *shape),),
            str(path),
            dynamo=True,
            dynamic_shapes=({0: "batch"},) if dynamic else None,
        )
    return path


def summary(ops) -> list[tuple]:
    out = []
    for op in ops:
        if isinstance(op, Conv):
            out.append(("conv", op.weight.shape, op.stride, op.padding, op.dims))
        elif isinstance(op, Pool):
            out.append((op.kind, op.kernel, op.stride, op.padding, op.dims))
        elif isinstance(op, Reshape):
            out.append(("reshape", op.shape))
        elif isinstance(op, Dense):
            out.append(("dense", op.n_in, op.n_out))
        else:
            out.append((op.kind,))
    return out


def same_ops(a, b, atol: float = 0.0, onnx: bool = False) -> None:
    """The same ops, names and weights; where the exporter folded a batch norm itself (in float32, under
    the layer's own name), within ``atol``. The exporter names a functional reshape by the aten op it
    becomes (x.reshape(...) -> 'view_3'), so ``onnx`` skips the names of reshapes."""
    assert summary(a) == summary(b)
    for x, y in zip(a, b):
        if not (onnx and isinstance(x, Reshape)):
            assert x.name == (y.name.partition("+")[0] if atol else y.name)
        if isinstance(x, (Conv, Dense)):
            assert np.abs(x.weight - y.weight).max() <= atol, x.name
            assert np.abs(x.bias - y.bias).max() <= atol, x.name


# ---- models --------------------------------------------------------------------------------------


def _lenet() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 2, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 3, 2),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(3, 2),
    ).eval()


def _conv1d() -> nn.Sequential:
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Unflatten(1, (2, 10)),
        nn.Conv1d(2, 3, 3, stride=2, padding=1),
        nn.BatchNorm1d(3),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.AvgPool1d(2, padding=1),
        nn.Flatten(),
        nn.Linear(6, 2),
    )
    _statistics(model[2])
    return model.eval()


def _strided() -> nn.Sequential:
    torch.manual_seed(2)
    return nn.Sequential(
        nn.Unflatten(1, (2, 7, 6)),
        nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0)),
        nn.Tanh(),
        nn.Conv2d(4, 2, 3, padding="same", bias=False),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.AvgPool2d(2, stride=1, padding=1),
        nn.Dropout2d(0.3),
        nn.Flatten(),
        nn.Linear(24, 3),
    ).eval()


def _batchnorm() -> nn.Sequential:
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Unflatten(1, (1, 6, 6)),
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.AvgPool2d(2, count_include_pad=False),
        nn.Flatten(),
        nn.Linear(27, 2),
    )
    _statistics(model[2])
    return model.eval()


def _statistics(bn: nn.Module) -> None:
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)


class Viewed(nn.Module):
    """The reshapes tutorials write in forward()."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(4)
        self.c = nn.Conv2d(1, 2, 3)
        self.fc1 = nn.Linear(18, 8)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        x = x.view(-1, 1, 8, 8)
        x = F.max_pool2d(F.relu(self.c(x)), kernel_size=2)
        x = x.view(x.size(0), -1)
        x = torch.relu(self.fc1(x)).view(-1, 8)
        x = F.avg_pool1d(x.reshape(-1, 2, 4), 2)
        return self.fc2(x.flatten(1))


class Image(nn.Module):
    """Takes (N, 1, 8, 8) images: capture() needs flat rows, an ONNX file's 4-D input is fine."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.c = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 3 * 3, 3)

    def forward(self, x):
        return self.fc(torch.flatten(F.max_pool2d(self.c(x), 2, 2), 1))


MODELS = {"lenet": (_lenet, 64), "conv1d": (_conv1d, 20), "strided": (_strided, 84), "viewed": (Viewed, 64)}
RNG = np.random.default_rng(7)


def _rows(n_in: int) -> np.ndarray:
    return RNG.normal(size=(16, n_in)) * 2


# ---- torch capture -------------------------------------------------------------------------------


def test_lenet_ops() -> None:
    ops = capture(_lenet())
    assert summary(ops) == [
        ("reshape", (1, 8, 8)),
        ("conv", (2, 1, 3, 3), (1, 1), (0, 0), 2),
        ("relu",),
        ("max", (2, 2), (2, 2), (0, 0), 2),
        ("conv", (3, 2, 2, 2), (1, 1), (0, 0), 2),
        ("avg", (2, 2), (2, 2), (0, 0), 2),
        ("reshape", ()),
        ("dense", 3, 2),
    ]
    assert [op.name for op in ops] == [str(i) for i in range(8)]
    assert all(op.weight.dtype == np.float64 for op in ops if isinstance(op, Conv))
    assert infer_shapes(ops).n_inputs == 64


def test_conv1d_ops_and_batchnorm1d_folding() -> None:
    ops = capture(_conv1d())
    assert summary(ops) == [
        ("reshape", (2, 10)),
        ("conv", (3, 2, 1, 3), (1, 2), (0, 1), 1),
        ("relu",),
        ("max", (1, 2), (1, 2), (0, 0), 1),
        ("avg", (1, 2), (1, 2), (0, 1), 1),
        ("reshape", ()),
        ("dense", 6, 2),
    ]
    assert ops[1].name == "1+2"


def test_padding_stride_and_same() -> None:
    ops = capture(_strided())
    assert summary(ops)[1:6] == [
        ("conv", (4, 2, 3, 2), (2, 1), (1, 0), 2),
        ("tanh",),
        ("conv", (2, 4, 3, 3), (1, 1), (1, 1), 2),
        ("max", (3, 3), (2, 2), (1, 1), 2),
        ("avg", (2, 2), (1, 1), (1, 1), 2),
    ]
    assert ops[3].bias.tolist() == [0.0, 0.0]


def test_batchnorm2d_is_folded_into_the_conv() -> None:
    ops = capture(_batchnorm())
    assert [type(op).__name__ for op in ops] == ["Reshape", "Conv", "Activation", "Pool", "Reshape", "Dense"]
    assert ops[1].name == "1+2"
    x = _rows(36)
    assert np.abs(forward(ops, x) - torch_out(_batchnorm(), x)).max() < 1e-9


def test_views_in_forward() -> None:
    ops = capture(Viewed())
    assert summary(ops) == [
        ("reshape", (1, 8, 8)),
        ("conv", (2, 1, 3, 3), (1, 1), (0, 0), 2),
        ("relu",),
        ("max", (2, 2), (2, 2), (0, 0), 2),
        ("reshape", ()),
        ("dense", 18, 8),
        ("relu",),
        ("reshape", (2, 4)),
        ("avg", (1, 2), (1, 2), (0, 0), 1),
        ("reshape", ()),
        ("dense", 4, 2),
    ]
    assert [op.name for op in ops if isinstance(op, (Reshape, Pool))] == [
        "view",
        "max_pool2d",
        "view_1",
        "reshape",
        "avg_pool1d",
        "flatten",
    ]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_numbers_match_torch(name: str) -> None:
    build, n_in = MODELS[name]
    model = build()
    ops = capture(model)
    x = _rows(n_in)
    assert np.abs(forward(ops, x) - torch_out(model, x)).max() < 1e-9
    same_ops(capture(ops), ops)  # finishing the list again changes nothing; shapes.py reads it
    assert infer_shapes(ops).n_inputs == n_in


def test_torchscript_scripted_and_traced(tmp_path: Path) -> None:
    for build, n_in in (MODELS["lenet"], MODELS["conv1d"], MODELS["strided"], (_batchnorm, 36)):
        model = build()
        expected = capture(model)
        torch.jit.save(torch.jit.script(model), tmp_path / "s.pt")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(torch.jit.trace(model, torch.zeros(2, n_in)), tmp_path / "t.pt")
        for file in ("s.pt", "t.pt"):
            same_ops(capture(load_model(tmp_path / file)), expected)


def test_traced_activation_settings() -> None:
    """A traced layer keeps no settings: they are read from its aten call (GELU's tanh was lost)."""
    model = nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU(0.2), nn.Linear(2, 2), nn.GELU("tanh"), nn.Softmax(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, torch.zeros(1, 2))
    expected = [("dense", 2, 2), ("leaky_relu",), ("dense", 2, 2), ("gelu_tanh",), ("softmax",)]
    assert summary(capture(traced)) == summary(capture(model)) == expected
    assert capture(traced)[1].params == (0.2,)


def test_batch_size_read_from_the_input() -> None:
    class Early(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c, self.fc = nn.Conv1d(1, 2, 3), nn.Linear(8, 1)

        def forward(self, x):
            batch = x.size(0)
            x = self.c(x.view(batch, 1, 6))
            return self.fc(x.reshape(batch, -1))

    model = Early()
    ops = capture(model)
    assert summary(ops)[0::2] == [("reshape", (1, 6)), ("reshape", ())]
    x = _rows(6)
    assert np.abs(forward(ops, x) - torch_out(model, x)).max() < 1e-9


def test_mlp_flattens_and_views_add_no_ops() -> None:
    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(6, 4), nn.Linear(4, 2)

        def forward(self, x):
            x = self.a(torch.flatten(x, 1).view(-1, 6))
            return self.b(x.view(x.size(0), -1))

    assert summary(capture(Flat())) == [("dense", 6, 4), ("dense", 4, 2)]
    seq = nn.Sequential(
        nn.Flatten(), nn.Linear(6, 4), nn.Unflatten(1, (1, 2, 2)), nn.Flatten(), nn.Linear(4, 1)
    )
    assert summary(capture(seq)) == [("dense", 6, 4), ("dense", 4, 1)]
    ops = capture(_lenet())
    same_ops(capture(ops), ops)  # finishing twice changes nothing


# ---- torch refusals ------------------------------------------------------------------------------


def _image(*layers: nn.Module, n: int = 2) -> nn.Sequential:
    return nn.Sequential(nn.Unflatten(1, (n, 8, 8)), *layers, nn.Flatten())


@pytest.mark.parametrize(
    "model, pattern",
    [
        (_image(nn.Conv2d(2, 2, 3, groups=2)), r"Conv2d '1' has groups=2"),
        (_image(nn.Conv2d(2, 2, 3, dilation=2)), r"Conv2d '1' has dilation=\(2, 2\)"),
        (_image(nn.MaxPool2d(3, ceil_mode=True)), r"MaxPool2d '1' has ceil_mode=True"),
        (_image(nn.AdaptiveAvgPool2d(1)), r"layer '1' \(AdaptiveAvgPool2d\) is not supported"),
        (
            _image(nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect")),
            r"Conv2d '1' has padding_mode='reflect'",
        ),
        (_image(nn.ConvTranspose2d(2, 2, 3)), r"layer '1' \(ConvTranspose2d\) is not supported"),
        (_image(nn.Conv2d(2, 2, 2, padding="same")), r"Conv2d '1' has padding='same' with kernel \(2, 2\)"),
        (
            _image(nn.AvgPool2d(3, padding=1, count_include_pad=False)),
            r"AvgPool2d '1' has count_include_pad=False",
        ),
        (_image(nn.MaxPool2d(2, dilation=2)), r"MaxPool2d '1' has dilation=2"),
        (_image(nn.BatchNorm2d(2)), r"BatchNorm2d '1' must follow a Conv2d layer"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(72, 1)), r"Conv2d '0' starts the model"),
        (nn.Sequential(nn.Linear(4, 4), nn.Conv1d(1, 1, 2)), r"Conv1d '1' takes a \(C, L\) sample"),
        (nn.Sequential(nn.Flatten(0), nn.Linear(4, 1)), r"Flatten '0' flattens with the batch dimension"),
        (nn.Sequential(nn.Unflatten(0, (2, 2)), nn.Linear(2, 1)), r"Unflatten '0' with dim=0"),
    ],
)
def test_refusals_name_the_layer(model: nn.Module, pattern: str) -> None:
    with pytest.raises(UnsupportedModel, match=pattern):
        capture(model.eval())


def test_traced_reflect_padding_is_refused() -> None:
    model = _image(nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model.eval(), torch.zeros(1, 128))
    with pytest.raises(UnsupportedModel, match=r"traced Conv2d '1' computes aten::pad.*padding_mode"):
        capture(traced)


class _Forward(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.fc = nn.Linear(4, 1)
        self.w = nn.Parameter(torch.ones(1, 1, 2, 2))

    def forward(self, x):
        return self.fc(self.fn(self, x))


@pytest.mark.parametrize(
    "fn, pattern",
    [
        (
            lambda m, x: x.view(1, -1),
            r"'view' reshapes to \(1, -1\): the first dimension must keep the batch",
        ),
        (lambda m, x: x.reshape(-1), r"'reshape' reshapes to \(-1,\)"),
        (lambda m, x: x.view(x.size(1), -1), r"'size' reads the tensor's size"),
        (lambda m, x: x.view(x.shape[0], -1), r"getattr\(x, 'shape'\): write x.size\(0\)"),
        (lambda m, x: x.view(-1, 2, 2).flatten(0), r"'flatten' flattens with the batch dimension"),
        (lambda m, x: x.view(-1, 1, 2, 2).view(-1, 2), r"'view_1' reshapes a sample of 4 values to \(2,\)"),
        (lambda m, x: F.conv2d(x.view(-1, 1, 2, 2), m.w).flatten(1), r"reads the tensor attribute 'w'"),
        (lambda m, x: F.max_pool1d(x.view(-1, 1, 4), 1, ceil_mode=True).flatten(1), r"MaxPool1d.*ceil_mode"),
    ],
)
def test_forward_refusals(fn, pattern: str) -> None:
    with pytest.raises(UnsupportedModel, match=pattern):
        capture(_Forward(fn))


# ---- ONNX ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_export_reads_the_same_ops(tmp_path: Path, name: str) -> None:
    build, n_in = MODELS[name]
    model = build()
    ops = load_onnx(export(model, tmp_path / f"{name}.onnx", (n_in,)))
    captured = capture(model)
    same_ops(ops, captured, atol=1e-6 if name == "conv1d" else 0.0, onnx=True)  # conv1d: BatchNorm1d
    x = _rows(n_in)
    tolerance = 1e-5 if name == "conv1d" else 1e-9  # ... in float32
    assert np.abs(forward(ops, x) - torch_out(model, x)).max() < tolerance


def test_onnx_batchnorm_folded_by_the_exporter(tmp_path: Path) -> None:
    model = _batchnorm()
    ops = load_onnx(export(model, tmp_path / "bn.onnx", (36,)))
    same_ops(ops, capture(model), atol=1e-6, onnx=True)
    x = _rows(36)
    assert np.abs(forward(ops, x) - torch_out(model, x)).max() < 1e-5


def test_onnx_image_input_and_static_batch(tmp_path: Path) -> None:
    model = Image().eval()
    ops = load_onnx(export(model, tmp_path / "image.onnx", (1, 8, 8)))
    assert ops[0] == Reshape("input", (1, 8, 8))
    assert summary(ops)[1:] == [
        ("conv", (2, 1, 3, 3), (1, 1), (0, 0), 2),
        ("max", (2, 2), (2, 2), (0, 0), 2),
        ("reshape", ()),
        ("dense", 18, 3),
    ]
    x = _rows(64)
    assert np.abs(forward(ops, x) - torch_out(model, x, (1, 8, 8))).max() < 1e-9
    static = load_onnx(export(Viewed(), tmp_path / "static.onnx", (64,), dynamic=False))
    same_ops(static, capture(Viewed()), onnx=True)


def _graph(path: Path, nodes, shape, initializers=(), out_shape=None) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, out_shape)
    graph = helper.make_graph(nodes, "g", [x], [y], list(initializers))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _weight(shape) -> onnx.TensorProto:
    return onnx.numpy_helper.from_array(np.ones(shape, np.float32), "w")


def _onnxruntime(path: Path, x: np.ndarray, shape) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": x.reshape(len(x), *shape).astype(np.float32)})
    return out.reshape(len(x), -1)


def test_onnx_same_padding_and_hand_built_graphs(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    w = onnx.numpy_helper.from_array(rng.normal(size=(2, 1, 3, 3)).astype(np.float32), "w")
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="conv0", auto_pad="SAME_UPPER", strides=[2, 2])
    flat = helper.make_node("Flatten", ["c"], ["y"], name="flat")
    path = _graph(tmp_path / "same.onnx", [conv, flat], ["N", 1, 7, 7], [w])
    ops = load_onnx(path)
    x = rng.normal(size=(5, 49)).astype(np.float32).astype(np.float64)
    assert np.abs(forward(ops, x) - _onnxruntime(path, x, (1, 7, 7))).max() < 1e-5
    assert summary(ops) == [
        ("reshape", (1, 7, 7)),
        ("conv", (2, 1, 3, 3), (2, 2), (1, 1), 2),
        ("reshape", ()),
    ]
    conv1d = helper.make_node("Conv", ["x", "w"], ["c"], name="conv0", pads=[1, 1])
    pool = helper.make_node("AveragePool", ["c"], ["p"], kernel_shape=[2], strides=[2], count_include_pad=1)
    flat = helper.make_node("Flatten", ["p"], ["y"], name="flat")
    ops = load_onnx(_graph(tmp_path / "c1.onnx", [conv1d, pool, flat], [1, 1, 5], [_weight((1, 1, 3))]))
    assert summary(ops) == [
        ("reshape", (1, 5)),
        ("conv", (1, 1, 1, 3), (1, 1), (0, 1), 1),
        ("avg", (1, 2), (1, 2), (0, 0), 1),
        ("reshape", ()),
    ]


def test_onnx_batchnormalization_after_a_conv(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    stats = [rng.uniform(0.5, 2, 2), rng.normal(size=2), rng.normal(size=2), rng.uniform(0.5, 2, 2)]
    tensors = [
        onnx.numpy_helper.from_array(v.astype(np.float32), n)
        for v, n in zip([rng.normal(size=(2, 1, 3, 3)), rng.normal(size=2), *stats], "wbgsmv")
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv0", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g", "s", "m", "v"], ["n"], name="bn0"),
        helper.make_node("MaxPool", ["n"], ["p"], name="pool0", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape"], ["y"], name="flat"),
    ]
    shape = onnx.numpy_helper.from_array(np.array([-1, 18], np.int64), "shape")
    path = _graph(tmp_path / "bn.onnx", nodes, [1, 1, 6, 6], [*tensors, shape])
    ops = load_onnx(path)
    assert [op.name for op in ops] == ["input", "conv0+bn0", "pool0", "flat"]
    x = rng.normal(size=(1, 36)).astype(np.float32).astype(np.float64)
    assert np.abs(forward(ops, x) - _onnxruntime(path, x, (1, 6, 6))).max() < 1e-5


@pytest.mark.parametrize(
    "node, shape, pattern",
    [
        (dict(op_type="Conv", group=2), [1, 2, 5, 5], r"Conv node 'bad' with group=2"),
        (dict(op_type="Conv", pads=[1, 1, 0, 0]), [1, 1, 5, 5], r"Conv node 'bad' with pads \[1, 1, 0, 0\]"),
        (dict(op_type="Conv", dilations=[2, 2]), [1, 1, 5, 5], r"Conv node 'bad' with dilations"),
        (dict(op_type="Conv", auto_pad="SAME_UPPER"), [1, 1, 6, 6], r"Conv node 'bad' with auto_pad SAME"),
        (
            dict(op_type="MaxPool", kernel_shape=[2, 2], ceil_mode=1),
            [1, 1, 5, 5],
            r"MaxPool node 'bad' with ceil",
        ),
        (
            dict(op_type="AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            [1, 1, 5, 5],
            r"AveragePool node 'bad' with pads \[1, 1\] and count_include_pad=0",
        ),
        (dict(op_type="Conv"), [1, "C", 5, 5], r"input 'x' has shape \(1, '\?', 5, 5\)"),
        (dict(op_type="GlobalAveragePool"), [1, 1, 5, 5], r"GlobalAveragePool node 'bad' is not supported"),
    ],
)
def test_onnx_refusals(tmp_path: Path, node: dict, shape, pattern: str) -> None:
    op_type = node.pop("op_type")
    inputs = ["x", "w"] if op_type == "Conv" else ["x"]
    channels = shape[1] if isinstance(shape[1], int) else 1
    weight = _weight((2, 1 if node.get("group") else channels, 2 if "pads" not in node else 3, 3))
    bad = helper.make_node(op_type, inputs, ["c"], name="bad", **node)
    flat = helper.make_node("Flatten", ["c"], ["y"], name="flat")
    path = _graph(tmp_path / "bad.onnx", [bad, flat], shape, [weight] if op_type == "Conv" else [])
    with pytest.raises(UnsupportedModel, match=pattern):
        load_onnx(path)
