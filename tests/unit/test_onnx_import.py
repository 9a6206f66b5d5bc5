"""ONNX files as torch.onnx.export (dynamo) and skl2onnx write them: the same ops as capture(), the
same numbers as onnxruntime, and clear refusals. Every file is built here, at test time."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from ml2sc import activations
from ml2sc.capture import Activation, Dense, ModelLoadError, UnsupportedModel, capture
from ml2sc.onnx_import import load_onnx

ort = pytest.importorskip("onnxruntime")


def export(model: nn.Module, path: Path, n_in: int) -> Path:
    """The dynamo exporter, with a dynamic batch dimension (its progress lines silenced)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(), (torch.zeros(2, n_in),), str(path), dynamo=True, dynamic_shapes=({0: "batch"},)
        )
    return path


def forward(ops, x: np.ndarray) -> np.ndarray:
    """The float model the ops describe, in numpy float64."""
    for op in ops:
        if isinstance(op, Dense):
            x = x @ op.weight.T + op.bias
        else:
            x = activations.get(op.kind).float_fn(x, op.params[0] if op.params else 0.0)
    return x


def run_ort(path: Path, x: np.ndarray) -> list:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})


def same_ops(a, b) -> None:
    assert [type(op) for op in a] == [type(op) for op in b]
    for x, y in zip(a, b):
        if isinstance(x, Dense):
            assert x.name == y.name
            assert np.array_equal(x.weight, y.weight) and np.array_equal(x.bias, y.bias)
        else:
            assert x == y


class Functional(nn.Module):
    """Functional calls and a flatten, as tutorials write forward()."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(6, 8)
        self.b = nn.Linear(8, 3)

    def forward(self, x):
        return torch.softmax(self.b(torch.tanh(self.a(torch.flatten(x, 1)))), dim=-1)


def _torch_models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {
        "relu": nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Dropout(0.3), nn.Linear(10, 3)),
        "leaky_relu": nn.Sequential(nn.Linear(6, 9), nn.LeakyReLU(0.1), nn.Linear(9, 4)),
        "sigmoid": nn.Sequential(nn.Linear(6, 8), nn.Sigmoid(), nn.Linear(8, 1), nn.Sigmoid()),
        "tanh_softmax": nn.Sequential(
            nn.Flatten(), nn.Linear(6, 7), nn.Tanh(), nn.Linear(7, 5), nn.Softmax(dim=1)
        ),
        "gelu_silu": nn.Sequential(
            nn.Linear(6, 7),
            nn.GELU(),
            nn.Linear(7, 7),
            nn.GELU(approximate="tanh"),
            nn.Linear(7, 5),
            nn.SiLU(),
            nn.Linear(5, 2),
        ),
        "functional": Functional(),
        "no_bias": nn.Sequential(nn.Linear(6, 4, bias=False), nn.ReLU(), nn.Linear(4, 2)),
    }


@pytest.mark.parametrize("name", sorted(_torch_models()))
def test_torch_export_gives_capture_ops_and_onnxruntime_numbers(tmp_path, name) -> None:
    model = _torch_models()[name].eval()
    path = export(model, tmp_path / f"{name}.onnx", 6)
    ops = load_onnx(path)
    same_ops(ops, capture(model))
    x = np.random.default_rng(1).normal(size=(64, 6)) * 2
    (expected,) = run_ort(path, x)
    assert np.abs(forward(ops, x.astype(np.float32).astype(np.float64)) - expected).max() < 1e-5


def test_batchnorm_folded_by_the_exporter(tmp_path) -> None:
    """The exporter folds an eval BatchNorm1d into the Gemm (in float32): the same layer within 1e-6."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).eval()
    model[1].running_mean.uniform_(-1, 1)
    model[1].running_var.uniform_(0.5, 2)
    ops = load_onnx(export(model, tmp_path / "bn.onnx", 5))
    captured = capture(model)
    assert [getattr(op, "kind", "dense") for op in ops] == [getattr(op, "kind", "dense") for op in captured]
    for a, b in zip(ops, captured):
        if isinstance(a, Dense):
            assert np.abs(a.weight - b.weight).max() < 1e-6 and np.abs(a.bias - b.bias).max() < 1e-6


def test_external_data_files(tmp_path) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    proto = onnx.load(str(export(model, tmp_path / "inline.onnx", 6)))
    folder = tmp_path / "ext"
    folder.mkdir()
    onnx.save(proto, str(folder / "m.onnx"), save_as_external_data=True, location="m.data", size_threshold=0)
    assert (folder / "m.data").stat().st_size > 0
    stored = onnx.load(str(folder / "m.onnx"), load_external_data=False).graph.initializer
    assert all(t.data_location == TensorProto.EXTERNAL for t in stored)
    same_ops(load_onnx(folder / "m.onnx"), capture(model))
    (folder / "m.data").unlink()
    with pytest.raises(ModelLoadError) as err:
        load_onnx(folder / "m.onnx")
    assert str(folder / "m.onnx") in str(err.value) and "\n" not in str(err.value)


# ---- scikit-learn through skl2onnx -------------------------------------------------------------


def _sklearn_data(name: str):
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    loader = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
    }[name]
    x, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(x), y


def _convert(estimator, x: np.ndarray, path: Path, **options) -> Path:
    from skl2onnx import to_onnx

    proto = to_onnx(estimator, x[:1].astype(np.float32), **options)
    path.write_bytes(proto.SerializeToString())
    return path


