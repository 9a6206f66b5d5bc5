"""int8 quantization: zero-range features, per-channel weight scales, and the agreement targets
with the default calibration (calibrated on the rows being predicted, as the CLI does)."""

from __future__ import annotations

import numpy as np
import pytest

from ml2sc import emulator
from ml2sc.capture import capture
from ml2sc.datasets import Split, load_split, torch_predict, train_mlp
from ml2sc.layers import INT8_MAX
from ml2sc.plan import FloatLayer, build_plan, decode_outputs, encode_inputs, group_layers
from ml2sc.quant import CHANNEL_RANGE, build_int8_plan, calibrate, dyadic_channels, float_forward


def _int8(layers: list[FloatLayer], rows: np.ndarray):
    return build_int8_plan(layers, calibrate(layers, rows))


def _outputs(plan, rows: np.ndarray) -> np.ndarray:
    encoded = encode_inputs(plan, rows.tolist())
    return np.array([decode_outputs(plan, emulator.predict(plan, r).outputs) for r in encoded])


def test_a_feature_that_is_zero_in_calibration_never_sets_a_weight_scale() -> None:
    """digits' dead pixels: a near-constant training column gave a folded weight 1,000 times the
    others; with scale 1.0 it set every neuron's scale and most live weights rounded to 0."""
    rng = np.random.default_rng(0)
    weight = rng.normal(0, 0.1, (6, 4))
    weight[:, 2] = 500.0 * np.sign(rng.normal(size=6))  # the dead feature's (untrained) weights
    layers = [
        FloatLayer("fc", weight, np.zeros(6), "relu"),
        FloatLayer("out", rng.normal(size=(2, 6)), np.zeros(2), "none"),
    ]
    rows = rng.normal(0, 3, (20, 4))
    rows[:, 2] = 0.0
    scales = calibrate(layers, rows)
    live = [0, 1, 3]
    folded = np.abs(weight) * np.asarray(scales.inputs)
    assert np.all(folded[:, 2] <= folded[:, live].max(axis=1) * (1 + 1e-12))
    plan = build_int8_plan(layers, scales)
    first = np.array(plan.layers[0].weights).reshape(6, 4)
    assert np.all(np.abs(first[:, live]).max(axis=1) == INT8_MAX)  # every neuron keeps its 8 bits
    assert np.allclose(_outputs(plan, rows), float_forward(layers, rows)[-1], atol=0.05)


def test_all_zero_rows_and_all_zero_models_plan_and_give_the_float_outputs() -> None:
    rng = np.random.default_rng(1)
    layers = [
        FloatLayer("fc", rng.normal(size=(3, 5)), rng.normal(size=3), "relu"),
        FloatLayer("out", rng.normal(size=(2, 3)), rng.normal(size=2), "none"),
    ]
    zeros = np.zeros((4, 5))
    assert calibrate(layers, zeros).inputs == (1.0,) * 5
    plan = _int8(layers, zeros)
    assert np.allclose(_outputs(plan, zeros), float_forward(layers, zeros)[-1], atol=0.02)
    dead = [
        FloatLayer(fl.name, np.zeros_like(fl.weight), np.zeros_like(fl.bias), fl.activation) for fl in layers
    ]
    rows = rng.normal(size=(4, 5))
    plan = _int8(dead, rows)
    assert all(w == 0 for layer in plan.layers for w in layer.weights)
    assert np.all(_outputs(plan, rows) == 0.0)


def test_each_neuron_has_its_own_weight_scale_and_multiplier() -> None:
    """Neurons whose weights differ by 10**4 each use the full int8 range (per-layer scales rounded
    the small ones to 0); their multipliers share one shift, the largest in [2**30, 2**31)."""
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(4, 8)) * np.array([[1.0], [1e-2], [1e-4], [1e-9]])
    layers = [FloatLayer("fc", weight, np.zeros(4), "none")]
    plan = _int8(layers, rng.normal(size=(16, 8)))
    layer = plan.layers[0]
    rows = np.abs(np.array(layer.weights).reshape(4, 8)).max(axis=1)
    assert list(rows[:3]) == [INT8_MAX] * 3
    assert rows[3] == 0  # below CHANNEL_RANGE of the largest: rounds to 0, as it did per layer
    assert 2**30 <= max(layer.requant_m) < 2**31 and len(layer.requant_m) == 4
    assert min(layer.requant_m) >= 2**30 * CHANNEL_RANGE / 2
    ratios = [3.0, 1e-3, 7e-6, 1.0]
    ms, shift = dyadic_channels(ratios)
    for m, r in zip(ms, ratios):
        assert abs(m / 2**shift - r) <= 0.5 / 2**shift


def _agreement(model, rows: np.ndarray) -> float:
    ops = capture(model)
    plan = build_plan(ops, mode="int8", scales=calibrate(group_layers(ops), rows))
    encoded = encode_inputs(plan, rows.tolist())
    got = np.array([emulator.predict(plan, r).predicted_class for r in encoded])
    return float((got == torch_predict(model, rows)).mean())


def test_digits_as_it_ships_agrees_with_torch_on_99_percent() -> None:
    """Raw 0..16 pixels (the standardization folded into the first layer, dead pixels included),
    calibrated on the 450 test rows it predicts: 99.8% here (9.8% when dead pixels took scale 1.0)."""
    split = load_split("digits")
    model = train_mlp(split, hidden=(32,), epochs=150)
    assert _agreement(model, split.x_test) >= 0.99


def test_wine_standardized_agrees_with_torch_on_99_percent() -> None:
    from sklearn.preprocessing import StandardScaler

    raw = load_split("wine")
    scaler = StandardScaler().fit(raw.x_train)
    split = Split(
        "wine", scaler.transform(raw.x_train), raw.y_train, scaler.transform(raw.x_test), raw.y_test
    )
    model = train_mlp(split, hidden=(16,), epochs=150)
    assert _agreement(model, split.x_test) >= 0.99


def test_int8_regression_on_diabetes_within_one_percent_of_the_output_range() -> None:
    """scikit-learn's MLPRegressor on diabetes, calibrated on the rows it predicts: max error 0.47%
    of the output range (0.53% with one weight scale per layer). The error grows with the model's
    gain: int8 inputs and activations carry 1/255 of each one's calibrated range."""
    import warnings

    from sklearn.datasets import load_diabetes
    from sklearn.neural_network import MLPRegressor

    from ml2sc.sklearn_import import sklearn_ops

    x, y = load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a few hundred iterations are enough here
        model = MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=300, random_state=0).fit(x, y)
    expected = model.predict(x)
    ops = sklearn_ops(model)
    plan = build_plan(ops, mode="int8", scales=calibrate(group_layers(ops), x))
    error = np.abs(_outputs(plan, x)[:, 0] - expected).max()
    assert error <= 0.01 * (expected.max() - expected.min())


@pytest.mark.parametrize("peak", [1e-30, 1.0, 1e6])
def test_zero_range_inputs_are_clamped_not_refused_later(peak: float) -> None:
    """A value a dead feature takes after calibration is clamped to 127 of its scale."""
    layers = [FloatLayer("fc", np.array([[1.0, 2.0]]), np.zeros(1), "none")]
    plan = _int8(layers, np.array([[peak, 0.0], [-peak, 0.0]]))
    assert encode_inputs(plan, [[0.0, 1e9]])[0][1] == INT8_MAX
