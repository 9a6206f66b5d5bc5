"""The ml2sc command line, end to end in subprocesses, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ml2sc import emulator
from ml2sc.blob import encode_blob
from ml2sc.capture import capture
from ml2sc.plan import build_plan, encode_inputs

ML2SC = [sys.executable, "-m", "ml2sc.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ML2SC, *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    path = tmp_path_factory.mktemp("model") / "iris_like.pt"
    torch.save(model, path)
    return path


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(4, 4)) * 3


def test_help_explains_every_command() -> None:
    top = run("--help")
    text = " ".join(top.stdout.split())
    assert top.returncode == 0 and "translate" in text and "load only files you trust" in text
    for command in ("translate", "deploy", "predict", "verify", "bench", "demo"):
        result = run(command, "--help")
        assert result.returncode == 0, command
        assert "usage: ml2sc " + command in result.stdout


def test_translate_writes_source_weights_and_artifact(model_file: Path, tmp_path: Path) -> None:
    result = run("translate", str(model_file), "-o", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["architecture"] == "4-5-3" and summary["n_params"] == 4 * 5 + 5 + 5 * 3 + 3
    assert summary["layout"] == "inline"  # auto: small enough to live in the contract
    source = Path(summary["contract"]).read_text()
    assert "contract IrisLikeMLP" in source and "function predict(int256[] calldata input)" in source
    weights = json.loads(Path(summary["weights"]).read_text())
    blob = encode_blob(build_plan(capture(torch.load(model_file, weights_only=False))))
    assert weights["blob"] == "0x" + blob.data.hex() and weights["weights_hash"] == "0x" + blob.hash.hex()
    assert json.loads(Path(summary["artifact"]).read_text())["bytecode"].startswith("0x60")


def test_translate_int8_needs_calibration_and_uses_it(
    model_file: Path, rows: np.ndarray, tmp_path: Path
) -> None:
    line = one_line_error(run("translate", str(model_file), "-o", str(tmp_path), "--format", "int8"))
    assert "--calibrate FILE" in line
    np.save(tmp_path / "cal.npy", rows)
    result = run(
        "translate",
        str(model_file),
        "-o",
        str(tmp_path),
        "--format",
        "int8",
        "--layout",
        "packed",
        "--calibrate",
        str(tmp_path / "cal.npy"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["layout"] == "packed" and summary["format"].startswith("int8")
    assert "function predict(bytes calldata input)" in Path(summary["contract"]).read_text()


def test_predict_csv_and_npy_match_the_emulator(model_file: Path, rows: np.ndarray, tmp_path: Path) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text("a,b,c,d\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in rows) + "\n")
    npy = tmp_path / "rows.npy"
    np.save(npy, rows)
    plan = build_plan(capture(torch.load(model_file, weights_only=False)))
    expected = [emulator.predict(plan, r) for r in encode_inputs(plan, rows.tolist())]
    for source in (csv, npy):
        result = run("predict", str(model_file), "--input", str(source), "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["predictions"] == [e.predicted_class for e in expected]
        assert report["outputs"] == [[plan.fmt.decode(v) for v in e.outputs] for e in expected]
        assert (
            report["gas_used"] == sum(report["gas_per_call"]) > 21_000 and sum(report["rows_per_call"]) == 4
        )
        assert report["deploy_gas"] > 0 and report["emulator_agrees"]


def test_predict_int8_calibrates_on_its_rows_and_says_so(
    model_file: Path, rows: np.ndarray, tmp_path: Path
) -> None:
    np.save(tmp_path / "rows.npy", rows)
    result = run(
        "predict",
        str(model_file),
        "--input",
        str(tmp_path / "rows.npy"),
        "--format",
        "int8",
        "--layout",
        "storage",
        "--batch",
        "2",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert "calibrating the int8 scales on the input rows" in result.stderr
    report = json.loads(result.stdout)
    assert report["rows_per_call"] == [2, 2] and report["layout"] == "storage" and report["upload_gas"] > 0
    assert report["emulator_agrees"] and len(report["predictions"]) == 4


def test_deploy_writes_manifest_and_predict_reads_it(
    model_file: Path, rows: np.ndarray, tmp_path: Path
) -> None:
    manifest_path = tmp_path / "m.json"
    model_file = Path(shutil.copy(model_file, tmp_path))  # predict loads only a model beside its manifest
    result = run("deploy", str(model_file), "-o", str(manifest_path), "--json")
    assert result.returncode == 0, result.stderr
    result = run("verify", str(manifest_path), str(model_file), "--json")
    assert result.returncode == 4 and json.loads(result.stdout)["status"] == "unchecked", result.stderr
    # the old name still works; the embedded chain is gone, so only file and manifest were compared
    result = run("verify-weights", str(manifest_path), str(model_file))
    assert result.returncode == 4 and "NOT CHECKED ON CHAIN" in result.stdout, result.stderr
    manifest = json.loads(manifest_path.read_text())
    assert manifest["complete"] and manifest["address"].startswith("0x")
    assert [t["label"] for t in manifest["transactions"]] == ["deploy"]  # inline: no upload
    assert all(t["fits_30m_block"] for t in manifest["transactions"])
    np.save(tmp_path / "rows.npy", rows)
    result = run("predict", str(manifest_path), "--input", str(tmp_path / "rows.npy"), "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["predictions"]) == len(rows)


def test_verify_weights_catches_another_model(model_file: Path, tmp_path: Path) -> None:
    manifest_path = tmp_path / "m.json"
    assert run("deploy", str(model_file), "-o", str(manifest_path), "--layout", "code").returncode == 0
    torch.manual_seed(99)
    other = tmp_path / "other.pt"
    torch.save(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)), other)
    result = run("verify", str(manifest_path), str(other))
    assert result.returncode == 1 and "MISMATCH: " in result.stdout and "weights differ" in result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ml2sc: error: "), result.stderr
    return lines[0]


def test_unsupported_layer_and_overflow_are_one_line_errors(tmp_path: Path) -> None:
    conv = tmp_path / "conv.pt"
    torch.save(nn.Sequential(nn.ConvTranspose2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 1)), conv)
    line = one_line_error(run("translate", str(conv), "-o", str(tmp_path)))
    assert "layer '0' (ConvTranspose2d) is not supported" in line
    big = nn.Sequential(nn.Linear(2, 1))
    with torch.no_grad():
        big[0].bias.fill_(1e25)
    torch.save(big, tmp_path / "big.pt")
    line = one_line_error(run("translate", str(tmp_path / "big.pt"), "-o", str(tmp_path)))
    assert "bias 0[0] = 1e+25 does not fit Q67.60" in line


def test_inline_weights_over_the_code_size_limit_are_refused(tmp_path: Path) -> None:
    torch.save(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)), tmp_path / "big.pt")
    line = one_line_error(
        run("translate", str(tmp_path / "big.pt"), "-o", str(tmp_path), "--layout", "inline")
    )
    assert "over the 24,576-byte limit of EIP-170" in line and "use --layout code" in line


def test_bad_inputs_are_one_line_errors(model_file: Path, tmp_path: Path) -> None:
    assert "not found" in one_line_error(
        run("predict", str(model_file), "--input", str(tmp_path / "none.csv"))
    )
    (tmp_path / "wide.csv").write_text("1,2,3,4,5\n")
    assert "has 5 features; the model takes 4" in one_line_error(
        run("predict", str(model_file), "--input", str(tmp_path / "wide.csv"))
    )
    (tmp_path / "text.csv").write_text("1,2,3,4\n1,x,3,4\n")
    assert "not a number" in one_line_error(
        run("predict", str(model_file), "--input", str(tmp_path / "text.csv"))
    )


def test_rpc_errors_are_one_line(model_file: Path) -> None:
    no_key = {"ETH_PRIVATE_KEY": ""}  # known before any request: said first, no node needed
    line = one_line_error(run("deploy", str(model_file), "--rpc-url", "http://127.0.0.1:9", env=no_key))
    assert "set ETH_PRIVATE_KEY to the hex private key" in line
    key = {"ETH_PRIVATE_KEY": "0x" + "11" * 32}
    line = one_line_error(run("deploy", str(model_file), "--rpc-url", "http://127.0.0.1:9", env=key))
    assert "cannot reach the RPC node at http://127.0.0.1:9" in line
