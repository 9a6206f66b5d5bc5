"""Generated MLP contracts on the embedded chain: identical to the emulator, owner-only, resumable."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from evmkit import chain
from evmkit.errors import CompilerError, TransactionReverted
from evmkit.solc import (
    SOLC_VERSION,
    Compiler,
    compile_sources,
    find_solcjs,
    installed_native,
    resolve_compiler,
)
from ml2sc import emulator
from ml2sc.capture import capture
from ml2sc.datasets import load_split, torch_predict, train_mlp
from ml2sc.evm_int import EvmPanic
from ml2sc.fixed import FixedFormat
from ml2sc.layouts import data_contract_initcode, slot_values
from ml2sc.onchain import (
    compile_plan,
    data_contract_code,
    deploy_and_upload,
    deploy_data_contracts,
    predict_batched,
    predict_onchain,
    upload_slots,
)
from ml2sc.plan import build_plan, encode_inputs, group_layers
from ml2sc.quant import calibrate


def deploy_plan(session, plan, layout=None, name="TestMLP"):
    compiled = compile_plan(plan, name, "test.pt", layout)
    contract, _ = deploy_and_upload(session, compiled)
    return contract


def test_solcjs_compiles_fresh(tmp_path, monkeypatch, session) -> None:
    package = find_solcjs()
    assert package is not None, "run.sh installs solc-js with npm"
    monkeypatch.setenv("EVMKIT_CACHE_DIR", str(tmp_path))  # no cache: a real compilation
    compiler = resolve_compiler(package)
    assert compiler.kind == "solcjs" and compiler.version == SOLC_VERSION
    src = (
        "pragma solidity ^0.8.24; "
        "contract Twice { function f(int x) external pure returns (int) { return 2 * x; } }"
    )
    artifact = compile_sources({"Twice.sol": src}, "Twice", compiler)
    assert list(tmp_path.iterdir()), "the result was cached"
    contract, _ = session.deploy(artifact)
    assert session.call(contract, "f", -21) == -42


def _native_solc_on_path() -> str | None:
    """A `solc` on PATH, unless it is solc-select's launcher (Slither installs one into the venv), which
    would try to download a compiler."""
    found = shutil.which("solc")
    if found and b"solc_select" in Path(found).read_bytes()[:4096]:
        return None
    return found


def test_native_solc_gives_the_same_bytecode(tmp_path, monkeypatch) -> None:
    found = os.environ.get("SOLC") or _native_solc_on_path()
    native = resolve_compiler(found) if found else installed_native()
    if native is None or native.kind != "native":
        pytest.skip("no native solc on this machine (py-solc-x needs internet to install one)")
    if native.version != SOLC_VERSION:
        pytest.skip(f"native solc is {native.version}, not the pinned {SOLC_VERSION}")
    monkeypatch.setenv("EVMKIT_CACHE_DIR", str(tmp_path))
    src = "pragma solidity ^0.8.24; contract C { uint public x = 7; }"
    a = compile_sources({"C.sol": src}, "C", native)
    b = compile_sources({"C.sol": src}, "C", resolve_compiler(find_solcjs()))
    assert a.bytecode == b.bytecode


def test_compile_error_is_solcs_message(compiler: Compiler) -> None:
    with pytest.raises(CompilerError, match=r"(?s)ParserError.*Broken.sol:1"):
        compile_sources({"Broken.sol": "contract X { function f() { uint x = ; } }"}, "X", compiler)


@pytest.mark.parametrize("mode", ["fixed", "int8"])
def test_every_breast_cancer_test_row_matches_the_emulator(breast_cancer, session, mode) -> None:
    split, model = breast_cancer
    ops = capture(model)
    scales = calibrate(group_layers(ops), split.x_train) if mode == "int8" else None
    plan = build_plan(ops, mode=mode, scales=scales)
    contract = deploy_plan(session, plan)
    rows = encode_inputs(plan, split.x_test.tolist())
    batch = predict_batched(session, contract, plan, rows, rows_per_call=48, transact=False)
    assert batch.predictions == [emulator.predict(plan, row) for row in rows]
    classes = np.array([p.predicted_class for p in batch.predictions])
    assert np.mean(classes == torch_predict(model, split.x_test)) >= (0.995 if mode == "fixed" else 0.99)


@pytest.mark.parametrize("mode", ["fixed", "int8"])
def test_digits_ten_classes_on_chain(session, mode) -> None:
    split = load_split("digits")
    model = train_mlp(split, hidden=(32,))
    ops = capture(model)
    scales = calibrate(group_layers(ops), split.x_train) if mode == "int8" else None
    plan = build_plan(ops, mode=mode, scales=scales)
    contract = deploy_plan(session, plan, "code")
    rows = encode_inputs(plan, split.x_test.tolist())
    if mode == "fixed":
        rows = rows[:120]  # fixed point costs ~500k gas a row on py-evm; int8 runs them all
    batch = predict_batched(
        session,
        contract,
        plan,
        rows,
        rows_per_call=15 if mode == "fixed" else 50,  # calls that fit Osaka's 2**24 per-transaction cap
        transact=False,
    )
    assert batch.predictions == [emulator.predict(plan, row) for row in rows]
    classes = np.array([p.predicted_class for p in batch.predictions])
    agreement = np.mean(classes == torch_predict(model, split.x_test[: len(rows)]))
    assert agreement >= (0.995 if mode == "fixed" else 0.99)


ACTIVATIONS = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "leaky": lambda: nn.LeakyReLU(0.125),
    "none": None,
}


@st.composite
def small_mlps(draw):
    widths = draw(st.lists(st.integers(1, 24), min_size=2, max_size=4))
    layers: list[nn.Module] = []
    for index, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        layer = nn.Linear(n_in, n_out, bias=draw(st.booleans()))
        weights = draw(
            st.lists(st.floats(-4, 4, allow_nan=False), min_size=n_in * n_out, max_size=n_in * n_out)
        )
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(weights).reshape(n_out, n_in))
            if layer.bias is not None:
                layer.bias.copy_(
                    torch.tensor(draw(st.lists(st.floats(-4, 4), min_size=n_out, max_size=n_out)))
                )
        layers.append(layer)
        act = ACTIVATIONS[draw(st.sampled_from(sorted(ACTIVATIONS)))]
        if n_out > 1 and index == len(widths) - 2 and draw(st.booleans()):
            act = lambda: nn.Softmax(dim=1)  # noqa: E731 - a classification head
        if act is not None:
            layers.append(act())
    mode = draw(st.sampled_from(["fixed", "int8"]))
    fmt = FixedFormat(draw(st.sampled_from([16, 32, 60])), 128)
    layout = draw(st.sampled_from(["storage", "packed", "code", "inline"]))
    inputs = draw(
        st.lists(st.lists(st.floats(-50, 50), min_size=widths[0], max_size=widths[0]), min_size=1, max_size=3)
    )
    return nn.Sequential(*layers), mode, fmt, layout, inputs


@pytest.fixture(scope="module")
def shared_session() -> chain.ChainSession:
    return chain.embedded()


@settings(max_examples=25)
@given(small_mlps())
def test_random_mlps_match_the_emulator_on_chain(shared_session, case) -> None:
    model, mode, fmt, layout, inputs = case
    ops = capture(model)
    scales = calibrate(group_layers(ops), np.array(inputs)) if mode == "int8" else None
    plan = build_plan(ops, fmt, mode, scales)
    contract = deploy_plan(shared_session, plan, layout)
    rows = encode_inputs(plan, inputs)
    for (prediction, gas), row in zip(predict_onchain(shared_session, contract, plan, rows), rows):
        assert prediction == emulator.predict(plan, row)
        assert gas > 21_000
    batch = predict_batched(shared_session, contract, plan, rows, rows_per_call=len(rows), transact=False)
    assert batch.predictions == [emulator.predict(plan, row) for row in rows]


def test_overflow_reverts_on_chain_and_in_the_emulator(session) -> None:
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(2.0**66)
        model[1].weight.fill_(2.0**66)
    plan = build_plan(capture(model))
    row = [plan.fmt.encode(2.0**66)]
    with pytest.raises(EvmPanic):
        emulator.predict(plan, row)
    for layout in ("storage", "inline"):
        contract = deploy_plan(session, plan, layout)
        with pytest.raises(TransactionReverted, match=r"panic 0x11"):
            session.call(contract, "predict", row)


def test_only_the_owner_writes_and_uploads_resume(session) -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    plan = build_plan(capture(model))
    compiled = compile_plan(plan, "OwnedMLP", "owned.pt", "storage")
    contract, _ = session.deploy(compiled.artifact)
    values = slot_values("storage", compiled.blob)
    assert len(values) == 92  # 72 weights + 10 biases + 2 slopes, one slot each
    stranger = session.signers[1]
    with pytest.raises(TransactionReverted, match=r"NotOwner\(\)"):
        session.transact(contract, "upload", 0, values[:3], sender=stranger)
    with pytest.raises(TransactionReverted, match=r"WeightsNotLoaded\(\)"):
        session.call(contract, "predict", [0] * 8)

    # an interrupted upload: the first 30 slots only
    session.transact(contract, "upload", 0, values[:30])
    with pytest.raises(TransactionReverted, match=r"UploadOutOfOrder\(30, 0\)"):
        session.transact(contract, "upload", 0, values[:5])
    with pytest.raises(TransactionReverted, match=r"UploadIncomplete\(30, 92\)"):
        session.transact(contract, "finalize", compiled.blob.hash)
    txs = upload_slots(session, contract, compiled, chunk_size=25)  # resumes at 30
    assert [label for label, _ in txs] == ["upload[30:55]", "upload[55:80]", "upload[80:92]", "finalize"]
    assert session.call(contract, "weightsHash") == compiled.blob.hash
    with pytest.raises(TransactionReverted, match=r"NotOwner\(\)"):
        session.transact(contract, "finalize", b"\x01" * 32, sender=stranger)
    with pytest.raises(TransactionReverted, match=r"WeightsAlreadyFinal\(\)"):
        session.transact(contract, "upload", 92, values[:1])
    row = encode_inputs(plan, [np.linspace(-1, 1, 8).tolist()])[0]
    outputs, predicted = session.call(contract, "predict", row)
    assert (tuple(outputs), predicted) == tuple(emulator.predict(plan, row).__dict__.values())
    with pytest.raises(TransactionReverted, match=r"BadInputLength\(8, 3\)"):
        session.call(contract, "predict", [1, 2, 3])


@pytest.mark.parametrize("layout", ["storage", "packed"])
def test_finalize_refuses_slots_that_are_not_the_models(session, layout) -> None:
    """The review's first break: one weight word zeroed, then the honest hash: refused now."""
    torch.manual_seed(5)
    plan = build_plan(capture(nn.Sequential(nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 3))))
    compiled = compile_plan(plan, "SealedMLP", "sealed.pt", layout)
    contract, _ = session.deploy(compiled.artifact)
    values = slot_values(layout, compiled.blob)
    tampered = list(values)
    tampered[len(values) // 2] = bytes(32)
    session.transact(contract, "upload", 0, tampered)
    with pytest.raises(TransactionReverted, match=r"UploadMismatch\(0x[0-9a-f]{64}, 0x[0-9a-f]{64}\)"):
        session.transact(contract, "finalize", compiled.blob.hash)
    assert session.call(contract, "weightsHash") == bytes(32)
    with pytest.raises(TransactionReverted, match=r"WeightsNotLoaded\(\)"):
        session.call(contract, "predict", [0] * 8)
    # the honest slots, but another hash claimed: refused too; then the honest seal works
    fresh, _ = session.deploy(compiled.artifact)
    session.transact(fresh, "upload", 0, values)
    with pytest.raises(TransactionReverted, match="WeightsHashMismatch"):
        session.transact(fresh, "finalize", b"\x07" * 32)
    session.transact(fresh, "finalize", compiled.blob.hash)
    assert session.call(fresh, "modelHash") == compiled.commitment.model_hash


def test_code_layout_pins_its_data_contracts(session) -> None:
    torch.manual_seed(2)
    plan = build_plan(capture(nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))))
    compiled = compile_plan(plan, "PinnedMLP", "pinned.pt", "code")
    data = deploy_data_contracts(session, compiled)
    assert [bytes(session.w3.eth.get_code(a)) for a in data] == data_contract_code(compiled)
    other = compile_plan(
        build_plan(capture(nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2)))),
        "PinnedMLP",
        "pinned.pt",
        "code",
    )
    wrong = deploy_data_contracts(session, other)
    with pytest.raises(TransactionReverted, match="WeightsHashMismatch"):
        session.deploy(compiled.artifact, wrong)
    # the right chunk behind a first byte that could run (PUSH1): refused before its hash is compared
    chunk = data_contract_code(compiled)[0][1:]
    runnable = session.send(None, data_contract_initcode(chunk)[:12] + b"\x60" + chunk).contract_address
    with pytest.raises(TransactionReverted, match=r"DataContractNotInert\(0\)"):
        session.deploy(compiled.artifact, [runnable])
    contract, _ = session.deploy(compiled.artifact, data)
    assert session.call(contract, "dataContracts") == data
    assert session.call(contract, "weightsHash") == compiled.blob.hash


