"""How often the integer contract's answer is the float model's: dataset x source x format x calibration.

    python -m ml2sc.agreement [-o results] [--datasets digits,wine] [--sources torch,onnx,sklearn]

For every scikit-learn dataset that ships offline (digits, wine, breast cancer and iris for classes,
diabetes for regression) it trains small MLPs the way users write them: a torch ``nn.Sequential``
(standardization folded into the first layer), the same model exported to ONNX by
``torch.onnx.export`` and read back from the file, and a scikit-learn ``MLPClassifier`` /
``MLPRegressor`` on the raw features. Each is planned in fixed point and in int8; int8 is calibrated
two ways: ``default`` (on the rows being predicted, what ``ml2sc predict`` does without
``--calibrate``) and ``train`` (on the training rows, ``--calibrate``).

The integer answers come from :mod:`ml2sc.emulator`, which the test suite holds equal to the deployed
contract bit for bit (every layout, both formats); the reference is the float model as users run it:
torch, onnxruntime for ONNX files, and ``predict`` for scikit-learn. Classification rows give the
share of test rows whose class agrees, and accuracy against the labels for both; regression rows
give the largest error as a share of the reference outputs' range. Writes ``agreement.csv`` and
``agreement.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import logging
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from evmkit.cliargs import name_list
from evmkit.table import format_table

from . import emulator
from .datasets import Split, load_split, torch_predict, train_mlp, train_regressor
from .plan import decode_outputs, encode_inputs
from .workflow import Settings, plan_model

CLASSIFICATION = ("digits", "wine", "breast_cancer", "iris")
REGRESSION = ("diabetes",)
SOURCES = ("torch", "onnx", "sklearn")
TARGET = 0.99  # the agreement int8 must reach with its default calibration
HIDDEN = (32,)  # one hidden layer of 32: digits' model is the bench's 64-32-10


@dataclass
class Row:
    dataset: str
    source: str
    format: str
    calibration: str
    rows: int
    agreement: float | None  # classification: share of rows whose class is the reference's
    accuracy: float | None  # the integer model's accuracy against the labels
    reference_accuracy: float | None
    max_error_of_range: float | None  # regression: max |int - ref| / (max ref - min ref)


@dataclass(frozen=True)
class Reference:
    """A model as ml2sc reads it, and the float answers users get from it on the test rows."""

    model: object  # what plan_model takes: a module, a fitted sklearn MLP or a file path
    x_train: np.ndarray  # the rows the model takes (sklearn: standardized, as a Pipeline would)
    x_test: np.ndarray
    outputs: np.ndarray  # (rows, outputs) float outputs (classification: only classes are compared)
    classes: np.ndarray | None  # None for regression


def _torch_reference(split: Split, regression: bool) -> Reference:
    import torch

    model = train_regressor(split) if regression else train_mlp(split, hidden=HIDDEN)
    with torch.no_grad():
        out = model(torch.tensor(split.x_test, dtype=torch.float32)).double().numpy()
    classes = None if regression else torch_predict(model, split.x_test)
    return Reference(model, split.x_train, split.x_test, out, classes)


def _onnx_reference(split: Split, regression: bool, folder: Path) -> Reference:
    import onnxruntime
    import torch

    torch_ref = _torch_reference(split, regression)
    path = folder / f"{split.name}.onnx"
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" lines
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            torch_ref.model,
            (torch.zeros(2, split.n_features),),
            str(path),
            dynamo=True,
            dynamic_shapes=({0: "batch"},),
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: split.x_test.astype(np.float32)}
    out = np.asarray(session.run(None, feed)[0], dtype=np.float64)
    if regression:
        return Reference(path, split.x_train, split.x_test, out, None)
    classes = (out[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)
    return Reference(path, split.x_train, split.x_test, out, classes)


def _sklearn_reference(split: Split, regression: bool) -> Reference:
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(split.x_train)  # what sklearn's MLP docs ask users to do
    x_train, x_test = scaler.transform(split.x_train), scaler.transform(split.x_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: the figures are what they are
        if regression:
            model = MLPRegressor(hidden_layer_sizes=HIDDEN, max_iter=2000, random_state=0)
            model.fit(x_train, split.y_train)
            return Reference(model, x_train, x_test, model.predict(x_test).reshape(-1, 1), None)
        model = MLPClassifier(hidden_layer_sizes=HIDDEN, max_iter=1000, random_state=0)
        model.fit(x_train, split.y_train)
    index = np.searchsorted(model.classes_, model.predict(x_test))
    return Reference(model, x_train, x_test, model.predict_proba(x_test), index)


def _plans(reference: Reference) -> Iterator[tuple[str, str, object]]:
    """(format, calibration, plan) for fixed point and for int8 calibrated both ways."""
    yield "fixed", "-", plan_model(reference.model, Settings("fixed"))[0]
    for calibration, rows in (("default", reference.x_test), ("train", reference.x_train)):
        yield "int8", calibration, plan_model(reference.model, Settings("int8", calibration=rows))[0]


def measure(dataset: str, source: str, folder: Path) -> list[Row]:
    """Every format x calibration of one dataset's model from one source."""
    regression = dataset in REGRESSION
    split = load_split(dataset)
    make: dict[str, Callable[[], Reference]] = {
        "torch": lambda: _torch_reference(split, regression),
        "onnx": lambda: _onnx_reference(split, regression, folder),
        "sklearn": lambda: _sklearn_reference(split, regression),
    }
    reference = make[source]()
    out = []
    for fmt, calibration, plan in _plans(reference):
        encoded = encode_inputs(plan, reference.x_test.tolist())
        predictions = [emulator.predict(plan, row) for row in encoded]
        n = len(predictions)
        if regression:
            got = np.array([decode_outputs(plan, p.outputs) for p in predictions])
            spread = float(reference.outputs.max() - reference.outputs.min()) or 1.0
            error = float(np.max(np.abs(got - reference.outputs))) / spread
            out.append(Row(dataset, source, fmt, calibration, n, None, None, None, error))
            continue
        classes = np.array([p.predicted_class for p in predictions])
        assert reference.classes is not None
        out.append(
            Row(
                dataset,
                source,
                fmt,
                calibration,
                n,
                float(np.mean(classes == reference.classes)),
                float(np.mean(classes == split.y_test)),
                float(np.mean(reference.classes == split.y_test)),
                None,
            )
        )
    return out


