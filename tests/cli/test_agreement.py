"""`python -m ml2sc.agreement`: the table the closing notes quote, written as CSV and Markdown."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ml2sc import agreement


def test_agreement_table_for_one_dataset(tmp_path: Path, capsys) -> None:
    assert agreement.main(["-o", str(tmp_path), "--datasets", "iris,diabetes", "--sources", "torch"]) == 0
    rows = list(csv.DictReader((tmp_path / "agreement.csv").read_text().splitlines()))
    assert [(r["dataset"], r["format"], r["calibration"]) for r in rows] == [
        ("iris", "fixed", "-"),
        ("iris", "int8", "default"),
        ("iris", "int8", "train"),
        ("diabetes", "fixed", "-"),
        ("diabetes", "int8", "default"),
        ("diabetes", "int8", "train"),
    ]
    iris = [r for r in rows if r["dataset"] == "iris"]
    assert all(float(r["agreement"]) >= 0.99 for r in iris)  # 38 test rows: none may flip
    assert all(r["max_error_of_range"] == "" for r in iris)
    diabetes = [float(r["max_error_of_range"]) for r in rows if r["dataset"] == "diabetes"]
    assert diabetes[0] < 1e-6 and 0 < max(diabetes[1:]) <= 0.01  # fixed: float32 torch; int8 within 1%
    assert "| iris | torch | int8 | default |" in (tmp_path / "agreement.md").read_text()
    assert "diabetes" in capsys.readouterr().out


def test_unknown_names_are_refused() -> None:
    with pytest.raises(SystemExit) as exc:
        agreement.main(["--datasets", "mnist"])
    assert exc.value.code == 2
