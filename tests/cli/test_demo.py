"""`ml2sc demo`: the README's first job, with the figures the foundation promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_matches_emulator_and_pytorch(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "ml2sc.cli", "demo", "-o", str(tmp_path), "--json"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["onchain_equals_emulator"] == figures["test_rows"] == 143
    assert figures["agreement_with_float_pytorch"] >= 0.995
    assert figures["accuracy"] >= 0.9
    assert figures["gas_deploy"] > 0 and figures["gas_upload"] > 0 and figures["gas_inference_mean"] > 21_000
    assert (tmp_path / "breast_cancer_mlp.pt").is_file()
    manifest = json.loads((tmp_path / "breast_cancer_mlp.deployment.json").read_text())
    assert manifest["complete"] and manifest["gas"]["upload"] == figures["gas_upload"]
