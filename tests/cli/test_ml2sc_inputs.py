"""``ml2sc predict --input`` on files as users write them: pandas headers read as headers, and bad files as
one line naming the file and the place, before anything is compiled or deployed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ml2sc import emulator
from ml2sc.capture import capture
from ml2sc.plan import build_plan, encode_inputs

ML2SC = [sys.executable, "-m", "ml2sc.cli"]


def predict(model: Path, source: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ML2SC, "predict", str(model), "--input", str(source), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    torch.save(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), path)
    return path


def test_pandas_csv_with_its_default_header_predicts_every_row(model_file: Path, tmp_path: Path) -> None:
    rows = np.random.default_rng(5).normal(size=(3, 4))
    # pd.DataFrame(rows).to_csv(sep=";", index=True), written out: pandas is not a dependency
    text = ";0;1;2;3\n" + "".join(
        f"{i};" + ";".join(repr(float(v)) for v in r) + "\n" for i, r in enumerate(rows)
    )
    (tmp_path / "rows.csv").write_text(text)
    result = predict(model_file, tmp_path / "rows.csv")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    plan = build_plan(capture(torch.load(model_file, weights_only=False)))
    expected = [emulator.predict(plan, r).predicted_class for r in encode_inputs(plan, rows.tolist())]
    assert report["predictions"] == expected and sum(report["rows_per_call"]) == 3
    assert report["emulator_agrees"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("words.csv", "a,b,c,d\n1,2,3,4\n1,2,abc,4\n", "words.csv line 3, column 3: 'abc' is not a number"),
        ("ragged.csv", "1,2,3,4\n1,2,3\n", "ragged.csv line 2 has 3 cells; line 1 (the first row) has 4"),
        ("euro.csv", "a;b;c;d\n0,5;1;2;3\n", "euro.csv mixes delimiters: line 1 uses semicolon and line 2"),
        ("empty.csv", "", "empty.csv is empty: no rows"),
        (
            "binary.csv",
            b"\x89PNG\r\n\x1a\n",
            "binary.csv is binary, not a CSV text file (byte 0x89 at offset 0)",
        ),
        ("nan.csv", "1,2,3,nan\n", "nan.csv line 1, column 4: 'nan' is a NaN or infinite value"),
        ("images.npy", np.zeros((2, 2, 2)), "images.npy holds a 3-D array of shape (2, 2, 2)"),
        ("objects.npy", np.array([[1, "x"]], dtype=object), "objects.npy holds an object array"),
        ("folder", None, "folder is a folder, not an input file"),
    ],
)
def test_bad_input_files_are_one_line_errors(
    model_file: Path, tmp_path: Path, name: str, content: str | bytes | np.ndarray | None, expected: str
) -> None:
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif isinstance(content, np.ndarray):
        np.save(path, content, allow_pickle=True)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = predict(model_file, path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ml2sc: error: "), result.stderr
    assert expected in lines[0]
