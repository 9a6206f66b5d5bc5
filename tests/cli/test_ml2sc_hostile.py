"""Manifests and deploys that must fail closed, in one line (embedded chain, in-process CLI): a
manifest naming a model file outside its folder (it would be unpickled), a hand-made ABI, a binary
file at -o, an unfinished manifest of another model, a node's refusal, a contract whose one-row
inference can never fit, verify with no chain to check, and a regression's error against its range."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from eth_account import Account
from torch import nn

import ml2sc
from evmkit import chain
from evmkit.chain import ChainSession, TransactionRefused
from ml2sc import cli, gasmodel, workflow
from ml2sc.blob import encode_blob
from ml2sc.manifest import Manifest, ManifestError, file_sha256


class _Trap:
    """Unpickling it writes a file: the proof that a manifest made ml2sc load it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "loaded"))


@pytest.fixture()
def deployed(tmp_path: Path, monkeypatch) -> Path:
    """A small classifier deployed on the embedded chain, its manifest next to it."""
    monkeypatch.delenv(chain.RPC_URL_ENV, raising=False)
    here = tmp_path / "a"
    here.mkdir()
    torch.manual_seed(1)
    torch.save(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)), here / "net.pt")
    np.save(here / "x.npy", np.random.default_rng(0).normal(size=(3, 4)))
    ml2sc.deploy(ml2sc.translate(here / "net.pt", layout="inline"), manifest=here / "net.deployment.json")
    return here / "net.deployment.json"


def _one_line_error(capsys, argv: list[str]) -> str:
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ml2sc: error: "), err
    return err[0]


def _edited(manifest: Path, name: str, **fields) -> Path:
    data = {**json.loads(manifest.read_text()), **fields}
    out = manifest.with_name(name)
    out.write_text(json.dumps(data))
    return out


def test_a_manifest_cannot_make_ml2sc_load_a_file_outside_its_folder(deployed: Path, capsys) -> None:
    trap, marker = deployed.parent.parent / "evil.pkl", deployed.parent.parent / "PWNED"
    trap.write_bytes(pickle.dumps(_Trap(marker)))
    x = str(deployed.parent / "x.npy")
    (deployed.parent / "link.pt").symlink_to(trap)
    cases = {
        "up.json": {"model_path": "../evil.pkl"},
        "abs.json": {"model_path": str(trap)},
        "link.json": {"model_path": "link.pt"},
        "v3.json": {"model_path": str(trap), "version": 3},
    }
    for name, fields in cases.items():
        hostile = _edited(deployed, name, model_sha256=file_sha256(trap), **fields)
        line = _one_line_error(capsys, ["predict", str(hostile), "--input", x])
        assert "names a model file outside its folder" in line and "refusing to load it" in line, line
        assert ("version 3" in line) == (name == "v3.json")
        with pytest.raises(ManifestError, match="outside its folder"):
            ml2sc.verify(hostile)
    assert not marker.exists()
    (deployed.parent / "sub").mkdir()
    inside = _edited(deployed, "in.json", model_path="sub/../net.pt")
    assert Manifest.load(inside).model_file() == deployed.parent / "sub/../net.pt"


def test_an_abi_without_the_model_functions_is_refused(deployed: Path, capsys) -> None:
    x = str(deployed.parent / "x.npy")
    for abi in ([], [{"type": "function", "name": "predict"}]):
        line = _one_line_error(capsys, ["predict", str(_edited(deployed, "abi.json", abi=abi)), "--input", x])
        assert "abi lacks" in line and "modelHash, weightsHash" in line, line


def test_a_binary_file_at_o_is_named_and_overwritten_only_with_force(deployed: Path, capsys) -> None:
    binary = deployed.parent / "photo.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    model = str(deployed.parent / "net.pt")
    line = _one_line_error(capsys, ["deploy", model, "-o", str(binary), "--json"])
    assert f"{binary} is not an ml2sc manifest (not UTF-8 JSON)" in line and "--force" in line, line
    assert binary.read_bytes().startswith(b"\x89PNG")
    assert cli.main(["deploy", model, "-o", str(binary), "--force", "--json"]) == 0
    assert Manifest.load(binary).complete


