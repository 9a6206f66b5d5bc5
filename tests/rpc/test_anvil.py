"""The RPC path against a real node (Foundry's anvil from npm): same gas, signed transactions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import GasLimitExceeded, MissingKey
from ml2sc.capture import capture
from ml2sc.onchain import compile_plan, deploy_and_upload, predict_batched, predict_onchain
from ml2sc.plan import build_plan, encode_inputs, group_layers
from ml2sc.quant import calibrate

pytestmark = pytest.mark.rpc


@pytest.fixture(scope="module")
def anvil_prague():
    with start_anvil(hardfork="prague") as node:
        yield node


def gas_trace(session: chain.ChainSession, plan, layout: str, rows) -> list[tuple[str, int]]:
    compiled = compile_plan(plan, "GasMLP", "gas.pt", layout, fork=session.fork)
    contract, txs = deploy_and_upload(session, compiled)
    trace = [(label, tx.gas_used) for label, tx in txs]
    trace += [
        (f"predict[{i}]", gas) for i, (_, gas) in enumerate(predict_onchain(session, contract, plan, rows))
    ]
    batch = predict_batched(session, contract, plan, rows, rows_per_call=len(rows))
    return trace + [("predictBatch", batch.gas_per_call[0])]


@pytest.mark.parametrize("fork", ["osaka", "prague"])
@pytest.mark.parametrize(
    "mode, layout", [("fixed", "storage"), ("fixed", "inline"), ("int8", "packed"), ("int8", "code")]
)
def test_same_gas_on_embedded_chain_and_anvil(request, monkeypatch, fork, mode, layout) -> None:
    """Every transaction the same gas on the embedded chain and on anvil, under each fork's rules."""
    anvil = request.getfixturevalue("anvil" if fork == "osaka" else "anvil_prague")
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid()
    )
    ops = capture(model)
    x = np.random.default_rng(0).normal(size=(3, 6)) * 2
    plan = build_plan(ops, mode=mode, scales=calibrate(group_layers(ops), x) if mode == "int8" else None)
    rows = encode_inputs(plan, x.tolist())
    monkeypatch.setenv("ANVIL_KEY", anvil.private_keys[0])
    embedded = gas_trace(chain.embedded(fork=fork), plan, layout, rows)
    node = gas_trace(chain.rpc(anvil.url, "ANVIL_KEY", fork=fork), plan, layout, rows)
    assert len(embedded) >= 5 and node == embedded


