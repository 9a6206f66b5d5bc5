"""Manifests: the model named relative to the manifest (old absolute ones still read), its SHA-256
held at every use, the deploy and predict summaries' cost and agreement lines (embedded chain)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

CLI = [sys.executable, "-m", "ml2sc.cli"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "ETH_RPC_URL"},
    )


def test_a_manifest_moves_with_its_model_and_catches_a_changed_file(tmp_path: Path) -> None:
    here = tmp_path / "a"
    here.mkdir()
    torch.manual_seed(3)
    torch.save(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)), here / "net.pt")
    np.save(here / "x.npy", np.random.default_rng(1).normal(size=(6, 4)))
    deploy = _run("deploy", "net.pt", cwd=here)
    assert deploy.returncode == 0, deploy.stderr
    assert "cost (gas x effective gas price)" in deploy.stdout and " ETH = " in deploy.stdout
    manifest = json.loads((here / "net.deployment.json").read_text())
    assert manifest["model_path"] == "net.pt" and manifest["version"] == 5 and manifest["pending"] is None
    assert manifest["fork"] == "osaka"
    assert manifest["cost_wei"] == sum(t["gas_used"] * t["gas_price"] for t in manifest["transactions"]) > 0
    moved = shutil.move(here, tmp_path / "b")
    result = _run("predict", str(Path(moved) / "net.deployment.json"), "--input", str(Path(moved) / "x.npy"))
    assert result.returncode == 0, result.stderr
    assert "agreement with float model: 6/6 (100.0%)" in result.stdout and "inference cost: " in result.stdout
    old = {
        **manifest,
        "version": 3,
        "model_path": str(Path(moved) / "net.pt"),
    }  # absolute, as version 3 wrote
    old.pop("pending"), old.pop("cost_wei"), old.pop("fork")  # before version 5: deployed under Prague
    (tmp_path / "old.json").write_text(json.dumps(old))
    result = _run("predict", str(tmp_path / "old.json"), "--input", str(Path(moved) / "x.npy"), "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["fork"] == "prague", result.stderr
    x = str(Path(moved) / "x.npy")
    result = _run("predict", str(tmp_path / "old.json"), "--input", x, "--fork", "osaka")
    assert result.returncode == 1 and "records a deployment under Prague rules, not Osaka's" in result.stderr
    torch.manual_seed(4)
    torch.save(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)), Path(moved) / "net.pt")
    result = _run("predict", str(Path(moved) / "net.deployment.json"), "--input", str(Path(moved) / "x.npy"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "model file changed since deploy" in lines[0], (
        result.stderr
    )
    result = _run("verify", str(Path(moved) / "net.deployment.json"), str(Path(moved) / "net.pt"))
    assert result.returncode == 1 and "model file changed since deploy" in result.stdout


def test_progress_bars_draw_on_a_terminal_only() -> None:
    import io

    from evmkit import progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown, piped = Terminal(), io.StringIO()
    for stream in (shown, piped):
        with progress.bar(3, "upload", "tx", stream=stream) as bar:
            bar.update(3)
    assert "upload:" in shown.getvalue() and "/3 " in shown.getvalue() and piped.getvalue() == ""
    quiet = Terminal()
    with progress.bar(3, "upload", "tx", enabled=False, stream=quiet) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""


def test_a_manifest_written_elsewhere_takes_its_model_with_model(tmp_path: Path, monkeypatch, capsys) -> None:
    """deploy -o in another folder: the manifest's model lies outside its folder, so predict refuses
    to load it by itself, and takes it from --model, checked against the manifest's model hash."""
    import torch
    from torch import nn

    from ml2sc.cli import main

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(2)
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), "m.pt")
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), "other.pt")
    (tmp_path / "out").mkdir()
    (tmp_path / "rows.csv").write_text("0.1,0.2,0.3\n-1,2,0.5\n")
    assert main(["deploy", "m.pt", "-o", "out/m.json", "--json"]) == 0
    capsys.readouterr()
    assert main(["predict", "out/m.json", "--input", "rows.csv"]) == 1
    assert "outside its folder" in capsys.readouterr().err
    assert main(["predict", "out/m.json", "--input", "rows.csv", "--model", "m.pt", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["emulator_agrees"] is True
    assert main(["predict", "out/m.json", "--input", "rows.csv", "--model", "other.pt"]) == 1
    assert "is not the deployed model" in capsys.readouterr().err
    node = ["--rpc-url", "http://127.0.0.1:9"]  # an embedded manifest is never re-deployed on a node
    assert main(["predict", "out/m.json", "--input", "rows.csv", "--model", "m.pt", *node]) == 1
    assert "deploy first ('ml2sc deploy MODEL')" in capsys.readouterr().err
    assert main(["predict", "m.pt", "--input", "rows.csv", "--model", "m.pt"]) == 1
    assert "--model names a manifest's model file" in capsys.readouterr().err
