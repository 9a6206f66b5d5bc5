"""Convolutional models through the ml2sc command line, end to end, as a user runs it: a torch file and
its ONNX export predicted on the embedded chain in both formats, and the refusals a conv model meets."""

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


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ML2SC, *args], capture_output=True, text=True, timeout=600, env=dict(os.environ))


def _net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Unflatten(1, (1, 6, 6)),
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(27, 4),
    ).eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cnn")
    net = _net()
    torch.save(net, folder / "cnn.pt")
    torch.onnx.export(net, (torch.zeros(2, 36),), str(folder / "cnn.onnx"), dynamo=True)
    rows = np.random.default_rng(2).uniform(0, 1, (5, 36))
    np.savetxt(folder / "rows.csv", rows, delimiter=",")
    return {"pt": folder / "cnn.pt", "onnx": folder / "cnn.onnx", "rows": folder / "rows.csv"}


@pytest.mark.parametrize("source, fmt", [("pt", "fixed"), ("onnx", "int8")])
def test_conv_model_predicts_on_chain_like_the_emulator(
    files: dict[str, Path], source: str, fmt: str
) -> None:
    rows = np.loadtxt(files["rows"], delimiter=",")
    result = run("predict", str(files[source]), "--input", str(files["rows"]), "--format", fmt, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["emulator_agrees"] and len(report["predictions"]) == len(rows)
    if fmt == "fixed":
        plan = build_plan(capture(_net()))
        expected = [emulator.predict(plan, r).predicted_class for r in encode_inputs(plan, rows.tolist())]
        assert report["predictions"] == expected


def test_translate_and_estimate_name_the_conv_layers(files: dict[str, Path], tmp_path: Path) -> None:
    result = run("translate", str(files["pt"]), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "1x6x6-conv3x3 pad 1x1(3x6x6)-maxpool2x2(3x3x3)-4" in result.stdout
    result = run("estimate", str(files["pt"]), "--format", "int8", "--calibrate", str(files["rows"]))
    assert result.returncode == 0, result.stderr
    assert "inference" in result.stdout


def test_a_conv_first_model_without_its_image_shape_is_one_line(tmp_path: Path) -> None:
    torch.save(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 1)), tmp_path / "bare.pt")
    result = run("translate", str(tmp_path / "bare.pt"), "-o", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nn.Unflatten" in lines[0], result.stderr
