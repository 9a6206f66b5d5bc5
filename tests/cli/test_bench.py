"""`ml2sc bench` and `ml2sc estimate` end to end: files written, model within 1% of receipts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

ML2SC = [sys.executable, "-m", "ml2sc.cli"]


def test_quick_sweep_writes_csv_markdown_and_plots(tmp_path: Path) -> None:
    result = subprocess.run(
        [*ML2SC, "bench", "--suite", "sweep", "--quick", "--format", "int8", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "ml2sc_sweep.csv").open()))
    assert {r["function"] for r in rows} == {"deploy", "upload", "inference"}
    assert {r["layout"] for r in rows} == {"storage", "packed", "code", "inline"}
    assert all(float(r["worst_tx_error"]) < 0.01 for r in rows)
    assert all(abs(int(r["predicted"]) - int(r["measured"])) <= 0.01 * int(r["measured"]) for r in rows)
    for png in ("ml2sc_gas_vs_params.png", "ml2sc_model_error.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "worst transaction error" in (tmp_path / "ml2sc_sweep.md").read_text()


def test_bench_options_that_would_do_nothing_are_refused(capsys) -> None:
    from ml2sc.bench import mnist_left_out
    from ml2sc.cli import main

    assert main(["bench", "--suite", "layouts", "--quick"]) == 1
    assert "--quick shortens the sweep suite only" in capsys.readouterr().err
    assert main(["bench", "--suite", "cnn", "--skip-mnist"]) == 1
    assert "--skip-mnist applies to the layouts suite only" in capsys.readouterr().err
    assert mnist_left_out(("int8",), ("code", "inline")) is None
    assert "not measured" in mnist_left_out(("fixed",), ("code",))
    assert "not measured" in mnist_left_out(("fixed", "int8"), ("storage",))


def test_estimate_prints_terms_and_json(tmp_path: Path) -> None:
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)), tmp_path / "m.pt")
    result = subprocess.run(
        [*ML2SC, "estimate", str(tmp_path / "m.pt"), "--layout", "packed", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    labels = report["upload_labels"]
    assert (
        labels[0].startswith("upload[0:")
        and labels[-1] == "finalize"
        and len(report["upload"]) == len(labels)
    )
    assert report["deploy"] > 53_000 and report["inference"] > 21_000
    terms = report["breakdown"]["upload"][labels[0]]["terms"]
    assert (
        terms["weight SSTOREs"] > 0
        and terms["weight SSTOREs"] % 100 == 0
        and terms["transaction base"] == 21_000
    )
    text = subprocess.run(
        [*ML2SC, "estimate", str(tmp_path / "m.pt")], capture_output=True, text=True, timeout=300
    )
    assert text.returncode == 0 and "code deposit" in text.stdout and "multiply-accumulates" in text.stdout