def every_layer_model() -> nn.Sequential:
    torch.manual_seed(11)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 40),
        nn.BatchNorm1d(40),
        nn.LeakyReLU(0.1),
        nn.Dropout(0.2),
        nn.Linear(40, 24),
        nn.Tanh(),
        nn.Linear(24, 16),
        nn.Sigmoid(),
        nn.Linear(16, 8),
        nn.ReLU(),
        nn.Identity(),
        nn.Linear(8, 5),
        nn.Softmax(dim=1),
    )
    model.train()
    for _ in range(10):
        model(torch.randn(32, 12) * 2)
    return model.eval()


@pytest.mark.parametrize("layout", ["storage", "packed", "code", "inline"])
@pytest.mark.parametrize("mode", ["fixed", "int8"])
def test_every_layer_type_in_every_mode_and_layout(shared_session, mode, layout) -> None:
    model = every_layer_model()
    ops = capture(model)
    x = np.random.default_rng(3).normal(size=(12, 12)) * 2
    scales = calibrate(group_layers(ops), x) if mode == "int8" else None
    plan = build_plan(ops, mode=mode, scales=scales)
    assert plan.activations == ("leaky_relu", "tanh", "sigmoid", "relu", "softmax")
    contract = deploy_plan(shared_session, plan, layout)
    rows = encode_inputs(plan, x.tolist())
    batch = predict_batched(shared_session, contract, plan, rows, rows_per_call=6, transact=False)
    assert batch.predictions == [emulator.predict(plan, row) for row in rows]
    with torch.no_grad():
        probabilities = model(torch.tensor(x, dtype=torch.float32)).numpy()
    decoded = np.array([[plan.fmt.decode(v) for v in p.outputs] for p in batch.predictions])
    assert np.abs(decoded - probabilities).max() < (1e-4 if mode == "fixed" else 0.1)


