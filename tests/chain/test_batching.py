"""predictBatch calls sized from the gas model's upper bound per row, on the embedded chain: every
call fits the gas it is sent with, and a row that cannot fit is refused, in one line, before
anything is sent."""

from __future__ import annotations

import numpy as np
import pytest

from evmkit import chain
from evmkit.errors import ChainError, EvmkitError
from ml2sc import emulator, gasmodel
from ml2sc.fixed import FixedFormat
from ml2sc.onchain import (
    BatchTooLarge,
    block_budget,
    compile_plan,
    contract_shape,
    deploy_and_upload,
    predict_batched,
)
from ml2sc.plan import FloatLayer, build_fixed_plan, encode_inputs


def _wide_tanh_plan():
    """1-1000-1 with tanh, narrow fixed point: a small inline contract (about 1.9M gas to
    deploy) whose one row may cost about 3M gas (a thousand tanh)."""
    rng = np.random.default_rng(0)
    layers = [
        FloatLayer("l0", rng.normal(0, 1, (1000, 1)), rng.normal(0, 0.3, 1000), "tanh"),
        FloatLayer("l1", rng.normal(0, 0.03, (1, 1000)), rng.normal(0, 0.3, 1), "none"),
    ]
    return build_fixed_plan(layers, FixedFormat(8, 16))


def _deployed(gas_limit: int):
    session = chain.embedded(block_gas_limit=gas_limit)
    plan = _wide_tanh_plan()
    compiled = compile_plan(plan, "WideMLP", "wide.pt", "inline")
    contract, _ = deploy_and_upload(session, compiled)
    rows = encode_inputs(plan, [[0.1], [-0.3], [100.0], [0.0]])
    return session, plan, compiled, contract, rows


def test_a_row_over_the_budget_is_refused_before_sending() -> None:
    session, plan, compiled, contract, rows = _deployed(3_000_000)
    bound = gasmodel.batch_upper_bound(compiled, 1).total
    assert bound > block_budget(session)  # the premise: one row cannot fit 90% of this block
    block = session.w3.eth.block_number
    with pytest.raises(BatchTooLarge) as info:
        predict_batched(session, contract, plan, rows)
    message = str(info.value)
    assert (
        "\n" not in message and f"{bound:,}" in message and "3,000,000" in message and "2,700,000" in message
    )
    assert session.w3.eth.block_number == block  # nothing was sent
    with pytest.raises(BatchTooLarge, match="over the block gas limit 3,000,000; not even one row fits"):
        predict_batched(session, contract, plan, rows, rows_per_call=2)
    assert session.w3.eth.block_number == block
    assert issubclass(BatchTooLarge, ChainError) and issubclass(
        BatchTooLarge, EvmkitError
    )  # ml2sc prints one line


def test_rows_that_fit_are_sent_one_bounded_call_at_a_time() -> None:
    session, plan, compiled, contract, rows = _deployed(4_000_000)
    budget = block_budget(session)
    assert contract_shape(session, contract, plan).layout == "inline"
    result = predict_batched(session, contract, plan, rows)
    assert result.rows_per_call == [1, 1, 1, 1]  # two rows could cost more than 3.6M
    assert result.predictions == [emulator.predict(plan, r) for r in rows]
    for gas in result.gas_per_call:
        assert gas <= gasmodel.batch_upper_bound(compiled, 1).total <= budget
    with pytest.raises(
        BatchTooLarge, match=r"predictBatch of 2 rows may cost up to .* use at most 1 rows per call"
    ):
        predict_batched(session, contract, plan, rows, rows_per_call=2)