def test_cli_deploys_and_predicts_through_the_node(anvil, tmp_path: Path) -> None:
    torch.manual_seed(4)
    model_path = tmp_path / "net.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), model_path)
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(2, 3))
    env = {**os.environ, "ETH_RPC_URL": anvil.url, "DEPLOYER_KEY": anvil.private_keys[1]}
    cli = [sys.executable, "-m", "ml2sc.cli"]
    deploy = subprocess.run(
        [*cli, "deploy", str(model_path), "--private-key-env", "DEPLOYER_KEY", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stderr
    assert anvil.private_keys[1].removeprefix("0x") not in deploy.stdout + deploy.stderr
    manifest = json.loads((tmp_path / "net.deployment.json").read_text())
    assert manifest["chain"]["kind"] == "rpc" and manifest["complete"]
    predict = subprocess.run(
        [
            *cli,
            "predict",
            str(tmp_path / "net.deployment.json"),
            "--input",
            str(tmp_path / "x.npy"),
            "--private-key-env",
            "DEPLOYER_KEY",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
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


def test_killed_deployment_resumes_to_the_same_weights(tmp_path: Path) -> None:
    """A deploy killed mid-upload, run again, finishes where the chain stands, without a second
    contract or duplicated slots, and ends with the same weights hash as an uninterrupted one."""
    torch.manual_seed(5)
    model_path = tmp_path / "digits_like.pt"
    torch.save(nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), model_path)
    np.save(tmp_path / "cal.npy", np.random.default_rng(1).uniform(0, 16, size=(40, 64)))
    cli = [
        sys.executable,
        "-m",
        "ml2sc.cli",
        "deploy",
        str(model_path),
        "--format",
        "int8",
        "--layout",
        "storage",
        "--calibrate",
        str(tmp_path / "cal.npy"),
        "--json",
    ]
    with start_anvil(extra_args=("--block-time", "1")) as node:
        env = {**os.environ, "ETH_RPC_URL": node.url, "ETH_PRIVATE_KEY": node.private_keys[0]}
        manifest_path = tmp_path / "digits_like.deployment.json"
        process = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if manifest_path.is_file() and len(json.loads(manifest_path.read_text())["transactions"]) >= 2:
                break
            time.sleep(0.05)
        process.kill()
        process.wait()
        interrupted = json.loads(manifest_path.read_text())
        assert not interrupted["complete"] and [t["label"] for t in interrupted["transactions"]][:2] == [
            "deploy",
            "upload[0:629]",  # Osaka: 90% of EIP-7825's 2**24 cap, 24,000 gas a slot
        ]
        resumed = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        final = json.loads(manifest_path.read_text())
        labels = [t["label"] for t in final["transactions"]]
        assert final["complete"] and final["address"] == interrupted["address"]
        assert labels.count("deploy") == 1 and labels[-1] == "finalize"
        starts = [int(label[7:].split(":")[0]) for label in labels if label.startswith("upload[")]
        assert starts == sorted(set(starts)) and starts[0] == 0  # no slot range uploaded twice
        fresh = subprocess.run(
            [*cli, "--fresh", "-o", str(tmp_path / "fresh.json")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert fresh.returncode == 0, fresh.stderr
        assert json.loads(fresh.stdout)["weights_hash"] == final["weights_hash"]
        check = subprocess.run(
            [
                sys.executable,
                "-m",
                "ml2sc.cli",
                "verify-weights",
                str(manifest_path),
                str(model_path),
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        report = json.loads(check.stdout)
        outcomes = {c["what"]: (c["outcome"], c["detail"]) for c in report["checks"]}
        assert report["match"] and outcomes["weights read back from chain"] == (
            "match",
            final["weights_hash"],
        )
        assert outcomes["runtime bytecode vs a fresh compile"][0] == "match"


def test_node_refusals_are_one_line_chain_errors(anvil, tmp_path: Path) -> None:
    """An unfunded key, too little gas and more gas than a transaction may use: each is one ChainError line
    holding the node's own message; the CLI prints it as one line and exits non-zero."""
    from eth_account import Account

    from evmkit.errors import ChainError

    unfunded = Account.create()
    session = chain.rpc(anvil.url, key=unfunded)
    with pytest.raises(ChainError) as info:
        session.send(None, b"\x60\x00")
    message = str(info.value)
    assert "\n" not in message and "Insufficient funds" in message and unfunded.address in message
    funded = chain.rpc(anvil.url, key=anvil.private_keys[2])
    with pytest.raises(ChainError, match=r"^[^\n]*intrinsic gas too low[^\n]*$"):
        funded.send(None, b"\x60\x00", gas=20_000)
    block = funded.w3.eth.block_number
    with pytest.raises(
        GasLimitExceeded,
        match=r"^the transaction asks for 40,000,000 gas, over the per-transaction gas cap 16,777,216 "
        r"\(EIP-7825\) of RPC node ",
    ):  # refused before sending: the node never sees it
        funded.send(None, b"\x60\x00", gas=40_000_000)
    assert funded.w3.eth.block_number == block
    assert funded.send(None, b"\x60\x00").gas_used > 21_000  # the refusals left the nonce usable

    torch.manual_seed(4)
    model_path = tmp_path / "net.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), model_path)
    env = {**os.environ, "ETH_PRIVATE_KEY": Account.create().key.hex()}
    deploy = subprocess.run(
        [sys.executable, "-m", "ml2sc.cli", "deploy", str(model_path), "--rpc-url", anvil.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = deploy.stderr.strip().splitlines()
    assert deploy.returncode == 1 and "Traceback" not in deploy.stderr and len(lines) == 1, deploy.stderr
    assert lines[0].startswith("ml2sc: error: ") and "Insufficient funds" in lines[0]
