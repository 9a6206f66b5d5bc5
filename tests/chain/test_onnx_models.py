"""An ONNX file from torch.onnx.export, through the existing pipeline onto the embedded chain:
contract == emulator bit for bit, and its classes equal onnxruntime's."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from evmkit import chain
from ml2sc import emulator
from ml2sc.datasets import load_split
from ml2sc.onchain import compile_plan, deploy_and_upload, predict_batched
from ml2sc.onnx_import import load_onnx
from ml2sc.plan import build_plan, encode_inputs, group_layers
from ml2sc.quant import calibrate

ort = pytest.importorskip("onnxruntime")


def _trained_iris() -> nn.Sequential:
    """A small softmax-headed MLP on standardized iris features (raw features folded in)."""
    split = load_split("iris")
    torch.manual_seed(0)
    mean, std = split.x_train.mean(axis=0), split.x_train.std(axis=0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), nn.Softmax(dim=1))
    x = torch.tensor((split.x_train - mean) / std, dtype=torch.float32)
    y = torch.tensor(split.y_train, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        nn.functional.nll_loss(torch.log(model(x)), y).backward()
        optimizer.step()
    with torch.no_grad():
        model[0].bias -= model[0].weight @ torch.tensor(mean / std, dtype=torch.float32)
        model[0].weight *= torch.tensor(1 / std, dtype=torch.float32)
    return model.eval()


@pytest.mark.parametrize("mode", ["fixed", "int8"])
def test_onnx_file_on_chain_matches_emulator_and_onnxruntime(tmp_path, mode) -> None:
    split = load_split("iris")
    path = tmp_path / "iris.onnx"
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _trained_iris(), (torch.zeros(2, 4),), str(path), dynamo=True, dynamic_shapes=({0: "batch"},)
        )
    ops = load_onnx(path)
    scales = calibrate(group_layers(ops), split.x_train) if mode == "int8" else None
    plan = build_plan(ops, mode=mode, scales=scales)
    assert plan.activations == ("tanh", "softmax")
    session = chain.embedded(block_gas_limit=60_000_000)
    contract, _ = deploy_and_upload(session, compile_plan(plan, "IrisOnnx", "iris.onnx", "code"))
    rows = encode_inputs(plan, split.x_test.tolist())
    batch = predict_batched(session, contract, plan, rows, rows_per_call=len(rows), transact=False)
    assert batch.predictions == [emulator.predict(plan, row) for row in rows]
    runtime = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probabilities,) = runtime.run(None, {runtime.get_inputs()[0].name: split.x_test.astype(np.float32)})
    classes = [p.predicted_class for p in batch.predictions]
    assert classes == probabilities.argmax(axis=1).tolist()
