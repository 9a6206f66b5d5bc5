"""The ml2sc command line on models as users have them: scikit-learn MLPs in joblib / pickle files
(predicted on-chain, equal to sklearn's own predict), a regressor's outputs without a class column, a
state_dict with --arch from the current directory, and unreadable files refused in one line."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_wine
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

# the installed console script, as users run it: unlike `python -m`, it does not import from the cwd
SCRIPT = Path(sys.executable).with_name("ml2sc")
ML2SC = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "ml2sc.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ML2SC, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=dict(os.environ)
    )


def scaled(loader):
    x, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(x), y


def test_joblib_classifier_predicts_on_chain_as_sklearn_does(tmp_path: Path) -> None:
    x, y = scaled(load_wine)
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=800, random_state=1).fit(x, y)
    joblib.dump(clf, tmp_path / "wine.joblib")
    rows = x[::30]
    np.save(tmp_path / "rows.npy", rows)
    result = run("predict", str(tmp_path / "wine.joblib"), "--input", str(tmp_path / "rows.npy"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["emulator_agrees"]
    assert list(clf.classes_[report["predictions"]]) == list(clf.predict(rows))
    assert np.allclose(np.array(report["outputs"]), clf.predict_proba(rows), atol=1e-6)


def test_pickled_regressor_prints_outputs_without_a_class(tmp_path: Path) -> None:
    x, y = scaled(load_diabetes)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=1500, random_state=0).fit(x, y)
    (tmp_path / "diabetes.pkl").write_bytes(pickle.dumps(reg))
    rows = x[:3]
    np.save(tmp_path / "rows.npy", rows)
    args = ("predict", str(tmp_path / "diabetes.pkl"), "--input", str(tmp_path / "rows.npy"))
    table = run(*args)
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0].split()
    assert header == ["row", "outputs"] and "class" not in table.stdout
    report = json.loads(run(*args, "--json").stdout)
    assert "predictions" not in report and report["emulator_agrees"]
    assert np.allclose([o[0] for o in report["outputs"]], reg.predict(rows), atol=1e-9)


def test_state_dict_with_arch_imports_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "mynets_cli.py").write_text(
        "from torch import nn\nclass Net(nn.Sequential):\n"
        "    def __init__(self):\n        super().__init__(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        from mynets_cli import Net  # type: ignore[import-not-found]

        torch.save(Net().state_dict(), tmp_path / "weights.pt")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mynets_cli", None)
    result = run("translate", "weights.pt", "--arch", "mynets_cli:Net", "-o", "out", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["architecture"] == "3-4-2"
    missing = run("translate", "weights.pt", "-o", "out", cwd=tmp_path)
    assert missing.returncode == 1 and "holds a state_dict" in missing.stderr and "--arch" in missing.stderr
    wrong = run("translate", "weights.pt", "--arch", "mynets_cli:Nope", cwd=tmp_path)
    assert (
        wrong.stderr.strip()
        == "ml2sc: error: --arch mynets_cli:Nope: module 'mynets_cli' has no class 'Nope'"
    )
    help_text = " ".join(run("translate", "--help").stdout.split())
    assert "sys.path for this import only" in help_text and "joblib or pickle" in help_text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("1,2,3\n"), "it is a text file, not a model file"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.mkdir(), "is a folder, not a model file"),
    ],
)
def test_unreadable_model_files_are_one_line(tmp_path: Path, make, message: str) -> None:
    make(tmp_path / "model.pt")
    result = run("translate", str(tmp_path / "model.pt"), "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_class_from_the_saving_script_is_explained(tmp_path: Path) -> None:
    script = (
        "import torch\nfrom torch import nn\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__(); self.fc = nn.Linear(2, 1)\n"
        "torch.save(Net(), 'net.pt')\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, timeout=120)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(tmp_path / "net.pt", elsewhere / "net.pt")
    result = run("translate", "net.pt", cwd=elsewhere)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "its class 'Net' was defined in the script that saved it (__main__)" in result.stderr
