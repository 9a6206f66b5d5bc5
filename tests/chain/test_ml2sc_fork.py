"""ml2sc under any fork (issue 14): Osaka by default, the fork in solc's evmVersion, the gas schedule, the
transaction plan (EIP-7825's 2**24 cap), manifests and JSON; a chain or manifest of other rules refused."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import ml2sc
from evmkit import chain
from evmkit.chain import ForkMismatch
from evmkit.errors import GasLimitExceeded
from evmkit.forks import TX_GAS_CAP_EIP7825, get_fork
from evmkit.registry import UnknownName
from ml2sc import cli, gasmodel, workflow
from ml2sc.api import manifest_fork
from ml2sc.layouts import slot_values
from ml2sc.manifest import Manifest, ManifestError
from ml2sc.onchain import SLOT_GAS_BOUND, compile_plan, deploy_and_upload, encode_row, upload_chunk_slots
from ml2sc.plan import FloatLayer, build_fixed_plan, encode_inputs
from ml2sc.quant import build_int8_plan, calibrate

CAP = TX_GAS_CAP_EIP7825


def _layers(arch, acts, seed=0):
    rng = np.random.default_rng(seed)
    return [
        FloatLayer(f"l{i}", rng.normal(0, 1 / a**0.5, (b, a)), rng.normal(0, 0.2, b), act, 0.1)
        for i, ((a, b), act) in enumerate(zip(zip(arch, arch[1:]), acts))
    ]


def _code(bytecode: bytes) -> bytes:
    """Runtime code without its CBOR metadata (which names the evmVersion)."""
    return bytecode[: -(int.from_bytes(bytecode[-2:], "big") + 2)]


def test_solc_emits_the_same_code_for_every_fork() -> None:
    """The templates hold nothing fork-specific and solc 0.8.37 emits no CLZ of its own: the fitted loop
    costs are one set for every fork. Should solc start to use an Osaka opcode, this fails, and the
    costs need a fit per fork (python -m ml2sc.calibrate --fork)."""
    acts = ("relu", "sigmoid", "tanh", "gelu", "silu", "leaky_relu", "gelu_tanh", "softmax")
    layers = _layers((6, 8, 8, 8, 8, 8, 8, 8, 3), acts)
    x = np.random.default_rng(1).normal(0, 1, (16, 6))
    for plan in (build_fixed_plan(layers), build_int8_plan(layers, calibrate(layers, x))):
        codes = {}
        for fork in ("cancun", "prague", "osaka"):
            compiled = compile_plan(plan, "ForkMLP", "fork.pt", "storage", fork=fork)
            assert compiled.fork.name == fork
            codes[fork] = compiled.artifact.deployed_bytecode
        assert len({_code(c) for c in codes.values()}) == 1, plan.mode
        assert len(set(codes.values())) == 3  # the metadata names the evmVersion


def test_a_storage_model_of_over_10000_parameters_stays_under_the_osaka_cap() -> None:
    """64-96-48-10 in the storage layout (11,386 slots): under Osaka every upload is planned below 2**24 gas
    (Prague's 30M block would take 1,125 slots a chunk, about 25M gas each), every receipt on the
    embedded Osaka chain is below it and within 1% of the estimate; the contract's one-row inference
    (11,386 cold SLOADs) can never fit the cap, so a deployment is refused before anything is sent."""
    plan = build_fixed_plan(_layers((64, 96, 48, 10), ("relu", "relu", "none"), seed=5))
    assert plan.n_params > 10_000
    osaka = compile_plan(plan, "BigMLP", "big.pt", "storage", fork="osaka")
    slots = len(slot_values("storage", osaka.blob))
    row = encode_inputs(plan, [[0.1] * 64])[0]
    prague = compile_plan(plan, "BigMLP", "big.pt", "storage", fork="prague")
    prague_report = gasmodel.estimate(prague, row, upload_chunk_slots(fork="prague"))
    assert max(e.total for _, e in prague_report.upload) > CAP  # the measurement: over the cap
    chunk = upload_chunk_slots(fork="osaka")
    assert chunk == int(0.9 * CAP) // SLOT_GAS_BOUND
    report = gasmodel.estimate(osaka, row, chunk)
    assert report.fork.name == "osaka" and len(report.upload) == math.ceil(slots / chunk) + 1
    assert all(e.total <= CAP for _, e in report.upload) and report.batch_bound.budget == int(0.9 * CAP)

    session = chain.embedded(fork="osaka")  # its VM refuses any transaction that asks for more than 2**24
    assert session.gas_cap == CAP
    with pytest.raises(GasLimitExceeded) as refused:  # what deploy checks before its first transaction
        workflow.check_inference_fits(session, osaka)
    message = str(refused.value)
    bound = report.inference_upper_bound.total
    assert "per-transaction gas cap 16,777,216 (EIP-7825)" in message and "nothing was sent" in message
    assert "the gas model's upper bound" in message and "--layout packed" in message
    assert message.endswith(f"whose block holds {bound:,} gas (embedded: --fork prague --gas-limit {bound})")
    assert session.w3.eth.block_number == 0
    contract, txs = deploy_and_upload(session, osaka)
    assert [label for label, _ in txs] == ["deploy", *[label for label, _ in report.upload]]
    predicted = dict(report.upload) | {"deploy": report.deploy}
    for label, tx in txs:
        assert tx.gas_used <= CAP, label
        assert abs(predicted[label].total - tx.gas_used) <= 0.01 * tx.gas_used, label
    with pytest.raises(GasLimitExceeded, match="per-transaction gas cap 16,777,216"):
        ml2sc.onchain.predict_onchain(session, contract, plan, [row])


def test_the_calldata_floor_is_priced_only_where_the_fork_has_it() -> None:
    """A 64-1 contract on a row of 2,116 non-zero calldata bytes costs EIP-7623's floor under Prague, and
    less under Cancun, which has no floor: the gas model prices each exactly as its receipt."""
    plan = build_fixed_plan(_layers((64, 1), ("none",), seed=2))
    row = [-1] * 64  # every calldata byte 0xff
    gas = {}
    for fork in ("cancun", "prague"):
        compiled = compile_plan(plan, "FloorMLP", "floor.pt", "code", fork=fork)
        session = chain.embedded(fork=fork)
        contract, _ = deploy_and_upload(session, compiled)
        gas[fork] = session.transact(contract, "predict", encode_row(plan, row)).gas_used
        estimate = gasmodel.inference(compiled, row)
        assert abs(estimate.total - gas[fork]) <= 0.01 * gas[fork], fork
        assert ("calldata floor" in " ".join(name for name, _ in estimate.terms)) == (fork == "prague")
    floor = gasmodel.G.floor_gas(gasmodel.predict_calldata(plan, row))
    assert gas["prague"] == floor > gas["cancun"]


def test_the_fork_runs_through_translate_deploy_manifest_and_estimate(tmp_path) -> None:
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    assert ml2sc.translate(model).fork.name == "osaka"
    t = ml2sc.translate(model, fork="prague")
    assert t.fork.name == "prague" and ml2sc.estimate(t).fork.name == "prague"
    with pytest.raises(UnknownName, match="unknown fork 'london' .*known: cancun, prague, osaka"):
        ml2sc.translate(model, fork="london")
    with pytest.raises(ForkMismatch, match="runs Osaka rules, but the contract was compiled .* for Prague's"):
        ml2sc.deploy(t, chain.embedded())
    deployment = ml2sc.deploy(t, manifest=tmp_path / "m.json")  # a fresh embedded chain under Prague
    assert deployment.session.fork.name == "prague" and deployment.fork.name == "prague"
    assert deployment.predict([[0.1, 0.2, 0.3, 0.4]]).emulator_agrees == [True]
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["fork"] == "prague" and saved["version"] == 5
    with pytest.raises(ForkMismatch, match="records a deployment under Prague rules, not Osaka's"):
        ml2sc.verify(deployment, fork="osaka")
    assert ml2sc.verify(deployment).ok
    old = {k: v for k, v in saved.items() if k != "fork"} | {"version": 4}  # before forks were recorded
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert manifest_fork(Manifest.load(tmp_path / "old.json")).name == "prague"
    (tmp_path / "v5.json").write_text(json.dumps(old | {"version": 5}))
    with pytest.raises(ManifestError, match="records no fork"):
        Manifest.load(tmp_path / "v5.json")
    (tmp_path / "bad.json").write_text(json.dumps(saved | {"fork": "london"}))
    with pytest.raises(ManifestError, match="fork 'london' is not one of cancun, prague, osaka"):
        Manifest.load(tmp_path / "bad.json")
    assert get_fork(saved["fork"]).calldata_floor


def test_the_cli_takes_fork_and_writes_it(tmp_path, capsys) -> None:
    torch.manual_seed(8)
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), tmp_path / "n.pt")
    out = tmp_path / "out"
    assert cli.main(["translate", str(tmp_path / "n.pt"), "-o", str(out), "--fork", "cancun", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    artifact = json.loads((out / "NMLP.json").read_text())
    assert summary["fork"] == "cancun" and artifact["evmVersion"] == "cancun" and artifact["fork"] == "cancun"
    for fork, budget in (("prague", 27_000_000), ("osaka", int(0.9 * CAP))):
        assert cli.main(["estimate", str(tmp_path / "n.pt"), "--fork", fork, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["fork"]["name"] == fork and report["batch_upper_bound"]["budget"] == budget
    with pytest.raises(SystemExit) as bad:
        cli.main(["estimate", str(tmp_path / "n.pt"), "--fork", "london"])
    assert bad.value.code == 2 and "invalid choice: 'london'" in capsys.readouterr().err