def _pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def table(rows: Sequence[Row]) -> tuple[list[str], list[list[str]]]:
    header = [
        "dataset",
        "source",
        "format",
        "calibration",
        "rows",
        "agreement",
        "accuracy",
        "float acc.",
        "max err",
    ]
    body = [
        [
            r.dataset,
            r.source,
            r.format,
            r.calibration,
            str(r.rows),
            _pct(r.agreement),
            _pct(r.accuracy, 1),
            _pct(r.reference_accuracy, 1),
            "-" if r.max_error_of_range is None else f"{100 * r.max_error_of_range:.3g}%",
        ]
        for r in rows
    ]
    return header, body


def write(rows: Sequence[Row], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "agreement.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    header, body = table(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    (folder / "agreement.md").write_text("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ml2sc.agreement",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-o", "--output", default="results", metavar="DIR", help="output folder (default results)"
    )
    parser.add_argument(
        "--datasets",
        type=name_list(CLASSIFICATION + REGRESSION, "dataset"),
        default=list(CLASSIFICATION + REGRESSION),
        help=f"comma-separated, from {', '.join(CLASSIFICATION + REGRESSION)} (default all)",
    )
    parser.add_argument(
        "--sources",
        type=name_list(SOURCES, "source"),
        default=list(SOURCES),
        help=f"comma-separated, from {', '.join(SOURCES)} (default all; onnx needs the test extra)",
    )
    args = parser.parse_args(argv)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="ml2sc-agreement-") as tmp:
        for dataset in args.datasets:
            for source in args.sources:
                print(f"  {dataset} / {source} ...", file=sys.stderr, flush=True)
                try:
                    rows += measure(dataset, source, Path(tmp))
                except ModuleNotFoundError as exc:
                    print(f"  {dataset} / {source}: skipped, {exc.name} is not installed", file=sys.stderr)
    if not rows:
        print("ml2sc.agreement: nothing measured", file=sys.stderr)
        return 1
    header, body = table(rows)
    print(format_table(body, header=tuple(header)))
    write(rows, Path(args.output))
    low = [
        r
        for r in rows
        if r.format == "int8"
        and r.calibration == "default"
        and r.agreement is not None
        and r.agreement < TARGET
    ]
    for r in low:
        print(
            f"below {TARGET:.0%}: {r.dataset} / {r.source} int8 default calibration: {_pct(r.agreement)}",
            file=sys.stderr,
        )
    print(f"wrote {Path(args.output) / 'agreement.csv'} and agreement.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
