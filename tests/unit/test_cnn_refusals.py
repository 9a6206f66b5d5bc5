"""Hostile conv models an outside review found: each refused in one clear line, in both formats."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from ml2sc import commitment, quant
from ml2sc.blob import encode_blob
from ml2sc.capture import UnsupportedModel, capture
from ml2sc.onnx_import import load_onnx
from ml2sc.plan import PlanError, build_plan, group_layers


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Unflatten(1, (1, 6, 6)), nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32, 2)
    )


@pytest.mark.parametrize("mode", ["fixed", "int8"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_weight_is_refused_by_name(mode: str, bad: float) -> None:
    net = _net()
    with torch.no_grad():
        net[1].weight[1, 0, 2, 1] = bad
    ops = capture(net)
    rows = np.random.default_rng(0).uniform(0, 1, (4, 36))
    with pytest.raises(PlanError, match=r"weight 1\[1, 0, 2, 1\] is (nan|inf), not a finite number"):
        scales = quant.calibrate(group_layers(ops), rows) if mode == "int8" else None
        build_plan(ops, mode=mode, scales=scales)


def test_a_batchnorm_with_a_negative_variance_is_refused() -> None:
    net = nn.Sequential(
        nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1)
    )
    with torch.no_grad():
        net[2].running_var[1] = -1.0
    with pytest.raises(
        UnsupportedModel, match=r"BatchNorm2d '2' has running_var\[1\] = -1 .*must be positive"
    ):
        capture(net.eval())


def test_int8_calibration_too_small_for_a_bias_is_refused() -> None:
    ops = capture(_net())
    tiny = np.full((4, 36), 1e-310)
    with pytest.raises(PlanError, match="int8 cannot hold the bias"):
        build_plan(ops, mode="int8", scales=quant.calibrate(group_layers(ops), tiny))


def test_an_onnx_reshape_that_changes_the_batch_is_refused(tmp_path) -> None:
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3, 3], [0.1] * 9)
    shape = helper.make_tensor("s", TensorProto.INT64, [4], [-1, 1, 6, 6])
    nodes = [
        helper.make_node("Reshape", ["x", "s"], ["r"], name="reshape"),
        helper.make_node("Conv", ["r", "w"], ["y"], name="conv"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 72])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1, 4, 4])
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[w, shape])
    path = tmp_path / "two_per_row.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(UnsupportedModel, match="declared with 72 values per sample, but the layers read 36"):
        load_onnx(path)


def test_verify_names_a_conv_window_that_differs() -> None:
    a = _net()
    b = nn.Sequential(nn.Unflatten(1, (1, 6, 6)), nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten())
    b.append(nn.Linear(72, 2))
    plans = [build_plan(capture(m)) for m in (a, b)]
    descs = [commitment.commit(p, encode_blob(p), "inline").descriptor for p in plans]
    words = commitment.differences(descs[0], descs[1])
    assert any("padding of layer 1 differs ([0, 0] vs [1, 1])" in w for w in words), words
