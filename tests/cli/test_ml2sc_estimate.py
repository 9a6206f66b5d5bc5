"""`ml2sc estimate` reports the upper bound per inference and a grand total; `ml2sc predict` refuses,
in one line, a row that could cost more than a call may use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

ML2SC = [sys.executable, "-m", "ml2sc.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ML2SC, *args], capture_output=True, text=True, timeout=600)


def test_estimate_reports_the_upper_bound_and_a_grand_total(tmp_path: Path) -> None:
    torch.manual_seed(3)
    torch.save(
        nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3), nn.Softmax(dim=1)), tmp_path / "m.pt"
    )
    result = run("estimate", str(tmp_path / "m.pt"), "--layout", "packed", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["inference"] < report["inference_upper_bound"] < 1.5 * report["inference"]
    assert report["total"] == report["deploy"] + sum(report["upload"]) + report["inference"]
    batch = report["batch_upper_bound"]
    budget = int(0.9 * 2**24)  # Osaka (the default): 90% of EIP-7825's per-transaction cap
    assert report["fork"]["name"] == "osaka" and batch["budget"] == budget and batch["rows_per_call"] > 1
    assert batch["intercept"] + batch["rows_per_call"] * batch["per_row"] <= budget + batch["rows_per_call"]
    assert "safety margin (2%)" in report["breakdown"]["inference_upper_bound"]["terms"]
    text = run("estimate", str(tmp_path / "m.pt"))
    assert text.returncode == 0, text.stderr
    assert "inference upper bound (any row)" in text.stdout and "grand total" in text.stdout
    assert "predictBatch upper bound" in text.stdout


def test_predict_refuses_a_row_that_may_not_fit_in_one_line(tmp_path: Path) -> None:
    """A thousand tanh in narrow fixed point: the contract would deploy in a 3M-gas block, but one row
    may cost about 3M gas. Nothing is sent, not even the deployment; the error names the bound and the
    limit. In a 4M-gas block each row gets its own call."""
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(1, 1000), nn.Tanh(), nn.Linear(1000, 1)), tmp_path / "wide.pt")
    (tmp_path / "rows.csv").write_text("0.1\n-0.3\n")
    numbers = ["--frac-bits", "8", "--weight-bits", "16", "--layout", "inline"]
    result = run(
        "predict",
        str(tmp_path / "wide.pt"),
        "--input",
        str(tmp_path / "rows.csv"),
        *numbers,
        "--gas-limit",
        "3000000",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    # refused before the deployment: such a contract could only refuse every prediction
    prefix = "ml2sc: error: one row's inference on the inline-layout contract may cost up to "
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr
    assert "block gas limit 3,000,000" in lines[0] and "nothing was sent" in lines[0]
    assert lines[0].endswith("no other layout fits: use a bigger block (--gas-limit)")
    ok = run(
        "predict",
        str(tmp_path / "wide.pt"),
        "--input",
        str(tmp_path / "rows.csv"),
        *numbers,
        "--gas-limit",
        "4000000",
        "--json",
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rows_per_call"] == [1, 1]


def test_estimate_prices_the_median_row_and_reports_the_range(tmp_path: Path, capsys) -> None:
    """The default row is a typical one (the median row of --input), --row picks one, and --range
    gives the cheapest and the dearest row, each at least as cheap as the upper bound."""
    from ml2sc.cli import main

    torch.manual_seed(5)
    torch.save(nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 1), nn.Sigmoid()), tmp_path / "m.pt")
    rows = np.random.default_rng(0).normal(size=(9, 3)) * 4
    np.save(tmp_path / "rows.npy", rows)
    model, given = str(tmp_path / "m.pt"), ["--input", str(tmp_path / "rows.npy")]

    def estimate(*args: str) -> dict:
        assert main(["estimate", model, "--layout", "inline", "--json", *args]) == 0
        return json.loads(capsys.readouterr().out)

    typical = estimate(*given, "--range")
    picked = [estimate(*given, "--row", str(i))["inference"] for i in range(len(rows))]
    spread = typical["inference_range"]
    assert (spread["min"], spread["max"]) == (min(picked), max(picked)) and spread["rows"] == 9
    assert picked[spread["min_row"]] == spread["min"] and picked[spread["max_row"]] == spread["max"]
    assert spread["max"] <= typical["inference_upper_bound"]
    index = int(typical["inference_row"].split()[1])
    assert typical["inference"] == picked[index] and "median row" in typical["inference_row"]
    assert estimate()["inference_row"].startswith("all zeros")
    assert main(["estimate", model, *given, "--range"]) == 0
    text = capsys.readouterr().out
    assert f"inference row: row {index} of 9 given (their median row)" in text
    assert "cheapest of 9 rows" in text and "dearest of 9 rows" in text and "grand total" in text
    assert main(["estimate", model, "--range"]) == 1
    assert "--range needs rows: pass --input FILE" in capsys.readouterr().err
    assert main(["estimate", model, *given, "--row", "9"]) == 1
    assert "row 9 is not one of the 9 rows given (0 to 8)" in capsys.readouterr().err
