"""Fit the loop costs of ml2sc's gas model from receipts; write ml2sc/gas_costs.json.

    python tools/calibrate_gas.py [--models N]

The costs are the opcode gas of the code solc generates from the templates: run this again
after changing a template or the compiler. It deploys a grid of random MLPs (every format,
layout and activation) on a local anvil, sends one predict per model, and fits each counted
part's gas by least squares. The schedule terms are not fitted: gasmodel computes them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evmkit import chain, gas as G  # noqa: E402
from evmkit.anvil import start_anvil  # noqa: E402
from ml2sc import gasmodel  # noqa: E402
from ml2sc.layouts import LAYOUTS, slot_values  # noqa: E402
from ml2sc.onchain import compile_plan, deploy_and_upload, encode_row  # noqa: E402
from ml2sc.plan import FloatLayer, build_fixed_plan, encode_inputs  # noqa: E402
from ml2sc.quant import build_int8_plan, calibrate  # noqa: E402

ACTS = ["none", "relu", "leaky_relu", "sigmoid", "tanh"]


def random_layers(rng: random.Random, n_in: int, widths: list[int], head: str) -> list[FloatLayer]:
    layers, sizes = [], [n_in, *widths]
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        last = i == len(sizes) - 2
        act = head if last else rng.choice(ACTS)
        weight = np.array([[rng.gauss(0, 1 / a ** 0.5) for _ in range(a)] for _ in range(b)])
        bias = np.array([rng.gauss(0, 0.3) for _ in range(b)])
        layers.append(FloatLayer(f"l{i}", weight, bias, act, 0.1 if act == "leaky_relu" else 0.0))
    return layers


def sample_models(n: int, seed: int = 0):
    """Random MLPs (random activations), then the bench grid's shapes with other weights."""
    from ml2sc.sweep import default_grid

    rng = random.Random(seed)
    for k in range(n):
        n_in = rng.choice([4, 8, 16, 30, 64])
        widths = [rng.choice([1, 3, 8, 16, 32, 64]) for _ in range(rng.randint(1, 4))]
        head = rng.choice(["none", "sigmoid", "relu", "softmax" if widths[-1] > 1 else "sigmoid", "tanh"])
        mode = ("fixed", "int8")[k % 2]
        layout = LAYOUTS[(k // 2) % 4]
        yield random_layers(rng, n_in, widths, head), mode, layout, rng
    for _, arch in default_grid():
        for mode in ("fixed", "int8"):
            for layout in LAYOUTS:
                acts = [rng.choice(ACTS) for _ in arch[2:]]
                layers = random_layers(rng, arch[0], list(arch[1:]), "none" if arch[-1] > 1 else "sigmoid")
                layers = [FloatLayer(l.name, l.weight, l.bias, a, 0.1 if a == "leaky_relu" else 0.0)
                          for l, a in zip(layers, [*acts, layers[-1].activation])]
                yield layers, mode, layout, rng


def measure(session, n_models: int):
    rows = []
    for layers, mode, layout, rng in sample_models(n_models):
        x = np.array([[rng.gauss(0, 2) for _ in range(layers[0].weight.shape[1])] for _ in range(8)])
        plan = build_fixed_plan(layers) if mode == "fixed" else build_int8_plan(layers, calibrate(layers, x))
        try:
            compiled = compile_plan(plan, "CalMLP", "cal.pt", layout)
        except Exception as exc:  # noqa: BLE001 - e.g. an inline blob over the size limit
            print("  skip:", exc, file=sys.stderr)
            continue
        contract, txs = deploy_and_upload(session, compiled)
        row = encode_inputs(plan, x[:1].tolist())[0]
        gas = session.transact(contract, "predict", encode_row(plan, row)).gas_used
        rows.append((compiled, row, txs, gas))
        print(f"  {plan.architecture:<20} {mode:<5} {layout:<7} predict {gas:>10,}", file=sys.stderr)
    return rows


def lstsq(samples: list[tuple[Counter, float]]) -> dict[str, float]:
    keys = sorted({k for f, _ in samples for k in f})
    a = np.array([[f.get(k, 0) for k in keys] for f, _ in samples], dtype=float)
    b = np.array([t for _, t in samples], dtype=float)
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    return {k: round(float(c), 3) for k, c in zip(keys, coef)}


def fit(rows) -> dict[str, object]:
    loop: dict[str, dict[str, float]] = {}
    for mode in ("fixed", "int8"):
        samples = []
        for compiled, row, _, gas in rows:
            if compiled.plan.mode != mode:
                continue
            data = gasmodel.predict_calldata(compiled.plan, row)
            exact = sum(g for _, g in gasmodel.inference_exact_terms(compiled))
            if gas == G.floor_gas(data):
                continue
            samples.append((gasmodel.inference_features(compiled, row), gas - G.intrinsic_gas(data) - exact))
        loop[mode] = lstsq(samples)
    deploy_samples, upload_samples, finalize = [], [], []
    for compiled, _, txs, _ in rows:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=160)
    args = parser.parse_args()
    gasmodel.load_costs({"loop": {"fixed": {}, "int8": {}}, "deploy": {}, "upload": {}})
    with start_anvil(gas_limit=100_000_000) as node:
        os.environ["CALIBRATION_KEY"] = node.private_keys[0]
        rows = measure(chain.rpc(node.url, "CALIBRATION_KEY"), args.models)
    costs = fit(rows)
    gasmodel.COSTS_FILE.write_text(json.dumps(costs, indent=1, sort_keys=True) + "\n")
    gasmodel.load_costs(costs)
    worst = max(abs(gasmodel.inference(c, r).total - g) / g for c, r, _, g in rows)
    print(f"wrote {gasmodel.COSTS_FILE}; worst inference error on the fit set {worst:.3%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
