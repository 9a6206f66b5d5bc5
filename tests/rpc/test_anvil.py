"""The RPC path against a real node (Foundry's anvil from npm): same gas, signed transactions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import MissingKey
from ml2sc.capture import capture
from ml2sc.onchain import compile_plan, predict_onchain, upload_weights
from ml2sc.plan import build_plan, encode_inputs

pytestmark = pytest.mark.rpc


@pytest.fixture(scope="module")
def anvil():
    with start_anvil() as node:
        yield node


def gas_trace(session: chain.ChainSession, plan, rows) -> list[tuple[str, int]]:
    compiled = compile_plan(plan, "GasMLP", "gas.pt")
    contract, deploy_tx = session.deploy(compiled.artifact)
    trace = [("deploy", deploy_tx.gas_used)]
    trace += [(label, tx.gas_used) for label, tx in upload_weights(session, contract, plan, chunk_size=40).txs]
    trace += [(f"predict[{i}]", gas) for i, (_, gas) in enumerate(predict_onchain(session, contract, rows))]
    return trace


def test_same_gas_on_embedded_chain_and_anvil(anvil, monkeypatch) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    plan = build_plan(capture(model))
    rows = encode_inputs(plan, (np.random.default_rng(0).normal(size=(3, 6)) * 2).tolist())
    monkeypatch.setenv("ANVIL_KEY", anvil.private_keys[0])
    embedded = gas_trace(chain.embedded(), plan, rows)
    node = gas_trace(chain.rpc(anvil.url, "ANVIL_KEY"), plan, rows)
    assert [label for label, _ in embedded] == ["deploy", "upload[0:40]", "upload[40:80]", "upload[80:119]",
                                                "finalize", "predict[0]", "predict[1]", "predict[2]"]
    assert node == embedded


def test_cli_deploys_and_predicts_through_the_node(anvil, tmp_path: Path) -> None:
    torch.manual_seed(4)
    model_path = tmp_path / "net.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), model_path)
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(2, 3))
    env = {**os.environ, "ETH_RPC_URL": anvil.url, "DEPLOYER_KEY": anvil.private_keys[1]}
    cli = [sys.executable, "-m", "ml2sc.cli"]
    deploy = subprocess.run([*cli, "deploy", str(model_path), "--private-key-env", "DEPLOYER_KEY", "--json"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert deploy.returncode == 0, deploy.stderr
    assert anvil.private_keys[1].removeprefix("0x") not in deploy.stdout + deploy.stderr
    manifest = json.loads((tmp_path / "net.deployment.json").read_text())
    assert manifest["chain"]["kind"] == "rpc" and manifest["complete"]
    predict = subprocess.run([*cli, "predict", str(tmp_path / "net.deployment.json"), "--input",
                              str(tmp_path / "x.npy"), "--private-key-env", "DEPLOYER_KEY", "--json"],
                             capture_output=True, text=True, env=env, timeout=300)
    assert predict.returncode == 0, predict.stderr
    report = json.loads(predict.stdout)
    assert len(report["predictions"]) == 2 and report["emulator_agrees"]
    assert "deploy_gas" not in report  # nothing was deployed for this prediction


def test_missing_or_bad_key_is_a_clear_error(anvil, monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with pytest.raises(MissingKey, match="set NO_SUCH_KEY to the hex private key"):
        chain.rpc(anvil.url, "NO_SUCH_KEY")
    monkeypatch.setenv("BAD_KEY", "0x1234")
    with pytest.raises(MissingKey, match="BAD_KEY does not hold a valid hex private key"):
        chain.rpc(anvil.url, "BAD_KEY")
