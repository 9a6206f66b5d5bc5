"""What cannot fit is refused before it is sent, with its estimate; the float-model check counts
agreement and clamped int8 inputs (embedded chain)."""

from __future__ import annotations

import numpy as np
import pytest

from evmkit import chain
from evmkit.errors import GasLimitExceeded
from ml2sc import cli, gasmodel, workflow
from ml2sc.fixed import FixedFormat
from ml2sc.onchain import compile_plan, deploy_and_upload, predict_onchain
from ml2sc.plan import FloatLayer, build_fixed_plan, encode_inputs
from ml2sc.quant import Scales, build_int8_plan


def _wide_tanh_layers() -> list[FloatLayer]:
    rng = np.random.default_rng(0)
    return [
        FloatLayer("l0", rng.normal(0, 1, (1000, 1)), rng.normal(0, 0.3, 1000), "tanh"),
        FloatLayer("l1", rng.normal(0, 0.03, (1, 1000)), rng.normal(0, 0.3, 1), "none"),
    ]


def test_deploy_and_one_row_over_the_limit_are_refused_with_their_estimates() -> None:
    plan = build_fixed_plan(_wide_tanh_layers(), FixedFormat(8, 16))
    compiled = compile_plan(plan, "WideMLP", "wide.pt", "inline")
    small = chain.embedded(block_gas_limit=1_000_000)
    need = gasmodel.deploy(compiled).total
    with pytest.raises(GasLimitExceeded) as info:
        deploy_and_upload(small, compiled)
    assert str(info.value) == (
        f"the model contract's deployment needs about {need:,} gas (estimate), over the block gas limit "
        "1,000,000 of embedded py-evm chain (osaka); nothing was sent"
    )
    assert small.w3.eth.block_number == 0
    session = chain.embedded(block_gas_limit=3_000_000)
    contract, _ = deploy_and_upload(session, compiled)
    block = session.w3.eth.block_number
    with pytest.raises(GasLimitExceeded, match=r"one inference \(predict of one row.*needs about [\d,]+ gas"):
        predict_onchain(session, contract, plan, encode_inputs(plan, [[0.5]]))
    assert session.w3.eth.block_number == block


def test_agreement_and_clamped_inputs_are_counted_and_warned() -> None:
    rng = np.random.default_rng(1)
    layers = (
        FloatLayer("l0", rng.normal(0, 1, (5, 3)), rng.normal(0, 0.1, 5), "relu"),
        FloatLayer("l1", rng.normal(0, 1, (2, 5)), rng.normal(0, 0.1, 2), "none"),
    )
    plan = build_int8_plan(layers, Scales((0.01, 0.01, 0.01), (0.05,)))
    rows = np.array([[0.5, 0.2, 0.1], [3.0, 0.2, -2.0], [0.1, 0.1, 0.1]])  # row 1: two values past 1.27
    check = workflow.float_check(layers, plan, rows, [0, 0, 0], [[0.0, 0.0]] * 3)
    want = np.argmax(
        np.maximum(rows @ layers[0].weight.T + layers[0].bias, 0) @ layers[1].weight.T + layers[1].bias,
        axis=1,
    )
    assert check.agree == int(np.sum(want == 0)) and check.rows == 3
    assert (check.clamped_values, check.clamped_rows, check.clamped_features) == (2, 1, (0, 2))
    line, warnings = cli._float_lines(check, "int8")
    assert line == f"agreement with float model: {check.agree}/3 ({check.agree / 3:.1%})"
    assert any("2 input values in 1 rows were clamped to [-128, 127]" in w for w in warnings)
    assert any("below 99%" in w for w in warnings) == (check.agree < 3)
