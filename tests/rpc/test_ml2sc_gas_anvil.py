"""ml2sc's gas model against anvil: memory word for word from a step trace, and predictBatch sized from
the upper bound per row (a cheap first row no longer sizes the rest; nothing sent can run out of gas)."""

from __future__ import annotations

import numpy as np
import pytest

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import ChainError
from helpers.steptrace import peak_memory_words
from ml2sc import emulator, gasmodel
from ml2sc.onchain import (
    block_budget,
    compile_plan,
    contract_shape,
    deploy_and_upload,
    encode_row,
    encode_rows,
    predict_batched,
)
from ml2sc.plan import FloatLayer, build_fixed_plan, encode_inputs
from ml2sc.quant import build_int8_plan, calibrate

pytestmark = pytest.mark.rpc


def _layers(arch, acts, seed, weight_scale=1.0):
    rng = np.random.default_rng(seed)
    return [
        FloatLayer(
            f"l{i}",
            rng.normal(0, weight_scale / a**0.5, (b, a)),
            rng.normal(0, 0.3, b),
            act,
            0.1 if act == "leaky_relu" else 0.0,
        )
        for i, ((a, b), act) in enumerate(zip(zip(arch, arch[1:]), acts))
    ]


def _plan(arch, acts, mode, seed=0, weight_scale=1.0):
    layers = _layers(arch, acts, seed, weight_scale)
    x = np.random.default_rng(seed + 1).normal(0, 1, (16, arch[0]))
    return (build_fixed_plan(layers) if mode == "fixed" else build_int8_plan(layers, calibrate(layers, x))), x


def test_memory_words_match_a_step_trace() -> None:
    """gasmodel.memory_words follows predict's and predictBatch's memory word for word (the
    quadratic part of memory is not fitted, and a batch's grows with its rows)."""
    cases = [
        ((8, 6, 4), ("relu", "leaky_relu")),
        ((6, 10, 5, 3), ("tanh", "relu", "softmax")),
        ((40, 5, 1), ("sigmoid", "sigmoid")),
        ((7, 9, 6, 5, 3), ("gelu", "silu", "gelu_tanh", "silu")),
    ]
    with (
        start_anvil(gas_limit=100_000_000, extra_args=("--steps-tracing",)) as node,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("ML2SC_TRACE_KEY", node.private_keys[0])
        session = chain.rpc(node.url, "ML2SC_TRACE_KEY")
        for arch, acts in cases:
            for mode in ("fixed", "int8"):
                plan, x = _plan(arch, acts, mode, seed=sum(arch))
                rows = encode_inputs(plan, x.tolist())
                # storage and packed allocate the blob as code does: traced on the smallest model only
                for layout in (
                    ("code", "inline") if arch != cases[0][0] else ("storage", "packed", "code", "inline")
                ):
                    compiled = compile_plan(plan, "TraceMLP", "trace.pt", layout)
                    contract, _ = deploy_and_upload(session, compiled)
                    for n_rows in (None, 3):
                        if n_rows is None:
                            tx = session.transact(contract, "predict", encode_row(plan, rows[0]))
                        else:
                            tx = session.transact(contract, "predictBatch", encode_rows(plan, rows[:n_rows]))
                        logs = session.w3.provider.make_request(
                            "debug_traceTransaction",
                            [tx.tx_hash, {"disableStorage": True, "disableMemory": True}],
                        )["result"]["structLogs"]
                        assert gasmodel.memory_words(compiled, n_rows) == peak_memory_words(logs), (
                            arch,
                            mode,
                            layout,
                            n_rows,
                        )


@pytest.fixture(scope="module")
def node_30m():
    """A node with a mainnet-sized block (30M gas), where a batch sized from a cheap row overflows."""
    with start_anvil(gas_limit=30_000_000) as node:
        yield node


@pytest.fixture
def session_30m(node_30m, monkeypatch):
    monkeypatch.setenv("ML2SC_BATCH_KEY", node_30m.private_keys[2])
    return chain.rpc(node_30m.url, "ML2SC_BATCH_KEY")


def _tanh_model(session):
    """Fixed point, two wide tanh layers with large weights: a row of large inputs saturates every
    tanh (exp's polynomial is skipped, about 2k gas less a neuron), a row of small ones none."""
    plan, _ = _plan((16, 64, 64, 2), ("tanh", "tanh", "none"), "fixed", seed=3, weight_scale=6.0)
    compiled = compile_plan(plan, "TanhMLP", "tanh.pt", "code")
    contract, _ = deploy_and_upload(session, compiled)
    rng = np.random.default_rng(4)
    cheap = encode_inputs(plan, (rng.normal(0, 1, (1, 16)) * 400).tolist())
    saturating = encode_inputs(plan, (rng.normal(0, 1, (10, 16)) * 50).tolist())
    dear = encode_inputs(plan, (rng.normal(0, 1, (50, 16)) * 0.002).tolist())
    return plan, compiled, contract, cheap + saturating + dear


def test_batches_sized_from_the_bound_fit_when_a_cheap_row_comes_first(session_30m) -> None:
    plan, compiled, contract, rows = _tanh_model(session_30m)
    first, later = gasmodel.inference(compiled, rows[0]).total, gasmodel.inference(compiled, rows[-1]).total
    assert later > 1.1 * first  # the cheap-first ordering a first-row sizing falls for
    budget = block_budget(session_30m)
    result = predict_batched(session_30m, contract, plan, rows)
    assert result.predictions == [emulator.predict(plan, r) for r in rows]
    assert len(result.rows_per_call) >= 2 and sum(result.rows_per_call) == len(rows)
    shape = contract_shape(session_30m, contract, plan)
    assert shape.layout == "code"
    for size, gas in zip(result.rows_per_call, result.gas_per_call):
        assert gas <= gasmodel.batch_upper_bound(shape, size).total <= budget
    # the rows are dear: the bound is not so loose that it wastes the block
    assert max(result.gas_per_call) >= 0.8 * budget


def test_an_out_of_gas_from_the_node_is_one_chain_error_line(session_30m, monkeypatch) -> None:
    """Should the bound ever be wrong, anvil's eth_call answers `EVM error OutOfGas` (a Web3RPCError
    that ChainSession.call does not translate): predict_batched reports it as one ChainError line."""
    plan, compiled, contract, rows = _tanh_model(session_30m)
    monkeypatch.setattr(gasmodel, "rows_that_fit", lambda shape, gas, most=None: most)  # a wrong model
    with pytest.raises(ChainError) as info:
        predict_batched(session_30m, contract, plan, rows)
    assert "OutOfGas" in str(info.value) and "\n" not in str(info.value)
