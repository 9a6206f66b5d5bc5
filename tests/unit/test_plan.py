"""The numeric plan: canonical weight order, the weights hash, overflow naming the weight."""

import numpy as np
import pytest
import torch
from eth_utils import keccak
from torch import nn

from ml2sc import emulator
from ml2sc.capture import capture
from ml2sc.fixed import FixedFormat, FormatOverflow
from ml2sc.plan import DenseStep, build_plan, encode_inputs, encode_weights, weights_hash


def small_model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.25]]))
        model[0].bias.copy_(torch.tensor([0.125, -1.0]))
        model[2].weight.copy_(torch.tensor([[3.0, -0.5]]))
        model[2].bias.copy_(torch.tensor([0.0]))
    return model


def test_canonical_order_and_offsets() -> None:
    plan = build_plan(capture(small_model()), FixedFormat(4, 16))
    assert plan.weights == (16, -32, 8, 4, 2, -16, 48, -8, 0)
    first, second = plan.dense_steps
    assert (first.w_offset, first.b_offset, second.w_offset, second.b_offset) == (0, 4, 6, 8)
    assert plan.architecture == "2-2-1" and plan.n_macs == 6 and plan.head == "logit"


def test_weights_hash_is_keccak_of_int256_words() -> None:
    words = encode_weights([1, -1])
    assert words == (1).to_bytes(32, "big") + b"\xff" * 32
    assert weights_hash([1, -1]) == keccak(words)


def test_emulator_by_hand() -> None:
    plan = build_plan(capture(small_model()), FixedFormat(4, 16))
    # x = (1, 1): h = relu(1-2+0.125, 0.5+0.25-1) = (0, 0) -> out = 0
    assert emulator.predict(plan, [16, 16]).outputs == (0,)
    # x = (2, 0): h = relu(2.125, 0) -> out = 6.375 = 102/16
    prediction = emulator.predict(plan, [32, 0])
    assert prediction.outputs == (102,) and prediction.predicted_class == 1


def test_overflowing_weight_names_layer_and_index() -> None:
    model = small_model()
    with torch.no_grad():
        model[2].weight[0, 1] = 1e22
    with pytest.raises(FormatOverflow, match=r"weight 2\[0, 1\] = 1e\+22 does not fit Q67.60"):
        build_plan(capture(model))


def test_inputs_are_checked() -> None:
    plan = build_plan(capture(small_model()))
    with pytest.raises(ValueError, match="row 0 has 3 features"):
        encode_inputs(plan, [[1.0, 2.0, 3.0]])
    with pytest.raises(FormatOverflow, match="input row 1 feature 0"):
        encode_inputs(plan, [[1.0, 2.0], [1e30, 0.0]])
    assert encode_inputs(plan, np.array([[0.5, -1.0]]).tolist()) == [[2**59, -(2**60)]]
    assert isinstance(plan.steps[0], DenseStep)
