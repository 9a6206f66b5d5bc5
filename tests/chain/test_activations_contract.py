"""GELU and SiLU on the embedded chain: contract == emulator bit for bit, in both formats and every
layout, hidden and last; and classification agreement with float PyTorch on a real dataset."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch import nn

from evmkit import chain
from ml2sc import emulator
from ml2sc.capture import capture
from ml2sc.datasets import load_split, torch_predict
from ml2sc.fixed import FixedFormat
from ml2sc.onchain import compile_plan, deploy_and_upload, predict_batched
from ml2sc.plan import build_plan, encode_inputs, group_layers
from ml2sc.quant import calibrate

NEW = {"gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh"), "silu": nn.SiLU}


@pytest.fixture(scope="module")
def shared_session() -> chain.ChainSession:
    return chain.embedded(block_gas_limit=60_000_000)


def _model(seed: int) -> nn.Sequential:
    """Every new activation hidden, one of them last (a 3-output head)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(7, 12),
        nn.GELU(),
        nn.Linear(12, 9),
        nn.SiLU(),
        nn.Linear(9, 8),
        nn.GELU(approximate="tanh"),
        nn.Linear(8, 6),
        nn.ReLU(),
        nn.Linear(6, 3),
        [nn.GELU, nn.SiLU, lambda: nn.GELU(approximate="tanh")][seed % 3](),
    )


def _rows(n_in: int, seed: int) -> np.ndarray:
    """Ordinary rows, large ones (past every cut-off) and zeros."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(10, n_in)) * 2
    x[3] *= 30
    x[4] *= -30
    x[5] = 0
    return x


@pytest.mark.parametrize("layout", ["storage", "packed", "code", "inline"])
@pytest.mark.parametrize("mode", ["fixed", "int8"])
def test_gelu_and_silu_match_the_emulator_on_chain(shared_session, mode, layout) -> None:
    model = _model({"storage": 0, "packed": 1, "code": 2, "inline": 3}[layout])
    ops = capture(model)
    x = _rows(7, 5)
    scales = calibrate(group_layers(ops), x[:3]) if mode == "int8" else None  # the big rows clamp
    plan = build_plan(ops, mode=mode, scales=scales)
    assert plan.activations[:3] == ("gelu", "silu", "gelu_tanh")
    compiled = compile_plan(plan, "ActMLP", "act.pt", layout)
    contract, _ = deploy_and_upload(shared_session, compiled)
    rows = encode_inputs(plan, x.tolist())
    batch = predict_batched(shared_session, contract, plan, rows, rows_per_call=len(rows), transact=False)
    assert batch.predictions == [emulator.predict(plan, row) for row in rows]
    with torch.no_grad():
        expected = model(torch.tensor(x[:3], dtype=torch.float32)).numpy()
    decoded = np.array([[plan.fmt.decode(v) for v in p.outputs] for p in batch.predictions[:3]])
    assert np.abs(decoded - expected).max() < (1e-5 if mode == "fixed" else 0.15)


@pytest.mark.parametrize("frac_bits", [16, 32, 100])
def test_fixed_point_precisions_on_chain(shared_session, frac_bits) -> None:
    """The cut-offs and polynomial constants depend on --frac-bits: each must match on chain."""
    torch.manual_seed(frac_bits)
    model = nn.Sequential(
        nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 5), nn.GELU(approximate="tanh"), nn.Linear(5, 4), nn.SiLU()
    )
    plan = build_plan(capture(model), FixedFormat(frac_bits, 128 if frac_bits < 128 else 152))
    contract, _ = deploy_and_upload(shared_session, compile_plan(plan, "PrecMLP", "p.pt", "inline"))
    rows = encode_inputs(plan, _rows(4, frac_bits).tolist())
    batch = predict_batched(shared_session, contract, plan, rows, rows_per_call=len(rows), transact=False)
    assert batch.predictions == [emulator.predict(plan, row) for row in rows]


@functools.cache
def _trained_on_digits(name: str) -> nn.Sequential:
    """One trained model per activation, shared by both number formats."""
    return _trained(load_split("digits"), NEW[name])


def _trained(split, activation, seed: int = 0, epochs: int = 300) -> nn.Sequential:
    """A small MLP with ``activation`` hidden, trained full-batch with Adam on standardized features."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(split.n_features, 32),
        activation(),
        nn.Linear(32, 16),
        activation(),
        nn.Linear(16, split.n_classes),
    )
    x = torch.tensor(split.x_train, dtype=torch.float32)
    y = torch.tensor(split.y_train, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize("mode", ["fixed", "int8"])
@pytest.mark.parametrize("name", sorted(NEW))
def test_digits_agreement_with_torch(shared_session, name, mode) -> None:
    split = load_split("digits")
    model = _trained_on_digits(name)
    ops = capture(model)
    scales = calibrate(group_layers(ops), split.x_train) if mode == "int8" else None
    plan = build_plan(ops, mode=mode, scales=scales)
    compiled = compile_plan(plan, "DigitsMLP", "digits.pt", "code")
    contract, _ = deploy_and_upload(shared_session, compiled)
    rows = encode_inputs(plan, split.x_test.tolist())
    # on-chain == emulator on a slice (py-evm is slow: the layout tests above hold it on chain for
    # every layout); the emulator's agreement with torch is measured on every test row below
    rows = rows[:30] if mode == "fixed" else rows[:150]
    per_call = 15 if mode == "fixed" else 50  # calls that fit Osaka's 2**24 per-transaction cap
    batch = predict_batched(shared_session, contract, plan, rows, rows_per_call=per_call, transact=False)
    assert batch.predictions == [emulator.predict(plan, row) for row in rows]
    every = encode_inputs(plan, split.x_test.tolist())
    classes = np.array([emulator.predict(plan, row).predicted_class for row in every])
    agreement = float(np.mean(classes == torch_predict(model, split.x_test)))
    assert agreement >= (0.995 if mode == "fixed" else 0.99), agreement
