"""Templates and contracts ship inside the wheel, so an installed package renders contracts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_carries_templates_and_contracts(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [
        p.relative_to(ROOT).as_posix()
        for package in ("ml2sc", "verkle")
        for p in (ROOT / package).rglob("*")
        if p.suffix in (".j2", ".sol")
    ]
    assert len(shipped) > 10 and all(name in names for name in shipped), set(shipped) - names
    assert "evmkit/solcjs_compile.js" in names and "ml2sc/gas_costs.json" in names
    assert "verkle/gas_costs.json" in names and "verkle/contracts/MerkleVerifier.sol" in names

    # The installed copy (not the checkout) renders a contract.
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = (
        "import evmkit.resources as r, numpy as np;"
        "from ml2sc.plan import FloatLayer, build_fixed_plan;"
        "from ml2sc.blob import encode_blob;"
        "from ml2sc.render import render_contract;"
        "d = r.resource_dir('ml2sc', 'templates'); assert 'site' in str(d), d;"
        "plan = build_fixed_plan([FloatLayer('fc', np.ones((2, 3)), np.zeros(2), 'sigmoid')]);"
        "print(len(render_contract(plan, encode_blob(plan), 'code', 'P', 'p.pt')));"
        "from verkle.schemes import load_scheme; from verkle.contract import render_verifier;"
        "from verkle.gasmodel import fitted; assert fitted();"
        "print(len(render_verifier(load_scheme('kzg-bls12-381', 16))))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert all(int(n) > 500 for n in run.stdout.split())
