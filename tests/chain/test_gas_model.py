"""Analytic gas predictions against real receipts on the embedded chain."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from evmkit import chain
from ml2sc import gasmodel
from ml2sc.capture import capture
from ml2sc.fixed import FixedFormat
from ml2sc.gasmodel import data_contract_creation
from ml2sc.layouts import LayoutError, data_contract_initcode, slot_values
from ml2sc.onchain import (
    compile_plan,
    deploy_and_upload,
    deploy_model,
    encode_row,
    encode_rows,
    upload_chunk_slots,
    upload_slots,
)
from ml2sc.plan import build_plan, encode_inputs, group_layers
from ml2sc.quant import calibrate


@pytest.fixture(scope="module")
def session():
    return chain.embedded()


@pytest.fixture(scope="module")
def shared_chain():
    return chain.embedded(block_gas_limit=60_000_000)


@settings(max_examples=15)
@given(st.binary(min_size=1, max_size=24_575))
def test_data_contract_gas_is_exact(session, chunk: bytes) -> None:
    tx = session.send(None, data_contract_initcode(chunk))
    assert bytes(session.w3.eth.get_code(tx.contract_address)) == b"\x00" + chunk
    assert data_contract_creation(chunk).total == tx.gas_used


GRID = [
    ((30, 16, 8, 1), ("relu", "relu", "sigmoid")),
    ((64, 32, 10), ("relu", "softmax")),
    ((8, 24, 24, 3), ("tanh", "leaky_relu", "none")),
    ((16, 5, 12, 7, 4), ("sigmoid", "relu", "tanh", "softmax")),
]


def grid_cases():
    for arch, acts in GRID:
        for mode in ("fixed", "int8"):
            for layout in ("storage", "packed", "code", "inline"):
                yield pytest.param(arch, acts, mode, layout, id=f"{'-'.join(map(str, arch))}-{mode}-{layout}")


@pytest.mark.parametrize("arch, acts, mode, layout", list(grid_cases()))
def test_gas_model_within_one_percent(shared_chain, arch, acts, mode, layout) -> None:
    try:
        compiled, x = _compiled(arch, acts, mode, layout, seed=sum(arch), data_seed=1)
    except LayoutError:
        pytest.skip("weights too large for an inline contract (refused before deploying)")
    plan = compiled.plan
    row = encode_inputs(plan, x[:1].tolist())[0]
    report = gasmodel.estimate(compiled, row, upload_chunk_slots(shared_chain))
    contract, txs = deploy_and_upload(shared_chain, compiled)
    predicted = dict(report.upload) | {"deploy": report.deploy}
    assert [label for label, _ in txs if label != "deploy"] == [label for label, _ in report.upload]
    for label, tx in txs:
        assert abs(predicted[label].total - tx.gas_used) <= 0.01 * tx.gas_used, label
    measured = shared_chain.transact(contract, "predict", encode_row(plan, row)).gas_used
    assert abs(report.inference.total - measured) <= 0.01 * measured


@pytest.fixture(scope="module")
def prague_chain():
    return chain.embedded(block_gas_limit=60_000_000, fork="prague")


@pytest.mark.parametrize("mode", ["fixed", "int8"])
@pytest.mark.parametrize("layout", ["storage", "packed", "code", "inline"])
def test_gas_model_within_one_percent_under_prague(prague_chain, mode, layout) -> None:
    """The same model under Prague's rules (no per-transaction cap: uploads in chunks of a 30M block's
    90%, each far over Osaka's 2**24 for a big model; the same code, so the same fitted costs)."""
    arch, acts = GRID[0]
    compiled, x = _compiled(arch, acts, mode, layout, seed=sum(arch), data_seed=1, fork="prague")
    plan = compiled.plan
    rows = encode_inputs(plan, x[:3].tolist())
    report = gasmodel.estimate(compiled, rows[0], upload_chunk_slots(prague_chain), rows=rows)
    assert report.fork.name == "prague" and upload_chunk_slots(prague_chain) == 27_000_000 // 24_000
    contract, txs = deploy_and_upload(prague_chain, compiled)
    predicted = dict(report.upload) | {"deploy": report.deploy}
    for label, tx in txs:
        assert abs(predicted[label].total - tx.gas_used) <= 0.01 * tx.gas_used, label
    for estimate, function, arg in (
        (report.inference, "predict", encode_row(plan, rows[0])),
        (report.batch_inference, "predictBatch", encode_rows(plan, rows)),
    ):
        measured = prague_chain.transact(contract, function, arg).gas_used
        assert abs(estimate.total - measured) <= 0.01 * measured, function


