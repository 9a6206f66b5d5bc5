"""Models as users bring them: fitted scikit-learn MLPs (in memory, joblib, pickle), state_dicts with
an architecture, and files ml2sc cannot read, each refused in one line that says what to do."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from torch import nn

from ml2sc import emulator, workflow
from ml2sc.capture import Activation, ModelLoadError, UnsupportedModel, capture, file_kind, load_model
from ml2sc.plan import build_plan, decode_outputs, encode_inputs


def scaled(loader):
    x, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(x), y


def fit(estimator, loader):
    x, y = scaled(loader)
    return estimator.fit(x, y), x


@pytest.fixture(scope="module")
def multiclass():
    return fit(MLPClassifier((12,), activation="tanh", max_iter=600, random_state=0), load_wine)


@pytest.fixture(scope="module")
def binary():
    x, y = scaled(load_iris)
    clf = MLPClassifier((8, 6), activation="logistic", max_iter=1500, random_state=0)
    return clf.fit(x, (y == 2).astype(int) * 3 + 4), x  # labels 4 / 7: classes_ maps indices back


@pytest.fixture(scope="module")
def regressor():
    return fit(
        MLPRegressor(hidden_layer_sizes=(16,), activation="relu", max_iter=1500, random_state=0),
        load_diabetes,
    )


def emulated(model, x: np.ndarray):
    plan = build_plan(capture(model))
    return plan, [emulator.predict(plan, row) for row in encode_inputs(plan, x.tolist())]


def kinds(ops):
    return [op.kind if isinstance(op, Activation) else f"dense{op.n_in}x{op.n_out}" for op in ops]


def test_multiclass_classifier_is_a_softmax_head_with_sklearns_classes(multiclass) -> None:
    clf, x = multiclass
    assert kinds(capture(clf)) == ["dense13x12", "tanh", "dense12x3", "softmax"]
    plan, predictions = emulated(clf, x)
    assert plan.head == "argmax"
    assert list(clf.classes_[[p.predicted_class for p in predictions]]) == list(clf.predict(x))


def test_binary_classifier_is_one_sigmoid_output(binary) -> None:
    clf, x = binary
    assert kinds(capture(clf)) == ["dense4x8", "sigmoid", "dense8x6", "sigmoid", "dense6x1", "sigmoid"]
    plan, predictions = emulated(clf, x)
    assert plan.head == "sigmoid"
    assert list(clf.classes_[[p.predicted_class for p in predictions]]) == list(clf.predict(x))


def test_regressor_outputs_are_its_predictions_within_fixed_point_error(regressor) -> None:
    reg, x = regressor
    assert kinds(capture(reg)) == ["dense10x16", "relu", "dense16x1"]
    plan, predictions = emulated(reg, x)
    outputs = np.array([decode_outputs(plan, p.outputs)[0] for p in predictions])
    assert np.max(np.abs(outputs - reg.predict(x))) < 1e-9  # Q.60: rounding of inputs and weights only


def test_identity_activation_and_the_regression_flag(regressor) -> None:
    x, y = scaled(load_diabetes)
    reg = MLPRegressor(hidden_layer_sizes=(4,), activation="identity", max_iter=50, random_state=0).fit(
        x, np.c_[y, -y]
    )
    assert kinds(capture(reg)) == ["dense10x4", "dense4x2"]
    plan = build_plan(capture(reg))
    assert workflow.is_regression(reg, plan) and plan.head == "argmax"  # two outputs, still numbers
    three, one = nn.Sequential(nn.Linear(2, 3)), nn.Sequential(nn.Linear(2, 1))
    assert not workflow.is_regression(three, build_plan(capture(three)))
    assert workflow.is_regression(one, build_plan(capture(one)))  # one output, no sigmoid: a number
    assert not workflow.is_regression(one, build_plan(capture(nn.Sequential(one, nn.Sigmoid()))))


def test_unfitted_multilabel_and_other_estimators_are_refused() -> None:
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(UnsupportedModel, match="not fitted"):
        capture(MLPClassifier())
    with pytest.raises(UnsupportedModel, match="LogisticRegression is not supported"):
        capture(LogisticRegression())
    x = np.random.default_rng(0).normal(size=(30, 3))
    multilabel = MLPClassifier((3,), max_iter=20, random_state=0).fit(x, np.c_[x[:, 0] > 0, x[:, 1] > 0])
    with pytest.raises(UnsupportedModel, match="multi-label"):
        capture(multilabel)


@pytest.mark.parametrize("suffix", [".joblib", ".pkl", ".pickle", ".bin"])
def test_joblib_and_pickle_files_are_read_by_their_bytes(multiclass, tmp_path: Path, suffix: str) -> None:
    clf, x = multiclass
    path = tmp_path / f"wine{suffix}"
    if suffix == ".pkl":
        path.write_bytes(pickle.dumps(clf))
    else:
        joblib.dump(clf, path, compress=3 if suffix == ".bin" else 0)
    assert file_kind(path) == ("compressed" if suffix == ".bin" else "pickle")
    loaded = load_model(path)
    assert [p.predicted_class for p in emulated(loaded, x[:20])[1]] == [
        p.predicted_class for p in emulated(clf, x[:20])[1]
    ]


def test_old_torch_save_format_still_loads(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    torch.save(model, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    assert file_kind(tmp_path / "old.pt") == "pickle"
    assert kinds(capture(load_model(tmp_path / "old.pt"))) == ["dense3x2"]


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 6), nn.Linear(6, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class NeedsArgs(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(4, width)


def test_state_dict_with_arch_as_string_class_or_module(tmp_path: Path, monkeypatch) -> None:
    torch.manual_seed(0)
    net = Net()
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    (tmp_path / "localnets.py").write_text(Path(__file__).read_text())  # Net, importable from cwd only
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "localnets", raising=False)
    from_string = load_model("weights.pt", arch="localnets:Net")
    assert str(tmp_path) not in sys.path  # importable for that import only
    for arch in (Net, Net()):
        loaded = load_model("weights.pt", arch=arch)
        assert loaded.fc1.weight.tolist() == net.fc1.weight.tolist()
    assert from_string.fc2.bias.tolist() == net.fc2.bias.tolist()
    t = workflow.resolve_model(net.state_dict(), Net)[0]  # a state_dict in memory, too
    assert kinds(capture(t)) == ["dense4x6", "relu", "dense6x2"]
    sys.modules.pop("localnets", None)


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("nosuchmodule_xyz:Net", "cannot import module 'nosuchmodule_xyz'"),
        ("torch.nn:NoSuchNet", "module 'torch.nn' has no class 'NoSuchNet'"),
        ("Net", "expected module:Class"),
        (NeedsArgs, r"NeedsArgs\(\) needs arguments"),
        (
            nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)),
            r"missing keys: 0.weight.*unexpected keys: fc1.weight",
        ),
        (nn.Sequential(nn.Linear(4, 5)), "does not fit"),
    ],
)
def test_arch_errors_are_one_line(tmp_path: Path, arch, message: str) -> None:
    torch.save(Net().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(ModelLoadError, match=message) as info:
        load_model(tmp_path / "weights.pt", arch=arch)
    assert "\n" not in str(info.value)


def test_arch_on_a_whole_module_is_refused(tmp_path: Path) -> None:
    torch.save(nn.Sequential(nn.Linear(2, 1)), tmp_path / "whole.pt")
    with pytest.raises(ModelLoadError, match="--arch applies to a state_dict file"):
        load_model(tmp_path / "whole.pt", arch=Net)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"0.1,0.2,0.3\n1,2,3\n", "it is a text file, not a model file"),
        (b"\x01\x02\x03\x00\xff\xfe", "not a model file"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "model.pt").write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        load_model(tmp_path / "model.pt")


def test_a_folder_is_not_a_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="is a folder, not a model file"):
        load_model(tmp_path)


def save_in_subprocess(folder: Path, script: str) -> None:
    subprocess.run([sys.executable, "-c", script], cwd=folder, check=True, timeout=120)


def test_class_from_the_saving_script_is_explained(tmp_path: Path) -> None:
    save_in_subprocess(
        tmp_path,
        "import torch\nfrom torch import nn\nclass ScriptNet(nn.Module):\n"
        "    def __init__(self):\n        super().__init__(); self.fc = nn.Linear(2, 1)\n"
        "torch.save(ScriptNet(), 'net.pt')\n",
    )
    with pytest.raises(ModelLoadError) as info:
        load_model(tmp_path / "net.pt")
    text = str(info.value)
    assert "'ScriptNet' was defined in the script that saved it (__main__)" in text
    assert "torch.save(model.state_dict())" in text and "--arch" in text and "\n" not in text


def test_class_in_a_local_module_is_found_from_its_folder(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "farnets_abc.py").write_text(
        "from torch import nn\nclass Far(nn.Sequential):\n"
        "    def __init__(self):\n        super().__init__(nn.Linear(3, 2), nn.ReLU())\n"
    )
    save_in_subprocess(tmp_path, "import torch, farnets_abc\ntorch.save(farnets_abc.Far(), 'far.pt')\n")
    with pytest.raises(
        ModelLoadError, match="module 'farnets_abc', which is not importable from here.*PYTHONPATH"
    ):
        load_model(tmp_path / "far.pt")
    monkeypatch.chdir(tmp_path)
    assert kinds(capture(load_model("far.pt"))) == ["dense3x2", "relu"]
    sys.modules.pop("farnets_abc", None)


@pytest.mark.parametrize("name", ["model.onnx", "model.bin"])
def test_onnx_files_go_to_the_onnx_importer(tmp_path: Path, monkeypatch, name: str) -> None:
    from ml2sc import onnx_import

    calls = []
    monkeypatch.setattr(onnx_import, "load_onnx", lambda path: calls.append(Path(path)) or ["ops"])
    path = tmp_path / name
    path.write_bytes(b"\x08\x08\x12\x07pytorch")  # ModelProto: ir_version 8, producer_name
    assert load_model(path) == ["ops"] and calls == [path]


def test_in_memory_estimators_predict_on_chain(binary, regressor) -> None:
    import ml2sc

    clf, x = binary
    result = ml2sc.deploy(ml2sc.translate(clf)).predict(x[::40])
    assert list(clf.classes_[result.classes]) == list(clf.predict(x[::40])) and not result.regression
    reg, x = regressor
    translation = ml2sc.translate(reg)
    assert translation.regression and translation.compiled.contract_name.startswith("MLPRegressor")
    result = ml2sc.deploy(translation).predict(x[:2])
    assert result.regression and all(result.emulator_agrees)
    assert np.allclose([o[0] for o in result.outputs], reg.predict(x[:2]), atol=1e-9)


def test_training_checkpoints_are_explained_with_and_without_arch(tmp_path: Path) -> None:
    """A {'state_dict': ..., 'epoch': 3} checkpoint is neither a model nor a state_dict: both
    routes say so, and say how to save the part ml2sc reads."""
    torch.save({"state_dict": Net().state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    with pytest.raises(ModelLoadError, match=r"holds a dict, not a model.*checkpoint\['state_dict'\]"):
        load_model(tmp_path / "ckpt.pt")
    with pytest.raises(ModelLoadError, match=r"holds a dict, not a state_dict \(a training checkpoint"):
        load_model(tmp_path / "ckpt.pt", arch=Net)
    torch.save(3, tmp_path / "int.pt")
    with pytest.raises(ModelLoadError, match="holds an int, not a model"):
        load_model(tmp_path / "int.pt")


def test_a_bare_linear_layer_is_a_model() -> None:
    from ml2sc.capture import capture

    layer = nn.Linear(4, 2)
    ops = capture(layer)
    assert len(ops) == 1 and ops[0].weight.tolist() == layer.weight.detach().double().tolist()
