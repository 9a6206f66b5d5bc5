"""The per-channel int8 kernel on chain: each neuron's multiplier read with its bias (m_j | K_j),
the header's shift and slope at their new offsets, wide biases, a dead input feature, every layout."""

from __future__ import annotations

import numpy as np
import pytest

from evmkit import chain
from ml2sc import emulator
from ml2sc.onchain import compile_plan, deploy_and_upload, predict_batched
from ml2sc.plan import FloatLayer, encode_inputs
from ml2sc.quant import build_int8_plan, calibrate, float_forward


@pytest.fixture(scope="module")
def shared_session() -> chain.ChainSession:
    return chain.embedded()


def _layers() -> list[FloatLayer]:
    """Neurons whose weights differ by up to 10**5 (multipliers from 2**14 to 2**31 under one
    shift), a 16-byte bias, leaky_relu (slope from the header), a GELU layer (its out_m and
    out_shift in the header) and a two-output regression head."""
    rng = np.random.default_rng(13)
    w0 = rng.normal(size=(9, 40)) * np.array(
        [[1.0], [1e-1], [1e-2], [1e-3], [1e-5], [1.0], [3.0], [0.3], [1.0]]
    )
    w0[:, 7] = 1e4  # the dead feature's weights
    b0 = rng.normal(0, 0.3, 9)
    b0[4] = 2e3  # its neuron's bias dwarfs its weights: a wide K_j next to a small m_j
    return [
        FloatLayer("l0", w0, b0, "leaky_relu", 0.05),
        FloatLayer(
            "l1", rng.normal(size=(33, 9)) * np.linspace(0.01, 1, 33)[:, None], rng.normal(0, 0.3, 33), "gelu"
        ),
        FloatLayer(
            "l2", rng.normal(size=(2, 33)) * np.array([[1e-3], [10.0]]), np.array([5.0, -300.0]), "none"
        ),
    ]


@pytest.mark.parametrize("layout", ["storage", "packed", "code", "inline"])
def test_per_channel_int8_on_chain_equals_the_emulator(shared_session, layout) -> None:
    layers = _layers()
    rng = np.random.default_rng(14)
    x = rng.normal(0, 2, (10, 40))
    x[:, 7] = 0.0
    plan = build_int8_plan(layers, calibrate(layers, x))
    assert max(len(str(abs(b))) for b in plan.layers[0].biases) > 10  # a bias of several bytes
    assert min(plan.layers[0].requant_m) < 2**20 < 2**30 <= max(plan.layers[0].requant_m)
    compiled = compile_plan(plan, "ChannelMLP", "channels.pt", layout)
    contract, _ = deploy_and_upload(shared_session, compiled)
    later = x[:3].copy()
    later[:, 7] = [1.0, -50.0, 1e6]  # the dead feature takes values after calibration: clamped
    rows = encode_inputs(plan, np.vstack([x, later]).tolist())
    result = predict_batched(shared_session, contract, plan, rows, rows_per_call=7, transact=False)
    assert result.predictions == [emulator.predict(plan, row) for row in rows]
    decoded = np.array([[plan.fmt.decode(v) for v in p.outputs] for p in result.predictions[: len(x)]])
    expected = float_forward(layers, x)[-1]
    assert np.abs(decoded - expected).max(axis=0).tolist() <= (0.02 * np.abs(expected).max(axis=0)).tolist()
