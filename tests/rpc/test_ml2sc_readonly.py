"""Reading a deployment needs no key (predict and verify-weights through eth_call); a Ctrl-C with a
transaction in flight is recorded and settled on resume; a complete manifest is not overwritten;
an Osaka node's per-transaction cap is known before sending (anvil)."""

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

import ml2sc
from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import GasLimitExceeded, MissingKey
from ml2sc import workflow
from ml2sc.manifest import Manifest, ManifestError

pytestmark = pytest.mark.rpc
CLI = [sys.executable, "-m", "ml2sc.cli"]


def _model(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    torch.save(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)), path)
    return path


def _keyless() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (chain.PRIVATE_KEY_ENV, chain.RPC_URL_ENV)}


def test_predict_and_verify_without_a_key(anvil, tmp_path: Path) -> None:
    model = _model(tmp_path / "net.pt", 1)
    manifest = tmp_path / "net.deployment.json"
    ml2sc.deploy(
        ml2sc.translate(model, layout="storage"),
        chain.rpc(anvil.url, key=anvil.private_keys[0]),
        manifest=manifest,
    )
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(5, 6)))
    block = chain.rpc_reader(anvil.url).w3.eth.block_number
    run = subprocess.run(
        [*CLI, "predict", str(manifest), "--input", str(tmp_path / "x.npy"), "--json"],
        capture_output=True,
        text=True,
        env=_keyless(),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["gas_source"] == "estimate" and report["gas_used"] > 21_000
    assert report["cost_wei"] is None and report["emulator_agrees"] and "predicting read-only" in run.stderr
    assert report["agreement_with_float"] == {"agree": 5, "rows": 5, "share": 1.0}
    assert chain.rpc_reader(anvil.url).w3.eth.block_number == block  # nothing was sent
    check = subprocess.run(
        [*CLI, "verify-weights", str(manifest), str(model)],
        capture_output=True,
        text=True,
        env=_keyless(),
        timeout=300,
    )
    assert check.returncode == 0 and "MATCH" in check.stdout, check.stdout + check.stderr
    with pytest.raises(MissingKey, match="read-only"):
        chain.rpc_reader(anvil.url).send(None, b"\x60\x00")


def test_ctrl_c_in_flight_is_recorded_and_settled_on_resume(anvil, tmp_path: Path, monkeypatch) -> None:
    model = _model(tmp_path / "big.pt", 2)
    t = workflow.translate(model, workflow.Settings(layout="storage"))
    session = chain.rpc(anvil.url, key=anvil.private_keys[1])
    path = tmp_path / "big.deployment.json"
    wait = session.w3.eth.wait_for_transaction_receipt
    calls = {"n": 0}

    def interrupted(tx_hash, *args, **kwargs):  # Ctrl-C while waiting for the first upload's receipt
        calls["n"] += 1
        if calls["n"] == 2:
            wait(tx_hash, *args, **kwargs)  # mined: the receipt exists, the process never saw it
            raise KeyboardInterrupt
        return wait(tx_hash, *args, **kwargs)

    monkeypatch.setattr(session.w3.eth, "wait_for_transaction_receipt", interrupted)
    with pytest.raises(KeyboardInterrupt):
        workflow.deploy(session, t, path)
    monkeypatch.undo()
    stopped = Manifest.load(path)
    assert stopped.pending is not None and stopped.pending["label"].startswith("upload[0:")
    assert [r.label for r in stopped.transactions] == ["deploy"]
    check = subprocess.run(
        [*CLI, "verify", str(path), str(model)], capture_output=True, text=True, env=_keyless(), timeout=300
    )
    assert check.returncode == 3 and "INCOMPLETE deployment, missing: transaction upload[0:" in check.stdout
    resumed, _ = workflow.deploy(session, t, path)
    fresh, _ = workflow.deploy(session, t, tmp_path / "fresh.json")
    assert resumed.complete and resumed.pending is None
    assert [r.label for r in resumed.transactions] == [r.label for r in fresh.transactions]
    assert resumed.upload_gas == fresh.upload_gas and resumed.cost_wei > 0
    with pytest.raises(ManifestError, match="records a complete deployment .* pass --force"):
        workflow.deploy(session, t, path)
    again, _ = workflow.deploy(session, t, path, force=True)
    assert again.address != resumed.address


def test_an_osaka_node_caps_each_transaction() -> None:
    with start_anvil(gas_limit=60_000_000, hardfork="osaka") as node:
        session = chain.rpc(node.url, key=node.private_keys[0])
        assert session.tx_gas_cap == 2**24 and session.gas_cap == 2**24
        block = session.w3.eth.block_number
        with pytest.raises(
            GasLimitExceeded,
            match=r"^the upload needs about 20,000,000 gas \(estimate\), over the "
            r"per-transaction gas cap 16,777,216 \(EIP-7825\) of RPC node .*; nothing was sent$",
        ):
            session.send(None, b"\x60\x00", estimate=("the upload", 20_000_000))
        assert session.w3.eth.block_number == block
    with start_anvil(hardfork="prague") as prague:
        reader = chain.rpc_reader(prague.url)
        assert reader.tx_gas_cap is None and reader.fork_name == "prague"