def test_an_unfinished_manifest_of_another_model_is_not_overwritten(deployed: Path, capsys) -> None:
    unfinished = _edited(deployed, "net.deployment.json", complete=False)
    recorded = Manifest.load(unfinished)
    torch.manual_seed(2)
    other = deployed.parent / "other.pt"
    torch.save(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)), other)
    line = _one_line_error(capsys, ["deploy", str(other), "-o", str(unfinished), "--layout", "inline"])
    assert "records an unfinished deployment of another model" in line and recorded.address in line
    assert f"{len(recorded.transactions)} transactions, {recorded.gas('deploy'):,} gas spent" in line
    assert "--fresh" in line and "--force" in line
    assert Manifest.load(unfinished) == recorded
    model = str(deployed.parent / "net.pt")  # the same model: started again (its embedded chain is gone)
    assert cli.main(["deploy", model, "-o", str(unfinished), "--layout", "inline", "--json"]) == 0
    assert Manifest.load(unfinished).complete
    unfinished.write_text(json.dumps({**json.loads(unfinished.read_text()), "complete": False}))
    assert cli.main(["deploy", str(other), "-o", str(unfinished), "--layout", "inline", "--fresh"]) == 0
    assert Manifest.load(unfinished).model_path == "other.pt"


def test_a_refused_deploy_writes_no_manifest(deployed: Path) -> None:
    t = ml2sc.translate(deployed.parent / "net.pt", layout="storage")
    embedded = chain.embedded()
    poor = ChainSession(
        embedded.w3, [Account.create()], "embedded py-evm chain", fork=embedded.fork
    )  # no funds
    new = deployed.parent / "new.json"
    with pytest.raises(TransactionRefused, match=r"cannot afford .*\(fund 0x"):
        ml2sc.deploy(t, poor, manifest=new)
    assert not new.exists()
    before = deployed.read_bytes()
    with pytest.raises(TransactionRefused):
        ml2sc.deploy(t, poor, manifest=deployed, force=True)
    assert deployed.read_bytes() == before  # what was there is put back, not a pending hash
    assert embedded.w3.eth.block_number == 0


def test_a_contract_whose_one_row_can_never_fit_is_not_deployed(deployed: Path, capsys) -> None:
    model = deployed.parent / "net.pt"
    plan = ml2sc.translate(model).plan
    bounds = {
        layout: gasmodel.inference_upper_bound(gasmodel.ModelShape(plan, encode_blob(plan), layout)).total
        for layout in ("storage", "packed")
    }
    limit = 100_000
    assert bounds["packed"] < limit < bounds["storage"]
    out = deployed.parent / "big.json"
    line = _one_line_error(
        capsys, ["deploy", str(model), "--layout", "storage", "--gas-limit", str(limit), "-o", str(out)]
    )
    assert f"up to {bounds['storage']:,} gas" in line and "block gas limit 100,000" in line, line
    assert f"--layout packed ({bounds['packed']:,})" in line and "--gas-limit" in line
    assert "nothing was sent" in line and not out.exists()


def test_verify_with_no_chain_to_check_is_not_a_match(deployed: Path, capsys) -> None:
    assert cli.main(["verify", str(deployed), str(deployed.parent / "net.pt")]) == 4
    out = capsys.readouterr().out
    assert "NOT CHECKED ON CHAIN" in out and "MATCH" not in out.replace("NOT CHECKED", "")
    assert cli.main(["verify", str(deployed), str(deployed.parent / "net.pt"), "--json"]) == 4
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "unchecked" and report["match"] is False
    with pytest.raises(SystemExit):
        cli.main(["verify", "--help"])
    assert "4 not checked on chain" in " ".join(capsys.readouterr().out.split())


def test_a_regression_error_is_given_against_the_outputs_range(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(chain.RPC_URL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(5)
    torch.save(nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)), tmp_path / "reg.pt")
    rows = np.random.default_rng(2).normal(size=(12, 3))
    np.save(tmp_path / "x.npy", rows)
    np.save(tmp_path / "narrow.npy", rows * 0.05)  # int8 scales 20x too small: inputs clamp
    assert cli.main(["predict", "reg.pt", "--input", "x.npy"]) == 0
    captured = capsys.readouterr()
    assert "of their range" in captured.out and "warning" not in captured.err, captured
    argv = [
        "predict",
        "reg.pt",
        "--input",
        "x.npy",
        "--format",
        "int8",
        "--calibrate",
        "narrow.npy",
        "--json",
    ]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["float_error_share"] > workflow.ERROR_WARNING
    low, high = report["float_output_range"]
    assert report["float_error_share"] == pytest.approx(report["float_max_error"] / (high - low))
    assert "of their range" in captured.err and "above 1%" in captured.err
