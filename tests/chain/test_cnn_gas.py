"""The gas model of conv and pool layers against receipts on the embedded chain: within 1%, the same bar
as for MLPs, for one row and for a batch, in both number formats; and its upper bound holds."""

from __future__ import annotations

import numpy as np
import pytest

from evmkit import chain
from helpers.cnn_models import MODELS
from ml2sc import gasmodel, quant
from ml2sc.onchain import compile_plan, deploy_and_upload, encode_row, encode_rows, upload_chunk_slots
from ml2sc.plan import build_plan, encode_inputs, group_layers

CASES = [
    (name, mode, layout)
    for name in MODELS
    for mode in ("fixed", "int8")
    for layout in (("packed", "inline") if mode == "int8" else ("code",))
]


@pytest.fixture(scope="module")
def session() -> chain.ChainSession:
    return chain.embedded()


@pytest.mark.parametrize("name, mode, layout", CASES, ids=[f"{m}-{f}-{lay}" for m, f, lay in CASES])
def test_conv_gas_model_within_one_percent(
    session: chain.ChainSession, name: str, mode: str, layout: str
) -> None:
    ops = MODELS[name]
    layers = group_layers(ops)
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1.5, (2 if mode == "fixed" else 4, layers[0].n_in))
    scales = quant.calibrate(layers, x) if mode == "int8" else None
    compiled = compile_plan(build_plan(ops, mode=mode, scales=scales), "CnnGas", "cnn.pt", layout)
    plan = compiled.plan
    rows = encode_inputs(plan, (x * rng.choice([1.0, 4.0], x.shape)).tolist())
    report = gasmodel.estimate(compiled, rows[0], upload_chunk_slots(session))
    contract, txs = deploy_and_upload(session, compiled)
    predicted = dict(report.upload) | {"deploy": report.deploy}
    for label, tx in txs:
        assert abs(predicted[label].total - tx.gas_used) <= 0.01 * tx.gas_used, label
    bound = gasmodel.inference_upper_bound(compiled).total
    for row in rows:
        measured = session.transact(contract, "predict", encode_row(plan, row)).gas_used
        assert abs(gasmodel.inference(compiled, row).total - measured) <= 0.01 * measured
        assert measured <= bound
    measured = session.transact(contract, "predictBatch", encode_rows(plan, rows)).gas_used
    assert abs(gasmodel.batch_inference(compiled, rows).total - measured) <= 0.01 * measured