# -- the templates' commitment: digest chain in upload, checks in finalize, code-layout pins ------


def _compiled(arch, acts, mode, layout, seed=0, frac_bits=None, scale=2.0, data_seed=None, fork=None):
    """A random MLP of this shape (torch seed `seed`), compiled for ``fork`` (default Osaka), with 16
    normal rows (seed `data_seed`, default seed + 1) that also calibrate int8."""
    torch.manual_seed(seed)
    modules: list[nn.Module] = []
    kinds = {
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "leaky_relu": lambda: nn.LeakyReLU(0.1),
        "softmax": lambda: nn.Softmax(dim=1),
        "gelu": nn.GELU,
        "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
        "silu": nn.SiLU,
    }
    for (a, b), act in zip(zip(arch, arch[1:]), acts):
        modules.append(nn.Linear(a, b))
        if act != "none":
            modules.append(kinds[act]())
    ops = capture(nn.Sequential(*modules))
    x = np.random.default_rng(seed + 1 if data_seed is None else data_seed).normal(size=(16, arch[0])) * scale
    fmt = FixedFormat(frac_bits) if frac_bits else None
    plan = build_plan(ops, fmt, mode=mode, scales=calibrate(group_layers(ops), x) if mode == "int8" else None)
    return compile_plan(plan, "GasMLP", "gas.pt", layout, fork=fork), x


