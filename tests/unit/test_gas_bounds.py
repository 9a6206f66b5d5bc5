"""The gas model's upper bounds, pure: every branch a value can take is among the bound's
candidates, so no row's modelled cost exceeds the bound; batches are sized within their gas."""

from __future__ import annotations

import numpy as np
import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from hypothesis import given, settings
from hypothesis import strategies as st

from ml2sc import gasmodel
from ml2sc.evm_int import EvmPanic
from ml2sc.fixed import FixedFormat
from ml2sc.plan import FloatLayer, build_fixed_plan, encode_inputs
from ml2sc.quant import build_int8_plan, calibrate

ACTS = ("none", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu")
HEADS = (*ACTS, "softmax")


def _plan(seed: int, mode: str, frac_bits: int = 60):
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(1, 12)) for _ in range(int(rng.integers(2, 5)))]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        last = i == len(sizes) - 2
        act = str(rng.choice(HEADS if last and b > 1 else ACTS))
        layers.append(
            FloatLayer(
                f"l{i}",
                rng.normal(0, 2 / a**0.5, (b, a)),
                rng.normal(0, 0.5, b),
                act,
                0.1 if act == "leaky_relu" else 0.0,
            )
        )
    x = rng.normal(0, 1, (8, sizes[0]))
    plan = (
        build_fixed_plan(layers, FixedFormat(frac_bits))
        if mode == "fixed"
        else build_int8_plan(layers, calibrate(layers, x))
    )
    return plan, rng


def _rows(plan, rng) -> list[list[int]]:
    """Ordinary, saturating, zero and (int8) extreme rows."""
    n = plan.n_inputs
    floats = [
        rng.normal(0, 1, n),
        rng.normal(0, 1, n) * 50,
        rng.normal(0, 1, n) * rng.choice([1, 8, 50], n),
        np.zeros(n),
    ]
    rows = encode_inputs(plan, [list(map(float, r)) for r in floats])
    if plan.mode == "int8":
        rows += [[127] * n, [-128] * n, [int(v) for v in rng.choice([-128, 127], n)]]
    return rows


def _shape(plan, layout: str = "code") -> gasmodel.ModelShape:
    return gasmodel.ModelShape.of(plan, layout)


@settings(max_examples=300)
@given(
    kind=st.sampled_from(["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"]),
    prefix=st.sampled_from(["", "out_", "squash_", "rescale_"]),
    frac_bits=st.sampled_from([8, 16, 32, 60]),
    v=st.integers(-(2**80), 2**80) | st.integers(-(2**24), 2**24),
)
def test_every_branch_a_value_takes_is_a_candidate_of_the_bound(kind, prefix, frac_bits, v) -> None:
    plan, _ = _plan(0, "fixed", frac_bits)
    assert gasmodel._path(kind, v, plan, prefix) in gasmodel._paths(kind, plan, prefix)


@given(kind=st.sampled_from(["none", "relu", "leaky_relu"]), v=st.integers(-(2**40), 2**40))
def test_every_int8_clamp_path_is_a_candidate_of_the_bound(kind, v) -> None:
    assert gasmodel._clamp_path(kind, v) in gasmodel._clamp_paths(kind)


@settings(max_examples=60)
@given(
    seed=st.integers(0, 10_000),
    mode=st.sampled_from(["fixed", "int8"]),
    frac_bits=st.sampled_from([16, 32, 60]),
    layout=st.sampled_from(["storage", "packed", "code", "inline"]),
)
def test_no_row_is_modelled_above_the_bound(seed, mode, frac_bits, layout) -> None:
    plan, rng = _plan(seed, mode, frac_bits)
    shape = _shape(plan, layout)
    bound = gasmodel.inference_upper_bound(shape).total
    row_bound = gasmodel.row_features_bound(shape)
    costs = gasmodel.fitted_costs().mode(mode)
    for row in _rows(plan, rng):
        try:
            features = gasmodel.row_features(shape, row)
        except EvmPanic:  # the contract reverts on this row (int256 overflow): it costs nothing
            continue
        assert gasmodel._cost(features, costs) <= gasmodel._cost(row_bound, costs) + 1e-6
        assert gasmodel.inference(shape, row).total <= bound
        assert gasmodel.batch_inference(shape, [row] * 3).total <= gasmodel.batch_upper_bound(shape, 3).total


@pytest.mark.parametrize("mode", ["fixed", "int8"])
def test_batch_calldata_is_the_abi_encoding(mode) -> None:
    plan, rng = _plan(5, mode)
    rows = _rows(plan, rng)
    if mode == "int8":
        expected = encode(["bytes"], [b"".join(bytes(v & 0xFF for v in r) for r in rows)])
        signature = "predictBatch(bytes)"
    else:
        expected = encode(["int256[]"], [[v for r in rows for v in r]])
        signature = "predictBatch(int256[])"
    assert gasmodel.batch_calldata(plan, rows) == function_signature_to_4byte_selector(signature) + expected


@pytest.mark.parametrize("mode", ["fixed", "int8"])
@pytest.mark.parametrize("gas", [300_000, 2_000_000, 27_000_000])
def test_rows_that_fit_is_the_largest_batch_within_the_gas(mode, gas) -> None:
    plan, _ = _plan(11, mode)
    shape = _shape(plan)
    n = gasmodel.rows_that_fit(shape, gas)
    assert n == 0 or gasmodel.batch_upper_bound(shape, n).total <= gas
    assert gasmodel.batch_upper_bound(shape, n + 1).total > gas
    assert gasmodel.rows_that_fit(shape, gas, most=3) == min(n, 3)
    line = gasmodel.batch_bound_line(shape, gas)
    assert line.rows == n
    for k in range(1, n + 1, max(1, n // 7)):  # the line lies above the bound up to its rows
        assert gasmodel.batch_upper_bound(shape, k).total <= line.intercept + k * line.per_row


def test_every_int8_cost_is_non_negative() -> None:
    """int8's costs are fitted by non-negative least squares, one feature per part of the kernel."""
    costs = gasmodel.fitted_costs()
    assert all(v >= 0 for v in costs.mode("int8").values())
    assert all(v >= 0 for k, v in costs.deploy.items() if k.startswith("const_int8_"))


@settings(max_examples=40)
@given(
    seed=st.integers(0, 10_000),
    mode=st.sampled_from(["fixed", "int8"]),
    layout=st.sampled_from(["storage", "packed", "code", "inline"]),
)
def test_no_breakdown_term_is_negative(seed, mode, layout) -> None:
    """fixed mode's stored costs split weight loading from the call overhead with a negative share
    (code, inline layouts): the two are one term, and every term of every estimate is >= 0."""
    plan, rng = _plan(seed, mode)
    shape = _shape(plan, layout)
    estimates = [gasmodel.inference_upper_bound(shape), gasmodel.batch_upper_bound(shape, 3)]
    for row in _rows(plan, rng):
        try:
            estimates += [gasmodel.inference(shape, row), gasmodel.batch_inference(shape, [row] * 2)]
        except EvmPanic:  # the contract reverts on this row: it has no estimate
            continue
    for estimate in estimates:
        assert all(gas >= 0 for _, gas in estimate.terms), estimate.terms
