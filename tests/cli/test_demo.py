"""`ml2sc demo`: the README's first job, with the figures the foundation promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_matches_emulator_and_pytorch(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ml2sc.cli", "demo", "-o", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert [r["layout"] for r in runs] == ["storage", "inline", "inline"]
    for run in runs:
        assert run["onchain_equals_emulator"] == run["test_rows"] == 143
        assert run["agreement_with_float_pytorch"] >= (0.995 if run["format"] != "int8" else 0.99)
        assert run["accuracy"] >= 0.9 and run["gas_one_inference"] > 21_000
    baseline, fixed, int8 = runs
    assert baseline["gas_weights_per_parameter"] > 20_000  # one slot per weight, as ML2SC
    assert fixed["gas_weights"] == 0 and fixed["gas_one_inference"] < baseline["gas_one_inference"] / 5
    assert int8["gas_one_inference"] < fixed["gas_one_inference"]
    manifest = json.loads((tmp_path / "breast_cancer_mlp.0.deployment.json").read_text())
    assert manifest["complete"] and manifest["gas"]["upload"] == baseline["gas_weights"]
