"""Convolutional layers on the embedded chain: every output equals the emulator's, in both formats.

The models are built as op lists (``ml2sc.capture`` types) with random weights, so that each walks a
different path of the kernels: padding, strides, a max pool fused into the conv before it and one
that is not (overlapping, padded), average pooling, Conv1d, leaky ReLU, a Linear layer feeding a conv
through ``Unflatten``, the int8 conv's loop over input channels (more than 64 multiplies per output)
and a last, partial group of lanes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evmkit import chain
from evmkit.solc import compile_sources
from helpers.cnn_models import MODELS
from ml2sc import emulator, quant
from ml2sc.blob import encode_blob
from ml2sc.capture import Conv, Dense
from ml2sc.convplan import walks
from ml2sc.plan import build_plan, encode_inputs, group_layers
from ml2sc.render import render_contract


@pytest.fixture(scope="module")
def session() -> chain.ChainSession:
    return chain.embedded()


@pytest.mark.parametrize("mode", ["fixed", "int8"])
@pytest.mark.parametrize("name", list(MODELS))
def test_conv_contract_equals_the_emulator(session: chain.ChainSession, name: str, mode: str) -> None:
    ops = MODELS[name]
    layers = group_layers(ops)
    rng = np.random.default_rng(1)
    rows = rng.uniform(-2, 2, (3 if mode == "fixed" else 6, layers[0].n_in))  # fixed point: ~1M gas a row
    scales = quant.calibrate(layers, rows) if mode == "int8" else None
    plan = build_plan(ops, mode=mode, scales=scales)
    blob = encode_blob(plan)
    source = render_contract(plan, blob, "inline", "CnnMLP", "cnn")
    contract, _ = session.deploy(compile_sources({"Cnn.sol": source}, "CnnMLP"))
    for row in encode_inputs(plan, rows.tolist()):
        argument = bytes(v & 0xFF for v in row) if mode == "int8" else row
        outputs, predicted = contract.functions.predict(argument).call()
        expected = emulator.predict(plan, row)
        assert list(outputs) == list(expected.outputs)
        assert predicted == expected.predicted_class
    batch = [r for r in encode_inputs(plan, rows.tolist())]
    flat = b"".join(bytes(v & 0xFF for v in r) for r in batch) if mode == "int8" else sum(batch, [])
    outputs, classes = contract.functions.predictBatch(flat).call()
    assert list(outputs) == [v for r in batch for v in emulator.predict(plan, r).outputs]


def test_the_kernels_walk_the_paths_the_models_are_built_for() -> None:
    """The models above reach what they are named for: a fused pool, an unfused one, the loop over
    input channels, a partial last group."""
    seen: set[str] = set()
    for ops in MODELS.values():
        layers = group_layers(ops)
        plan = build_plan(ops, mode="int8", scales=quant.calibrate(layers, np.ones((2, layers[0].n_in))))
        w = walks(plan, encode_blob(plan), 4096, 8192)
        seen |= {"fused"} if w.fused else set()
        seen |= {"pool"} if w.pools else set()
        seen |= {"loop"} if any(not c.unroll for c in w.convs.values()) else set()
        seen |= {"rest"} if any(c.rest for c in w.convs.values()) else set()
        seen |= {"padded grid"} if w.init_grids else set()
    assert seen == {"fused", "pool", "loop", "rest", "padded grid"}


def test_float_forward_of_conv_ops_equals_torch() -> None:
    """The float model the int8 calibration and the drift check read is torch's, to float32 rounding."""
    ops = MODELS["stride, padding, overlapping padded max pool, avg pool, leaky"]
    layers = group_layers(ops)
    c1, c2 = (op for op in ops if isinstance(op, Conv))
    fc = next(op for op in ops if isinstance(op, Dense))
    net = torch.nn.Sequential(
        torch.nn.Unflatten(1, (2, 9, 11)),
        torch.nn.Conv2d(2, 4, (3, 5), stride=2, padding=(1, 2)),
        torch.nn.LeakyReLU(0.1),
        torch.nn.MaxPool2d(3, 1, 1),
        torch.nn.Conv2d(4, 3, 2),
        torch.nn.AvgPool2d(2, 1, 1),
        torch.nn.Flatten(),
        torch.nn.Linear(90, 4),
        torch.nn.Sigmoid(),
    ).double()
    with torch.no_grad():
        for module, op in ((net[1], c1), (net[4], c2), (net[7], fc)):
            module.weight.copy_(torch.from_numpy(op.weight))
            module.bias.copy_(torch.from_numpy(op.bias))
    x = np.random.default_rng(3).normal(0, 1, (5, 198))
    expected = net(torch.from_numpy(x)).detach().numpy()
    assert np.allclose(quant.float_forward(layers, x)[-1], expected, atol=1e-12)