@pytest.mark.parametrize("mode", ["fixed", "int8"])
@pytest.mark.parametrize("layout", ["storage", "packed"])
def test_every_upload_and_finalize_within_a_tenth_of_a_percent(shared_chain, mode, layout) -> None:
    """Uploads chain keccak256(d || slot) and store the digest; finalize checks it: several chunks,
    so both the first upload (0 -> x SSTOREs) and the later ones (x -> y) are held."""
    compiled, _ = _compiled((12, 9, 4), ("relu", "none"), mode, layout, seed=4)
    contract, _ = deploy_model(shared_chain, compiled)
    values = slot_values(layout, compiled.blob)
    chunk = max(1, len(values) // 3)
    txs = upload_slots(shared_chain, contract, compiled, chunk_size=chunk)
    assert len(txs) >= 4 and txs[-1][0] == "finalize"
    for label, tx in txs:
        if label == "finalize":
            predicted = gasmodel.finalize(compiled).total
        else:
            start, end = (int(v) for v in label[7:-1].split(":"))
            predicted = gasmodel.upload(compiled, start, values[start:end]).total
        assert abs(predicted - tx.gas_used) <= 0.001 * tx.gas_used, (label, predicted, tx.gas_used)


@pytest.mark.parametrize("mode", ["fixed", "int8"])
def test_code_layout_deploy_calldata_is_what_deploy_sends(shared_chain, mode) -> None:
    """The constructor takes the data contracts only (no hash argument): the model's calldata is the
    transaction's, byte for byte, and the deploy (with its STOP-byte and code-hash checks) within 0.1%."""
    compiled, _ = _compiled((40, 30, 5), ("relu", "none"), mode, "code", seed=2)
    txs = deploy_and_upload(shared_chain, compiled)[1]
    addresses = [tx.contract_address for label, tx in txs if label.startswith("data[")]
    deploy_tx = dict(txs)["deploy"]
    sent = bytes(shared_chain.w3.eth.get_transaction(deploy_tx.tx_hash)["input"])
    assert gasmodel.deploy_calldata(compiled, addresses) == sent
    predicted = gasmodel.deploy(compiled, addresses).total
    assert abs(predicted - deploy_tx.gas_used) <= 0.001 * deploy_tx.gas_used


# -- data-dependent branches: saturated sigmoid / tanh / softmax, int8 activations on the last layer ----

DRIFT = [
    ((30, 16, 8, 1), ("tanh", "sigmoid", "sigmoid"), "fixed", None),
    ((16, 5, 12, 7, 4), ("sigmoid", "relu", "tanh", "softmax"), "fixed", None),
    ((8, 24, 24, 3), ("tanh", "tanh", "tanh"), "fixed", 32),
    ((8, 24, 24, 3), ("tanh", "leaky_relu", "leaky_relu"), "int8", None),
    ((64, 32, 10), ("relu", "leaky_relu"), "int8", None),
    ((16, 5, 12, 7, 4), ("sigmoid", "leaky_relu", "tanh", "softmax"), "int8", None),
    ((30, 16, 8, 1), ("leaky_relu", "tanh", "sigmoid"), "int8", None),
]


def adversarial_rows(plan, x: np.ndarray) -> list[list[int]]:
    """Ordinary rows, rows scaled by 50 (saturated), mixed, zeros; int8 extremes -128 / 127."""
    rng = np.random.default_rng(9)
    n = plan.n_inputs
    floats = [x[0], x[1] * 50, x[2] * 50, x[3] * rng.choice([1, 8, 50], n), np.zeros(n)]
    rows = encode_inputs(plan, [list(map(float, r)) for r in floats])
    if plan.mode == "int8":
        rows += [[127] * n, [-128] * n, [int(v) for v in rng.choice([-128, 127], n)]]
    return rows


def _case_ids(cases) -> list[str]:
    """``arch-activations-mode[frac_bits]`` for each (arch, acts, mode, frac_bits) case."""
    return [f"{'-'.join(map(str, a))}-{','.join(b)}-{m}{f or ''}" for a, b, m, f in cases]


@pytest.mark.parametrize(
    "arch, acts, mode, frac_bits",
    DRIFT,
    ids=_case_ids(DRIFT),
)
@pytest.mark.parametrize("layout", ["code", "inline"])
def test_saturated_and_extreme_rows_within_one_percent(
    shared_chain, arch, acts, mode, frac_bits, layout
) -> None:
    try:
        compiled, x = _compiled(arch, acts, mode, layout, seed=sum(arch), frac_bits=frac_bits)
    except LayoutError:
        pytest.skip("weights too large for an inline contract (refused before deploying)")
    contract, _ = deploy_and_upload(shared_chain, compiled)
    rows = adversarial_rows(compiled.plan, x)
    for row in rows:
        measured = shared_chain.transact(contract, "predict", encode_row(compiled.plan, row)).gas_used
        predicted = gasmodel.inference(compiled, row).total
        assert abs(predicted - measured) <= 0.01 * measured, (row[:4], predicted, measured)
    measured = shared_chain.transact(contract, "predictBatch", encode_rows(compiled.plan, rows)).gas_used
    predicted = gasmodel.batch_inference(compiled, rows).total
    assert abs(predicted - measured) <= 0.01 * measured, ("predictBatch", predicted, measured)


# -- upper bounds: no row costs more, and the bound is not loose ---------------------------------------

BOUND_CASES = [
    ((8, 16, 16, 3), ("tanh", "tanh", "softmax"), "fixed", "inline"),
    ((12, 10, 1), ("relu", "sigmoid"), "fixed", "code"),
    ((8, 12, 6, 4), ("leaky_relu", "sigmoid", "none"), "fixed", "packed"),
    ((8, 24, 24, 3), ("tanh", "leaky_relu", "leaky_relu"), "int8", "inline"),
    ((40, 16, 10), ("none", "softmax"), "int8", "code"),
    ((16, 12, 8, 1), ("relu", "tanh", "sigmoid"), "int8", "storage"),
]


def _candidate_rows(plan, x: np.ndarray, count: int = 300) -> list[list[int]]:
    """Many rows (ordinary, small, saturated, mixed, int8 extremes): the search space for the worst."""
    rng = np.random.default_rng(17)
    n = plan.n_inputs
    scales = rng.choice([0.01, 0.1, 1.0, 3.0, 50.0], (count, 1))
    rows = encode_inputs(plan, (rng.normal(0, 1, (count, n)) * scales).tolist())
    if plan.mode == "int8":
        rows += [[int(v) for v in rng.choice([-128, -1, 0, 1, 127], n)] for _ in range(count)]
    return rows + adversarial_rows(plan, x)


@pytest.mark.parametrize(
    "arch, acts, mode, layout",
    BOUND_CASES,
    ids=[f"{'-'.join(map(str, a))}-{m}-{lay}" for a, _, m, lay in BOUND_CASES],
)
def test_no_row_exceeds_the_upper_bound_and_it_is_within_1_5x_of_the_worst(
    shared_chain, arch, acts, mode, layout
) -> None:
    compiled, x = _compiled(arch, acts, mode, layout, seed=sum(arch) + 1)
    contract, _ = deploy_and_upload(shared_chain, compiled)
    plan = compiled.plan
    candidates = _candidate_rows(plan, x)
    # the model ranks the candidates; the costliest and cheapest ones, and the adversarial ones, go on chain
    ranked = sorted(candidates, key=lambda r: gasmodel.inference(compiled, r).total)
    rows = ranked[-6:] + ranked[:2] + adversarial_rows(plan, x)
    bound = gasmodel.inference_upper_bound(compiled).total
    measured = [shared_chain.transact(contract, "predict", encode_row(plan, r)).gas_used for r in rows]
    assert max(measured) <= bound
    assert bound <= 1.5 * max(measured), (bound, max(measured))
    for size in (1, 4, len(rows)):
        batch = rows[:size]
        gas = shared_chain.transact(contract, "predictBatch", encode_rows(plan, batch)).gas_used
        assert gas <= gasmodel.batch_upper_bound(compiled, size).total


# -- GELU and SiLU: fitted by `python -m ml2sc.calibrate --only gelu,gelu_tanh,silu` ----------------

NEW_ACTIVATIONS = [
    ((12, 16, 8, 3), ("gelu", "silu", "gelu_tanh"), "fixed", None),
    ((8, 24, 12, 1), ("gelu_tanh", "gelu", "silu"), "fixed", 32),
    ((12, 16, 8, 3), ("gelu", "silu", "gelu_tanh"), "int8", None),
    ((30, 16, 8, 4), ("silu", "gelu_tanh", "gelu"), "int8", None),
    ((16, 10, 6, 2), ("relu", "gelu", "softmax"), "int8", None),
]


@pytest.mark.parametrize(
    "arch, acts, mode, frac_bits",
    NEW_ACTIVATIONS,
    ids=_case_ids(NEW_ACTIVATIONS),
)
@pytest.mark.parametrize("layout", ["storage", "code"])
def test_gelu_and_silu_within_one_percent_and_below_the_bound(
    shared_chain, arch, acts, mode, frac_bits, layout
) -> None:
    compiled, x = _compiled(arch, acts, mode, layout, seed=sum(arch), frac_bits=frac_bits)
    report = gasmodel.estimate(
        compiled, encode_inputs(compiled.plan, x[:1].tolist())[0], upload_chunk_slots(shared_chain)
    )
    contract, txs = deploy_and_upload(shared_chain, compiled)
    predicted = dict(report.upload) | {"deploy": report.deploy}
    for label, tx in txs:
        assert abs(predicted[label].total - tx.gas_used) <= 0.01 * tx.gas_used, label
    rows = adversarial_rows(compiled.plan, x)
    bound = gasmodel.inference_upper_bound(compiled).total
    for row in rows:
        measured = shared_chain.transact(contract, "predict", encode_row(compiled.plan, row)).gas_used
        predicted_gas = gasmodel.inference(compiled, row).total
        assert abs(predicted_gas - measured) <= 0.01 * measured, (row[:4], predicted_gas, measured)
        assert measured <= bound
    measured = shared_chain.transact(contract, "predictBatch", encode_rows(compiled.plan, rows)).gas_used
    assert abs(gasmodel.batch_inference(compiled, rows).total - measured) <= 0.01 * measured
    assert measured <= gasmodel.batch_upper_bound(compiled, len(rows)).total


def test_a_missing_cost_is_an_error_not_zero() -> None:
    compiled, x = _compiled((4, 3, 2), ("gelu", "none"), "fixed", "inline", seed=1)
    costs = gasmodel.fitted_costs()
    loop = {mode: {k: v for k, v in c.items() if k != "gelu"} for mode, c in costs.loop.items()}
    stripped = gasmodel.Costs.of({"loop": loop, "deploy": dict(costs.deploy), "upload": dict(costs.upload)})
    row = encode_inputs(compiled.plan, x[:1].tolist())[0]
    with pytest.raises(gasmodel.MissingCost, match="no fixed loop cost for 'gelu'"):
        gasmodel.inference(compiled, row, costs=stripped)
    assert gasmodel.inference(compiled, row).total > 21_000


# -- every breakdown term is a cost (>= 0), and the estimates hold: int8 softmax heads above all ------

NON_NEGATIVE = [
    ((64, 32, 10), ("relu", "softmax"), "int8", "code", 2.0),
    ((13, 16, 3), ("tanh", "softmax"), "int8", "inline", 50.0),  # saturated: most exps cut off
    ((16, 12, 8, 2), ("gelu", "leaky_relu", "softmax"), "int8", "storage", 2.0),
    ((30, 16, 1), ("relu", "sigmoid"), "fixed", "code", 2.0),
]


@pytest.mark.parametrize(
    "arch, acts, mode, layout, scale",
    NON_NEGATIVE,
    ids=[f"{'-'.join(map(str, a))}-{b[-1]}-{m}-{lay}" for a, b, m, lay, _ in NON_NEGATIVE],
)
def test_no_term_is_negative_and_estimates_are_within_one_percent(
    shared_chain, arch, acts, mode, layout, scale
) -> None:
    compiled, x = _compiled(arch, acts, mode, layout, seed=sum(arch) + 3, scale=scale)
    plan = compiled.plan
    rows = encode_inputs(plan, x.tolist())
    report = gasmodel.estimate(compiled, rows[0], upload_chunk_slots(shared_chain), rows=rows[:5])
    estimates = [report.deploy, report.inference, report.inference_upper_bound, report.batch_inference]
    for estimate in estimates + [e for _, e in report.upload]:
        assert all(gas >= 0 for _, gas in estimate.terms), estimate.terms
    contract, txs = deploy_and_upload(shared_chain, compiled)
    predicted = dict(report.upload) | {"deploy": report.deploy}
    for label, tx in txs:
        assert abs(predicted[label].total - tx.gas_used) <= 0.01 * tx.gas_used, label
    for row in rows[:3]:
        measured = shared_chain.transact(contract, "predict", encode_row(plan, row)).gas_used
        assert abs(gasmodel.inference(compiled, row).total - measured) <= 0.01 * measured
    measured = shared_chain.transact(contract, "predictBatch", encode_rows(plan, rows[:5])).gas_used
    assert abs(report.batch_inference.total - measured) <= 0.01 * measured