def _classes(ops, x: np.ndarray) -> np.ndarray:
    """ml2sc's head: argmax, or p > 0.5 for one sigmoid output."""
    out = forward(ops, x)
    return out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5).astype(int)


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
@pytest.mark.parametrize("dataset", ["iris", "wine", "breast_cancer"])
def test_sklearn_classifier(tmp_path, dataset, activation) -> None:
    from sklearn.neural_network import MLPClassifier

    x, y = _sklearn_data(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: the weights need not be good
        clf = MLPClassifier((12, 6), activation=activation, max_iter=200, random_state=0).fit(x, y)
    zipmap = dataset != "wine"  # the default ZipMap output, and the plain probabilities tensor
    path = _convert(clf, x, tmp_path / "clf.onnx", options={"zipmap": zipmap})
    ops = load_onnx(path)
    hidden = {"relu": "relu", "logistic": "sigmoid", "tanh": "tanh", "identity": None}[activation]
    last = "sigmoid" if dataset == "breast_cancer" else "softmax"
    assert [op.kind for op in ops if isinstance(op, Activation)] == [hidden, hidden] * bool(hidden) + [last]
    denses = [op for op in ops if isinstance(op, Dense)]
    for dense, coef, intercept in zip(denses, clf.coefs_, clf.intercepts_):
        assert np.array_equal(dense.weight, coef.T.astype(np.float32)), "weights as skl2onnx stores them"
        assert np.array_equal(dense.bias, intercept.astype(np.float32))
    labels, probabilities = run_ort(path, x)
    x32 = x.astype(np.float32).astype(np.float64)
    assert np.array_equal(_classes(ops, x32), labels)
    if not zipmap:
        out = forward(ops, x32)
        assert np.abs((out if out.shape[1] > 1 else np.hstack([1 - out, out])) - probabilities).max() < 1e-5


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_sklearn_regressor(tmp_path, activation) -> None:
    from sklearn.neural_network import MLPRegressor

    x, y = _sklearn_data("diabetes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = MLPRegressor(hidden_layer_sizes=(16,), activation=activation, max_iter=300, random_state=0)
        reg.fit(x, y)
    path = _convert(reg, x, tmp_path / "reg.onnx")
    ops = load_onnx(path)
    assert [getattr(op, "kind", "dense") for op in ops] == ["dense", activation, "dense"]
    (expected,) = run_ort(path, x)
    out = forward(ops, x.astype(np.float32).astype(np.float64))
    assert out.shape == (len(x), 1)
    assert np.abs(out - expected.reshape(-1, 1)).max() < 1e-4 * np.abs(expected).max()


# ---- refusals ----------------------------------------------------------------------------------


class TimesTwo(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 4)

    def forward(self, x):
        return self.a(x) * 2.0


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 5)

    def forward(self, x):
        return x + torch.relu(self.a(x))


def test_unsupported_torch_ops_are_named(tmp_path) -> None:
    with pytest.raises(UnsupportedModel, match=r"Mul node 'node_mul.*' is not supported"):
        load_onnx(export(TimesTwo(), tmp_path / "mul.onnx", 5))
    with pytest.raises(UnsupportedModel, match="not a single chain"):
        load_onnx(export(Residual(), tmp_path / "res.onnx", 5))


def _graph(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs, list(initializers)),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    onnx.save(model, str(path))
    return path


def _value(name: str, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def test_conv_and_other_graphs_are_refused(tmp_path) -> None:
    pool = helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gap0")
    path = _graph(tmp_path / "gap.onnx", [pool], [_value("x", [1, 2, 5])], [_value("y", [1, 2, 1])])
    with pytest.raises(UnsupportedModel, match=r"GlobalAveragePool node 'gap0' is not supported"):
        load_onnx(path)
    two = _graph(
        tmp_path / "two.onnx",
        [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
        [_value("a", [1, 3]), _value("b", [1, 3])],
        [_value("y", [1, 3])],
    )
    with pytest.raises(UnsupportedModel, match="takes 2 inputs"):
        load_onnx(two)
    ints = _graph(
        tmp_path / "int.onnx",
        [helper.make_node("Relu", ["x"], ["y"], name="r")],
        [_value("x", [1, 3], TensorProto.INT64)],
        [_value("y", [1, 3], TensorProto.INT64)],
    )
    with pytest.raises(UnsupportedModel, match="not a float tensor"):
        load_onnx(ints)
    w2 = onnx.numpy_helper.from_array(np.ones((3, 2), np.float32), "w2")
    soft = _graph(
        tmp_path / "axis.onnx",
        [
            helper.make_node("MatMul", ["x", "w2"], ["h"], name="mm"),
            helper.make_node("Softmax", ["h"], ["y"], name="sm", axis=0),
        ],
        [_value("x", [1, 3])],
        [_value("y", [1, 2])],
        [w2],
    )
    with pytest.raises(UnsupportedModel, match=r"Softmax node 'sm' over axis=0"):
        load_onnx(soft)


def test_sklearn_string_labels_are_refused(tmp_path) -> None:
    from sklearn.neural_network import MLPClassifier

    x, y = _sklearn_data("iris")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((4,), max_iter=20, random_state=0).fit(x, np.array(["a", "b", "c"])[y])
    with pytest.raises(UnsupportedModel, match="labels"):
        load_onnx(_convert(clf, x, tmp_path / "s.onnx", options={"zipmap": False}))


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n", b"\x08\x07\x12\x05garbage\xff\xff"])
def test_corrupt_files_give_one_line(tmp_path, content) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError) as err:
        load_onnx(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ModelLoadError, match="not found"):
        load_onnx(tmp_path / "missing.onnx")


def test_truncated_export_gives_one_line(tmp_path) -> None:
    torch.manual_seed(0)
    path = export(nn.Sequential(nn.Linear(6, 30), nn.ReLU(), nn.Linear(30, 3)), tmp_path / "t.onnx", 6)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelLoadError) as err:
        load_onnx(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
