"""The numeric plan and the weight blob: canonical order, hashes, int8 lanes, clear refusals."""

import numpy as np
import pytest
import torch
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from ml2sc import emulator
from ml2sc.blob import encode_blob, int8_weight_word, signed_bytes
from ml2sc.capture import capture
from ml2sc.fixed import FixedFormat, FormatOverflow
from ml2sc.plan import PlanError, build_plan, encode_inputs, group_layers
from ml2sc.quant import calibrate, dyadic


def small_model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.25]]))
        model[0].bias.copy_(torch.tensor([0.125, -1.0]))
        model[2].weight.copy_(torch.tensor([[3.0, -0.5]]))
        model[2].bias.copy_(torch.tensor([0.0]))
    return model


def test_fixed_plan_blob_layout_and_hash() -> None:
    plan = build_plan(capture(small_model()), FixedFormat(4, 16))
    first, second = plan.layers
    assert first.weights == (16, -32, 8, 4) and first.biases == (2, -16)
    assert second.weights == (48, -8) and second.biases == (0,)
    assert plan.architecture == "2-2-1" and plan.n_macs == 6 and plan.n_params == 9 and plan.head == "logit"
    blob = encode_blob(plan)
    # one byte per number suffices (all in -128..127): slope, W, b per layer
    assert blob.lane_bytes == 1
    assert blob.data == bytes([0, 16, 256 - 32, 8, 4, 2, 256 - 16, 0, 48, 256 - 8, 0])
    assert blob.hash == keccak(blob.data)
    assert [lb.weights_offset for lb in blob.layers] == [1, 8]


def test_emulator_by_hand() -> None:
    plan = build_plan(capture(small_model()), FixedFormat(4, 16))
    assert emulator.predict(plan, [16, 16]).outputs == (0,)  # h = relu(-0.875, -0.25) = 0
    prediction = emulator.predict(plan, [32, 0])  # h = (2.125, 0) -> 6.375 = 102 / 16
    assert prediction.outputs == (102,) and prediction.predicted_class == 1


def test_overflowing_weight_names_layer_and_index() -> None:
    model = small_model()
    with torch.no_grad():
        model[2].weight[0, 1] = 1e22
    with pytest.raises(FormatOverflow, match=r"weight 2\[0, 1\] = 1e\+22 does not fit Q67.60"):
        build_plan(capture(model))


def test_layer_grouping_refusals() -> None:
    with pytest.raises(PlanError, match="softmax after '0' is supported only as the last layer"):
        group_layers(capture(nn.Sequential(nn.Linear(2, 2), nn.Softmax(dim=1), nn.Linear(2, 2))))
    with pytest.raises(PlanError, match="two activations in a row"):
        group_layers(capture(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh())))
    with pytest.raises(PlanError, match="before any Linear"):
        group_layers(capture(nn.Sequential(nn.ReLU(), nn.Linear(2, 2))))


def test_inputs_are_checked() -> None:
    plan = build_plan(capture(small_model()))
    with pytest.raises(PlanError, match="row 0 has 3 features"):
        encode_inputs(plan, [[1.0, 2.0, 3.0]])
    with pytest.raises(FormatOverflow, match="input row 1 feature 0"):
        encode_inputs(plan, [[1.0, 2.0], [1e30, 0.0]])
    assert encode_inputs(plan, np.array([[0.5, -1.0]]).tolist()) == [[2**59, -(2**60)]]


@given(st.floats(min_value=1e-12, max_value=1e6, allow_nan=False))
def test_dyadic_is_close(ratio: float) -> None:
    m, shift = dyadic(ratio)
    assert 2**30 <= m < 2**31 and 1 <= shift <= 200
    assert abs(m / 2**shift - ratio) <= ratio * 2**-30


def test_dyadic_of_a_vanishing_ratio_is_zero() -> None:
    assert dyadic(1e-60) == (0, 1)
    with pytest.raises(PlanError):
        dyadic(0.0)


def test_signed_bytes() -> None:
    assert [signed_bytes(v) for v in (0, 127, 128, -128, -129, 2**31 - 1, -(2**31))] == [1, 1, 2, 1, 2, 4, 4]


LANES = sum(0xFF << (32 * k) for k in range(8))
MASK256 = 2**256 - 1


def swar_dot(words: list[bytes], row: bytes) -> int:
    """The contract's lane arithmetic on int8 input bytes, in Python with 256-bit wrap-around."""
    xw = []
    for w in range(len(words)):
        v = int.from_bytes(row[32 * w : 32 * w + 32], "big") ^ int.from_bytes(b"\x80" * 32, "big")
        xw += [(v >> (8 * t)) & LANES for t in range(4)]
    d = 0
    for w, word in enumerate(words):
        value = int.from_bytes(word, "big")
        for t in range(4):
            d = (d + (((value >> (8 * t)) & LANES) * xw[4 * w + t])) & MASK256
    total = sum(x * sum(1 << (32 * k) for k in range(8)) for x in xw) & MASK256
    return (d >> 224) - 128 * (total >> 224)


@given(st.data())
def test_int8_lanes_compute_exact_dot_products(data) -> None:
    n = data.draw(st.integers(1, 100))
    weights = data.draw(st.lists(st.integers(-127, 127), min_size=n, max_size=n))
    acts = data.draw(st.lists(st.integers(-128, 127), min_size=n, max_size=n))
    n_words = -(-n // 32)
    garbage = data.draw(st.binary(min_size=32 * n_words - n, max_size=32 * n_words - n))
    row = bytes(a & 0xFF for a in acts) + garbage  # lanes past the row hold other bytes
    words = [int8_weight_word(tuple(weights), w) for w in range(n_words)]
    expected = sum(w * a for w, a in zip(weights, acts)) + 128 * sum(weights)
    assert swar_dot(words, row) == expected  # the stored bias K_j subtracts 128 * sum(w)


def test_int8_plan_uses_per_feature_input_scales() -> None:
    ops = capture(small_model())
    rows = np.array([[1000.0, 0.01], [-500.0, 0.02]])
    scales = calibrate(group_layers(ops), rows)
    assert scales.inputs == (1000.0 / 127, 0.02 / 127) and len(scales.hidden) == 1
    plan = build_plan(ops, mode="int8", scales=scales)
    assert encode_inputs(plan, [[1000.0, 0.01], [5000.0, -1.0]]) == [[127, 64], [127, -128]]
    assert all(-127 <= w <= 127 for layer in plan.layers for w in layer.weights)
    with pytest.raises(PlanError, match="needs calibrated scales"):
        build_plan(ops, mode="int8")


def test_int8_scales_never_zero_even_for_subnormal_inputs():
    """Hypothesis found it: a calibration column of subnormal floats made its scale underflow to 0.0."""
    import numpy as np

    from ml2sc.plan import FloatLayer, encode_inputs
    from ml2sc.quant import build_int8_plan, calibrate

    layers = [FloatLayer("fc", np.ones((1, 2)), np.zeros(1), "none")]
    rows = np.array([[5e-324, 0.0], [0.0, 0.0]])
    scales = calibrate(layers, rows)
    assert all(s > 0 for s in scales.inputs)
    plan = build_int8_plan(layers, scales)
    assert encode_inputs(plan, rows.tolist()) == [[0, 0], [0, 0]]
