"""An RPC manifest is checked against the node before any call: its chain id, code at its address,
that code's modelHash() and stored weights; a node's refusal leaves no manifest behind (anvil)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from eth_account import Account
from torch import nn

import ml2sc
from evmkit import chain
from evmkit.chain import TransactionRefused
from ml2sc import cli, workflow
from ml2sc.layouts import data_contract_initcode
from ml2sc.onchain import deploy_model

pytestmark = pytest.mark.rpc


def _model(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    torch.save(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)), path)
    return path


def test_predict_checks_the_contract_before_any_call(anvil, tmp_path: Path, capsys, monkeypatch) -> None:
    session = chain.rpc(anvil.url, key=anvil.private_keys[0])
    t = workflow.translate(_model(tmp_path / "net.pt", 1), workflow.Settings(layout="storage"))
    manifest, _ = workflow.deploy(session, t, tmp_path / "net.deployment.json")
    other, _ = workflow.deploy(
        session, workflow.translate(_model(tmp_path / "other.pt", 2), workflow.Settings(layout="storage"))
    )
    unfinished, _ = deploy_model(session, t.compiled)  # the same model, its weights never uploaded
    inert = session.send(None, data_contract_initcode(b"\x01\x02")).contract_address  # code, no model
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(3, 4)))
    monkeypatch.delenv(chain.PRIVATE_KEY_ENV, raising=False)
    monkeypatch.delenv(chain.RPC_URL_ENV, raising=False)
    data = json.loads((tmp_path / "net.deployment.json").read_text())
    cases = {
        "chain": ({"chain": {**data["chain"], "chain_id": 1}}, "deployment is on chain 1, but RPC node"),
        "eoa": ({"address": session.default_sender.address}, "no contract at"),
        "other": ({"address": other.address}, "holds another model: its modelHash() is"),
        "inert": ({"address": inert}, "is not an ml2sc model"),
        "unfinished": ({"address": unfinished.address}, "deployment incomplete"),
    }
    block = session.w3.eth.block_number
    for name, (fields, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({**data, **fields}))
        assert cli.main(["predict", str(path), "--input", str(tmp_path / "x.npy")]) == 1, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (name, err)
    assert (
        cli.main(
            ["predict", str(tmp_path / "net.deployment.json"), "--input", str(tmp_path / "x.npy"), "--json"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["emulator_agrees"] and report["cost_wei"] is None  # read-only: nothing was paid
    assert session.w3.eth.block_number == block
    assert manifest.address != other.address


def test_a_refused_first_transaction_leaves_no_manifest(anvil, tmp_path: Path) -> None:
    t = ml2sc.translate(_model(tmp_path / "net.pt", 3), layout="storage")
    poor = chain.rpc(anvil.url, key=Account.create().key)  # an account with nothing to pay gas with
    with pytest.raises(
        TransactionRefused, match=r"(?i)refused the transaction .*insufficient funds.*\(fund 0x"
    ):
        ml2sc.deploy(t, poor, manifest=tmp_path / "net.deployment.json")
    assert not (tmp_path / "net.deployment.json").exists()
