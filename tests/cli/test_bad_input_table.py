"""Every line of the README's bad-input table, run: the case it names gives exactly the error it shows.

The table sits between ``<!-- bad-input-table -->`` markers in README.md; each row is
``| case | command | error |``. Here each case builds its files in a fresh folder and runs the CLI
in-process (from that folder, so the file names in the messages are the table's). In the README an
ellipsis (…) stands for a part that depends on the machine or the gas schedule (an address, a gas
figure); everything else must match character for character. A case in the table without a builder
here, or a builder without its line, fails the test.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ml2sc.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "<!-- bad-input-table -->"


def table() -> dict[str, tuple[str, str]]:
    """case -> (command, error) from the README's table."""
    text = README.read_text()
    start, end = text.index(MARK), text.index(MARK.replace("<!-- ", "<!-- /"))
    rows = {}
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("case", "---") or set(cells[0]) <= {"-"}:
            continue
        rows[cells[0]] = (cells[1].strip("`"), cells[2].strip("`"))
    return rows


def _model(path: Path, n_in: int = 4) -> None:
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(n_in, 8), nn.ReLU(), nn.Linear(8, 3)), path)


def _rows(path: Path, text: str = "1,2,3,4\n5,6,7,8\n") -> None:
    path.write_text(text)


def _deployed(d: Path) -> None:
    """m.pt deployed on the embedded chain, its manifest at m.deployment.json."""
    _model(d / "m.pt")
    assert main(["deploy", "m.pt", "--json"]) == 0


# Each builder prepares the folder; the table's command then runs in it.
BUILDERS: dict[str, Callable[[Path], None]] = {}


def case(name: str):
    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        BUILDERS[name] = fn
        return fn

    return register


@case("model file is text")
def _(d: Path) -> None:
    (d / "notes.pt").write_text("hello\n")
    _rows(d / "rows.csv")


@case("model file is empty")
def _(d: Path) -> None:
    (d / "empty.pt").write_bytes(b"")
    _rows(d / "rows.csv")


@case("model path is a folder")
def _(d: Path) -> None:
    (d / "models").mkdir()
    _rows(d / "rows.csv")


@case("class defined in the saving script")
def _(d: Path) -> None:
    script = (
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 2)\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
        "torch.save(Net(), 'net.pt')\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=d, check=True, timeout=120)


@case("state_dict without --arch")
def _(d: Path) -> None:
    torch.save(nn.Linear(4, 2).state_dict(), d / "weights.pt")


@case("unsupported layer")
def _(d: Path) -> None:
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 2))
    torch.save(model, d / "pool.pt")


@case("unsupported ONNX op")
def _(d: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 1])
    node = helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gap1")
    graph = helper.make_graph([node], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), d / "gap.onnx")


@case("unsupported scikit-learn model")
def _(d: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    (d / "logreg.pkl").write_bytes(pickle.dumps(clf))


@case("a word in the input")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv", "1,2,3,4\n5,six,7,8\n")


@case("two delimiters in one file")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv", "1;2,5;3;4\n")


@case("3-D array")
def _(d: Path) -> None:
    _model(d / "m.pt")
    np.save(d / "images.npy", np.zeros((2, 2, 2)))


@case("binary input file")
def _(d: Path) -> None:
    _model(d / "m.pt")
    (d / "rows.csv").write_bytes(bytes(range(256)))


@case("wrong number of features")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv", "1,2,3\n")


@case("NaN in the input")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv", "1,2,nan,4\n")


@case("weight too large for the fixed format")
def _(d: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight[0, 0] = 1e30
    torch.save(model, d / "big.pt")


@case("weight too large for int8")
def _(d: Path) -> None:
    BUILDERS["weight too large for the fixed format"](d)
    _rows(d / "rows.csv")


@case("an outlier in the int8 calibration rows")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv", "1e30,3.5,1.4,0.2\n5,3,1,0.2\n")


@case("calibration rows for fixed point")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv")


@case("an input beyond the fixed format")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv", "1e300,3.5,1.4,0.2\n")


@case("a training checkpoint")
def _(d: Path) -> None:
    torch.save({"state_dict": nn.Linear(4, 2).state_dict(), "epoch": 3}, d / "ckpt.pt")


@case("a gas limit beyond any block")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv")


@case("--gas-limit with a node")
def _(d: Path) -> None:
    _model(d / "m.pt")


@case("int8 without calibration rows")
def _(d: Path) -> None:
    _model(d / "m.pt")


@case("block too small for the deployment")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv")


@case("zero rows per call")
def _(d: Path) -> None:
    _model(d / "m.pt")
    _rows(d / "rows.csv")


@case("number options on a manifest")
def _(d: Path) -> None:
    _deployed(d)
    _rows(d / "rows.csv")


@case("model file changed since deploy")
def _(d: Path) -> None:
    _deployed(d)
    _model(d / "m.pt", n_in=5)
    _rows(d / "rows.csv")


@case("overwriting a complete manifest")
def _(d: Path) -> None:
    _deployed(d)


@case("unreachable node")
def _(d: Path) -> None:
    _model(d / "m.pt")


@case("no key for a node")
def _(d: Path) -> None:
    _model(d / "m.pt")


def _matches(expected: str, got: str) -> bool:
    pattern = ".+?".join(re.escape(part) for part in expected.split("…"))
    return re.fullmatch(pattern, got) is not None


def test_every_case_has_a_line_and_every_line_a_case() -> None:
    assert sorted(table()) == sorted(BUILDERS)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_the_table_line_is_what_the_cli_says(name: str, tmp_path: Path, monkeypatch) -> None:
    command, expected = table()[name]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ETH_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("ETH_RPC_URL", raising=False)
    with contextlib.redirect_stdout(io.StringIO()):
        BUILDERS[name](tmp_path)
    argv = command.split()
    while "=" in argv[0]:  # VAR=value before the command: the environment it runs with
        name, value = argv.pop(0).split("=", 1)
        monkeypatch.setenv(name, value)
    assert argv[0] == "ml2sc"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv[1:])
        except SystemExit as exc:  # argparse's own refusals
            code = exc.code
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    assert code in (1, 2), err.getvalue()
    assert lines and _matches(expected, lines[-1]), f"README: {expected}\nCLI:    {lines[-1:]}"


def test_the_manifest_is_untouched_by_a_refused_overwrite(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        _deployed(tmp_path)
    before = (tmp_path / "m.deployment.json").read_text()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["deploy", "m.pt"]) == 1
    assert (tmp_path / "m.deployment.json").read_text() == before and json.loads(before)["complete"]