def test_interrupted_code_layout_deployment_reuses_its_data_contracts(session, tmp_path) -> None:
    from ml2sc import workflow

    torch.manual_seed(8)
    model_path = tmp_path / "wide.pt"
    torch.save(nn.Sequential(nn.Linear(120, 50), nn.ReLU(), nn.Linear(50, 10)), model_path)
    t = workflow.translate(model_path, workflow.Settings(layout="code"))
    assert len(t.compiled.blob.data) > 2 * 24_575  # three data contracts
    manifest_path = tmp_path / "wide.deployment.json"

    class Stop(Exception):
        pass

    def stop_after_first(label, tx) -> None:
        if label == "data[0]":
            raise Stop

    with pytest.raises(Stop):
        workflow.deploy(session, t, manifest_path, {"kind": "embedded"}, on_tx=stop_after_first)
    first = json.loads(manifest_path.read_text())
    assert not first["complete"] and len(first["data_contracts"]) == 1
    manifest, contract = workflow.deploy(session, t, manifest_path, {"kind": "embedded"})
    labels = [tx.label for tx in manifest.transactions]
    assert labels == ["data[0]", "data[1]", "data[2]", "deploy"]  # data[0] was not deployed twice
    assert manifest.data_contracts[0] == first["data_contracts"][0] and manifest.complete
    check = workflow.verify(session, manifest, t)
    assert check.ok, check.differences
    assert {c.what: c.outcome for c in check.checks}["weights read back from chain"] == "match"
