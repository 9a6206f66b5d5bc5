"""Fit the loop costs of ml2sc's gas model from receipts; write ml2sc/gas_costs.json.

    python -m ml2sc.calibrate [--models N] [--save FILE]   # about 10 minutes
    python -m ml2sc.calibrate --refit FILE                 # fit kept measurements again

The costs are the opcode gas of the code solc generates from the templates: run this again
after changing a template or the compiler. It deploys a grid of random MLPs (every format,
layout and activation, last layers included; fixed point at several --frac-bits; some with steep
weights that saturate sigmoid / tanh / softmax on every row) on a local anvil, and per model
sends `predict` on rows that take every branch (ordinary rows, rows scaled by 50 that saturate
sigmoid / tanh / softmax and the int8 clamps, mixed rows, zeros, int8 extremes -128 / 127) and
one `predictBatch`. Each counted part's gas is fitted by least squares of the relative errors
(small contracts are held as closely as large ones); the schedule terms (intrinsic gas,
calldata, SLOAD / SSTORE, EXTCODE*, keccak, logs, memory) are not fitted: gasmodel computes
them. It prints every function's worst error on the fit set and the highest ratio of a
measured inference to the model's upper bound (above 1 would be a bound broken).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from evmkit import chain, gas as G
from evmkit.chain import TxResult
from evmkit.anvil import start_anvil
from evmkit.errors import ChainError
from ml2sc import gasmodel
from ml2sc.evm_int import EvmPanic
from ml2sc.fixed import FixedFormat
from ml2sc.layouts import LAYOUTS, slot_values
from ml2sc.onchain import compile_plan, deploy_and_upload, encode_row, encode_rows
from ml2sc.plan import FloatLayer, build_fixed_plan, encode_inputs
from ml2sc.quant import build_int8_plan, calibrate

ACTS = ["none", "relu", "leaky_relu", "sigmoid", "tanh"]
FRAC_BITS = [60, 60, 60, 16, 32, 48]  # the default most often; others so exp's Horner steps separate
BATCH_GAS = 60_000_000  # a calibration predictBatch stays below this (anvil runs with 100M blocks)


def random_layers(rng: random.Random, n_in: int, widths: list[int], head: str, steep: float = 1.0) -> list[FloatLayer]:
    """Random weights; ``steep`` scales them, so that sigmoid, tanh and softmax saturate (and
    are cut off) on ordinary rows too, in int8 mode as well as fixed."""
    layers, sizes = [], [n_in, *widths]
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        last = i == len(sizes) - 2
        act = head if last else rng.choice(ACTS)
        weight = np.array([[rng.gauss(0, steep / a ** 0.5) for _ in range(a)] for _ in range(b)])
        bias = np.array([rng.gauss(0, 0.3) for _ in range(b)])
        layers.append(FloatLayer(f"l{i}", weight, bias, act, 0.1 if act == "leaky_relu" else 0.0))
    return layers


def sample_models(n: int, seed: int = 0):
    """Random MLPs (random activations and heads), then the bench grid's shapes with other weights."""
    from ml2sc.sweep import default_grid

    rng = random.Random(seed)
    for k in range(n):
        n_in = rng.choice([4, 8, 16, 30, 64])
        widths = [rng.choice([1, 3, 8, 16, 32, 64]) for _ in range(rng.randint(1, 4))]
        heads = ["none", "sigmoid", "relu", "leaky_relu", "tanh", "softmax" if widths[-1] > 1 else "sigmoid"]
        mode = ("fixed", "int8")[k % 2]
        layout = LAYOUTS[(k // 2) % 4]
        yield random_layers(rng, n_in, widths, rng.choice(heads), rng.choice([1.0, 1.0, 6.0])), mode, layout, rng
    for _, arch in default_grid():
        for mode in ("fixed", "int8"):
            for layout in LAYOUTS:
                acts = [rng.choice(ACTS) for _ in arch[2:]]
                layers = random_layers(rng, arch[0], list(arch[1:]), "none" if arch[-1] > 1 else "sigmoid")
                layers = [FloatLayer(l.name, l.weight, l.bias, a, 0.1 if a == "leaky_relu" else 0.0)
                          for l, a in zip(layers, [*acts, layers[-1].activation])]
                yield layers, mode, layout, rng


def test_rows(plan, x: np.ndarray, rng: random.Random) -> list[list[int]]:
    """Rows that take every branch: ordinary, saturating (x 50), mixed, zeros; int8 extremes."""
    n = x.shape[1]
    floats = [x[0], x[1] * 50, x[2] * np.array([rng.choice([1.0, 8.0, 50.0]) for _ in range(n)]), np.zeros(n)]
    rows = encode_inputs(plan, [list(map(float, r)) for r in floats])
    if plan.mode == "int8":
        rows.append([rng.choice([-128, 127]) for _ in range(n)])
    return rows


def measure(session, n_models: int):
    """(compiled, deploy/upload txs, [(row, predict gas)], (batch rows, predictBatch gas)) per model."""
    models = []
    for k, (layers, mode, layout, rng) in enumerate(sample_models(n_models)):
        x = np.array([[rng.gauss(0, 2) for _ in range(layers[0].weight.shape[1])] for _ in range(8)])
        if mode == "fixed":
            plan = build_fixed_plan(layers, FixedFormat(FRAC_BITS[k % len(FRAC_BITS)]) if k < n_models else None)
        else:
            plan = build_int8_plan(layers, calibrate(layers, x))
        try:
            compiled = compile_plan(plan, "CalMLP", "cal.pt", layout)
        except Exception as exc:  # noqa: BLE001 - e.g. an inline blob over the size limit
            print("  skip:", exc, file=sys.stderr)
            continue
        contract, txs = deploy_and_upload(session, compiled)
        singles = []
        for row in test_rows(plan, x, rng):
            try:
                singles.append((row, session.transact(contract, "predict", encode_row(plan, row)).gas_used))
            except (ChainError, EvmPanic):  # an int256 overflow reverts (panic 0x11): no sample
                continue
        batch = None
        if singles:
            size = max(1, min(rng.choice([2, 3, 8, 24]), BATCH_GAS // max(g for _, g in singles)))
            rows = [rng.choice(singles)[0] for _ in range(size)]
            batch = (rows, session.transact(contract, "predictBatch", encode_rows(plan, rows)).gas_used)
        models.append((compiled, txs, singles, batch))
        print(f"  {plan.architecture:<20} {mode:<5} F={plan.fmt.frac_bits:<3} {layout:<7} predict "
              f"{', '.join(f'{g:,}' for _, g in singles)}", file=sys.stderr)
    return models


def lstsq(samples: list[tuple[Counter, float]], weights: list[float] | None = None) -> dict[str, float]:
    """Least squares; with ``weights`` (1 / receipt gas), of the relative errors, so that small
    contracts are held as closely as large ones."""
    keys = sorted({k for f, _ in samples for k in f})
    a = np.array([[f.get(k, 0) for k in keys] for f, _ in samples], dtype=float)
    b = np.array([t for _, t in samples], dtype=float)
    if weights is not None:
        w = np.array(weights, dtype=float)[:, None]
        a, b = a * w, b * w[:, 0]
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    return {k: round(float(c), 3) for k, c in zip(keys, coef)}


def inference_samples(models, mode: str) -> tuple[list[tuple[Counter, float]], list[float]]:
    """(features, gas the features must explain) of every predict and predictBatch of ``mode``,
    and 1 / receipt gas of each (the weights of a fit of relative errors)."""
    samples, weights = [], []
    for compiled, _, singles, batch in models:
        if compiled.plan.mode != mode:
            continue
        calls = [(gasmodel.predict_calldata(compiled.plan, r), gasmodel.inference_features(compiled, r), None, g)
                 for r, g in singles]
        if batch:
            rows, g = batch
            calls.append((gasmodel.batch_calldata(compiled.plan, rows), gasmodel.batch_features(compiled, rows),
                          len(rows), g))
        for data, features, n_rows, gas in calls:
            if gas == G.floor_gas(data):
                continue  # the calldata floor: execution is not seen
            exact = sum(g for _, g in gasmodel.inference_exact_terms(compiled, n_rows))
            samples.append((features, gas - G.intrinsic_gas(data) - exact))
            weights.append(1 / gas)
    return samples, weights


def fit(models) -> dict[str, object]:
    loop = {mode: lstsq(*inference_samples(models, mode)) for mode in ("fixed", "int8")}
    deploy_samples, upload_samples, finalize = [], [], []
    for compiled, txs, _, _ in models:
        for label, tx in txs:
            if label == "deploy":
                est = gasmodel.deploy(compiled)  # with zero fitted costs: schedule terms only
                deploy_samples.append((gasmodel.deploy_features(compiled), tx.gas_used - est.total))
            elif label.startswith("upload["):
                start, end = (int(v) for v in label[7:-1].split(":"))
                slots = slot_values(compiled.layout, compiled.blob)[start:end]
                est = gasmodel.upload(compiled, start, slots)
                upload_samples.append((Counter(const=1, slot=len(slots)), tx.gas_used - est.total))
            elif label == "finalize":
                finalize.append(tx.gas_used - gasmodel.finalize(compiled).total)
    upload = lstsq(upload_samples)
    upload["finalize"] = round(float(np.mean(finalize)), 3)
    return {"loop": loop, "deploy": lstsq(deploy_samples), "upload": upload}


def report(models) -> None:
    """Worst relative error of every function on the fit set; measured inference vs the bound."""
    errors: dict[str, float] = Counter()
    worst_ratio = (0.0, "")
    for compiled, txs, singles, batch in models:
        for label, tx in txs:
            if label == "deploy":
                predicted = gasmodel.deploy(compiled).total
            elif label.startswith("upload["):
                start, end = (int(v) for v in label[7:-1].split(":"))
                predicted = gasmodel.upload(compiled, start, slot_values(compiled.layout, compiled.blob)[start:end]).total
            elif label == "finalize":
                predicted = gasmodel.finalize(compiled).total
            else:
                continue  # data contracts: exact, held by the tests
            kind = label.split("[")[0]
            errors[kind] = max(errors[kind], abs(predicted - tx.gas_used) / tx.gas_used)
        bound = gasmodel.inference_upper_bound(compiled).total
        for row, gas in singles:
            errors["predict"] = max(errors["predict"], abs(gasmodel.inference(compiled, row).total - gas) / gas)
            worst_ratio = max(worst_ratio, (gas / bound, f"{compiled.plan.architecture} {compiled.plan.mode} "
                                                         f"{compiled.layout}"))
        if batch:
            rows, gas = batch
            errors["predictBatch"] = max(errors["predictBatch"],
                                         abs(gasmodel.batch_inference(compiled, rows).total - gas) / gas)
            worst_ratio = max(worst_ratio, (gas / gasmodel.batch_upper_bound(compiled, len(rows)).total,
                                            f"{compiled.plan.architecture} {compiled.plan.mode} {compiled.layout} batch"))
    n_predict = sum(len(s) for _, _, s, _ in models)
    print(f"fit set: {len(models)} models, {n_predict} predict and {sum(b is not None for *_, b in models)} "
          "predictBatch transactions")
    for kind in ("deploy", "upload", "finalize", "predict", "predictBatch"):
        print(f"  worst error {kind:<13} {errors[kind]:.3%}")
    print(f"  highest measured / upper bound: {worst_ratio[0]:.3f} ({worst_ratio[1]})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=160, help="random models before the grid (default 160)")
    parser.add_argument("--save", metavar="FILE", help="also keep the measurements (pickle) to refit from")
    parser.add_argument("--refit", metavar="FILE", help="fit measurements kept by --save; measure nothing")
    args = parser.parse_args()
    gasmodel.load_costs({"loop": {"fixed": {}, "int8": {}}, "deploy": {}, "upload": {}})
    if args.refit:
        models = pickle.loads(Path(args.refit).read_bytes())
    else:
        with start_anvil(gas_limit=100_000_000) as node:
            os.environ["CALIBRATION_KEY"] = node.private_keys[0]
            models = measure(chain.rpc(node.url, "CALIBRATION_KEY"), args.models)
    if args.save:
        kept = [(c, [(label, TxResult(tx.tx_hash, tx.gas_used, tx.block_number, tx.contract_address))
                     for label, tx in txs], singles, batch) for c, txs, singles, batch in models]
        Path(args.save).write_bytes(pickle.dumps(kept))
    costs = fit(models)
    gasmodel.COSTS_FILE.write_text(json.dumps(costs, indent=1, sort_keys=True) + "\n")
    gasmodel.load_costs(costs)
    print(f"wrote {gasmodel.COSTS_FILE}")
    report(models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
