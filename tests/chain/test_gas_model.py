"""Analytic gas predictions against real receipts on the embedded chain."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpy as np
import torch
from torch import nn

from evmkit import chain
from ml2sc import gasmodel
from ml2sc.capture import capture
from ml2sc.gasmodel import data_contract_creation
from ml2sc.layouts import LayoutError, data_contract_initcode
from ml2sc.onchain import compile_plan, deploy_and_upload, encode_row, upload_chunk_slots
from ml2sc.plan import build_plan, encode_inputs, group_layers
from ml2sc.quant import calibrate


@pytest.fixture(scope="module")
def session():
    return chain.embedded()


@pytest.fixture(scope="module")
def shared_chain():
    return chain.embedded(block_gas_limit=60_000_000)


@settings(max_examples=15)
@given(st.binary(min_size=1, max_size=24_575))
def test_data_contract_gas_is_exact(session, chunk: bytes) -> None:
    tx = session.send(None, data_contract_initcode(chunk))
    assert bytes(session.w3.eth.get_code(tx.contract_address)) == b"\x00" + chunk
    assert data_contract_creation(chunk).total == tx.gas_used


GRID = [
    ((30, 16, 8, 1), ("relu", "relu", "sigmoid")),
    ((64, 32, 10), ("relu", "softmax")),
    ((8, 24, 24, 3), ("tanh", "leaky_relu", "none")),
    ((16, 5, 12, 7, 4), ("sigmoid", "relu", "tanh", "softmax")),
]


def grid_cases():
    for arch, acts in GRID:
        for mode in ("fixed", "int8"):
            for layout in ("storage", "packed", "code", "inline"):
                yield pytest.param(arch, acts, mode, layout, id=f"{'-'.join(map(str, arch))}-{mode}-{layout}")


@pytest.mark.parametrize("arch, acts, mode, layout", list(grid_cases()))
def test_gas_model_within_one_percent(shared_chain, arch, acts, mode, layout) -> None:
    torch.manual_seed(sum(arch))
    modules: list[nn.Module] = []
    kinds = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.1),
             "softmax": lambda: nn.Softmax(dim=1)}
    for (a, b), act in zip(zip(arch, arch[1:]), acts):
        modules.append(nn.Linear(a, b))
        if act != "none":
            modules.append(kinds[act]())
    ops = capture(nn.Sequential(*modules))
    x = np.random.default_rng(1).normal(size=(16, arch[0])) * 2
    plan = build_plan(ops, mode=mode, scales=calibrate(group_layers(ops), x) if mode == "int8" else None)
    try:
        compiled = compile_plan(plan, "GasMLP", "gas.pt", layout)
    except LayoutError:
        pytest.skip("weights too large for an inline contract (refused before deploying)")
    row = encode_inputs(plan, x[:1].tolist())[0]
    report = gasmodel.estimate(compiled, row, upload_chunk_slots(shared_chain))
    contract, txs = deploy_and_upload(shared_chain, compiled)
    predicted = dict(report.upload) | {"deploy": report.deploy}
    assert [label for label, _ in txs if label != "deploy"] == [label for label, _ in report.upload]
    for label, tx in txs:
        assert abs(predicted[label].total - tx.gas_used) <= 0.01 * tx.gas_used, label
    measured = shared_chain.transact(contract, "predict", encode_row(plan, row)).gas_used
    assert abs(report.inference.total - measured) <= 0.01 * measured
