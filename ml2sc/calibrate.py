"""Fit the loop costs of ml2sc's gas model from receipts; write ml2sc/gas_costs.json.

    python -m ml2sc.calibrate [--models N] [--save FILE]   # about 10 minutes
    python -m ml2sc.calibrate --refit FILE                 # fit kept measurements again
    python -m ml2sc.calibrate --only gelu,gelu_tanh,silu   # fit a new activation's features only
    python -m ml2sc.calibrate --format int8                # refit int8 alone (after a kernel change)
    python -m ml2sc.calibrate --fork prague                # measure on anvil --hardfork prague
    python -m ml2sc.calibrate --conv                       # fit conv and pool features only

The costs are fitted once for every fork: solc 0.8.37 emits the same code from these templates for
cancun, prague and osaka (the tests hold it), and the schedule terms that differ between forks
(EIP-7623's calldata floor) are computed, not fitted. Measured under Osaka by default.

The costs are the opcode gas of the code solc generates from the templates: run this again
after changing a template or the compiler. It deploys a grid of random MLPs (every format,
layout and activation, last layers included; fixed point at several --frac-bits; some with steep
weights that saturate sigmoid / tanh / softmax on every row) on a local anvil, and per model
sends `predict` on rows that take every branch (ordinary rows, rows scaled by 50 that saturate
sigmoid / tanh / softmax and the int8 clamps, mixed rows, zeros, int8 extremes -128 / 127) and
one `predictBatch`. Each counted part's gas is fitted by least squares of the relative errors
(small contracts are held as closely as large ones; int8's by non-negative least squares over
features that are each one part of the kernel, so no part and no breakdown term is negative);
the schedule terms (intrinsic gas, calldata, SLOAD / SSTORE, EXTCODE*, keccak, logs, memory) are
not fitted: gasmodel computes them. It prints every function's worst error on the fit set and
the highest ratio of a measured inference to the model's upper bound (above 1 would be a bound
broken).

``--format int8`` measures int8 models only and fits int8's loop costs and deploy constants afresh,
every fixed-point and shared cost held at its stored value (a change to the int8 kernel moves
nothing else).

``--only`` adds activations without moving any estimate of the others: its models use the named
activations (and others around them), and only the features that ``gas_costs.json`` has no cost
for yet are fitted, every other cost held at its stored value (the file keeps them byte for byte).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from evmkit import chain
from evmkit import gas as G
from evmkit.anvil import start_anvil
from evmkit.chain import TxResult
from evmkit.cliargs import add_fork_arg
from evmkit.errors import ChainError
from evmkit.forks import DEFAULT_FORK, get_fork
from evmkit.solc import SOLC_VERSION
from ml2sc import activations, gasmodel
from ml2sc.evm_int import EvmPanic
from ml2sc.fixed import FixedFormat
from ml2sc.layouts import LAYOUTS, slot_values
from ml2sc.onchain import compile_plan, deploy_and_upload, encode_row, encode_rows
from ml2sc.plan import FloatLayer, Geometry, build_fixed_plan, encode_inputs
from ml2sc.quant import build_int8_plan, calibrate

ACTS = ["none", "relu", "leaky_relu", "sigmoid", "tanh"]  # the full fit's hidden activations (as fitted)
LATER_ACTS = ["gelu", "gelu_tanh", "silu"]  # fitted by --only; --format measures them too
FRAC_BITS = [60, 60, 60, 16, 32, 48]  # the default most often; others so exp's Horner steps separate
BATCH_GAS = 15_000_000  # a calibration predictBatch stays below this (Osaka's cap is 2**24)


def random_layers(
    rng: random.Random,
    n_in: int,
    widths: list[int],
    head: str,
    steep: float = 1.0,
    acts: list[str] = ACTS,
    shift: float = 0.0,
) -> list[FloatLayer]:
    """Random weights; ``steep`` scales them, so that sigmoid, tanh and softmax saturate (and
    are cut off) on ordinary rows too, in int8 mode as well as fixed; ``shift`` moves the biases
    (negative: GELU / SiLU layers whose int8 outputs clamp at -128 on some rows)."""
    layers, sizes = [], [n_in, *widths]
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        last = i == len(sizes) - 2
        act = head if last else rng.choice(acts)
        weight = np.array([[rng.gauss(0, steep / a**0.5) for _ in range(a)] for _ in range(b)])
        bias = np.array([rng.gauss(shift, 0.3) for _ in range(b)])
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
        yield (
            random_layers(rng, n_in, widths, rng.choice(heads), rng.choice([1.0, 1.0, 6.0])),
            mode,
            layout,
            rng,
        )
    for _, arch in default_grid():
        for mode in ("fixed", "int8"):
            for layout in LAYOUTS:
                acts = [rng.choice(ACTS) for _ in arch[2:]]
                layers = random_layers(rng, arch[0], list(arch[1:]), "none" if arch[-1] > 1 else "sigmoid")
                layers = [
                    FloatLayer(fl.name, fl.weight, fl.bias, a, 0.1 if a == "leaky_relu" else 0.0)
                    for fl, a in zip(layers, [*acts, layers[-1].activation])
                ]
                yield layers, mode, layout, rng


def sample_new_models(n: int, only: list[str], seed: int = 1):
    """Random MLPs in which every hidden layer and head is one of ``only`` half the time."""
    rng = random.Random(seed)
    for k in range(n):
        n_in = rng.choice([4, 8, 16, 30])
        widths = [rng.choice([1, 3, 8, 16, 32]) for _ in range(rng.randint(1, 3))]
        acts = only * 4 + ACTS
        head = rng.choice(only * 2 + ["none", "sigmoid", "softmax" if widths[-1] > 1 else "relu"])
        mode = ("fixed", "int8")[k % 2]
        layout = LAYOUTS[(k // 2) % 4]
        layers = random_layers(
            rng, n_in, widths, head, rng.choice([1.0, 1.0, 6.0]), acts, rng.choice([0.0, 0.0, -6.0])
        )
        yield layers, mode, layout, rng


def _conv_float(rng: random.Random, name: str, shape: tuple[int, int, int], act: str, one_d: bool):
    """A random conv layer on a (C, H, W) input (kernel height 1 for a Conv1d) and its output shape."""
    c, h, w = shape
    kh = 1 if one_d else rng.choice([1, 2, 3, 5])
    kw = rng.choice([1, 2, 3, 5, 7])
    kh, kw = min(kh, h), min(kw, w)
    ph = 0 if one_d else rng.choice([0, 0, kh // 2])
    pw = rng.choice([0, 0, kw // 2])
    stride = (1, 1) if rng.random() < 0.7 else ((1, 2) if one_d else (2, 2))
    c_out = rng.choice([1, 2, 3, 4, 6, 8, 12])
    g = Geometry(
        shape,
        (c_out, (h + 2 * ph - kh) // stride[0] + 1, (w + 2 * pw - kw) // stride[1] + 1),
        (kh, kw),
        stride,
        (ph, pw),
        1 if one_d else 2,
    )
    fan = c * kh * kw
    weight = np.array([[rng.gauss(0, 1 / fan**0.5) for _ in range(fan)] for _ in range(c_out)])
    bias = np.array([rng.gauss(0, 0.3) for _ in range(c_out)])
    layer = FloatLayer(
        name, weight.reshape(c_out, c, kh, kw), bias, act, 0.1 if act == "leaky_relu" else 0.0, "conv", g
    )
    return layer, g.out_shape


def _pool_float(rng: random.Random, name: str, shape: tuple[int, int, int], one_d: bool, fusable: bool):
    c, h, w = shape
    kind = "maxpool" if fusable else rng.choice(["maxpool", "avgpool"])
    k = rng.choice([2, 2, 3]) if fusable else rng.choice([2, 3])
    kh, kw = (1, min(k, w)) if one_d else (min(rng.choice([k, 1, 2]), h), min(k, w))
    stride = (kh, kw) if fusable or rng.random() < 0.5 else (1, 1)
    pad = (0, 0) if fusable or rng.random() < 0.6 else (0 if one_d else kh // 2, kw // 2)
    out = (c, (h + 2 * pad[0] - kh) // stride[0] + 1, (w + 2 * pad[1] - kw) // stride[1] + 1)
    g = Geometry(shape, out, (kh, kw), stride, pad, 1 if one_d else 2)
    return FloatLayer(name, np.zeros((0, 0)), np.zeros(0), "none", 0.0, kind, g), out


def sample_conv_models(n: int, seed: int = 2):
    """Random conv models: a conv stack (conv, activation, pooling fused or not, padding, strides,
    Conv1d, many input channels) on flat rows, sometimes after a Linear layer, then Linear layers;
    every number format and layout. int8 conv layers take clamp-class activations only."""
    rng = random.Random(seed)
    shapes = [
        (1, 8, 8),
        (1, 12, 12),
        (2, 6, 10),
        (3, 8, 8),
        (1, 16, 16),
        (1, 20, 20),
        (4, 1, 16),
        (1, 1, 40),
        (40, 1, 8),
        (16, 6, 6),
        (6, 10, 10),
        (24, 4, 4),
        (70, 1, 4),
        (32, 3, 3),
        (12, 5, 5),
    ]
    for k in range(n):
        mode = ("fixed", "int8")[k % 2]
        layout = LAYOUTS[(k // 2) % 4]
        shape = rng.choice(shapes)
        one_d = shape[1] == 1
        layers: list[FloatLayer] = []
        c, h, w = shape
        if rng.random() < 0.2:  # a Linear layer first, unflattened into the conv stack
            n_in = rng.choice([4, 10])
            dense = random_layers(rng, n_in, [c * h * w], "relu")[0]
            layers.append(FloatLayer("pre", dense.weight, dense.bias, rng.choice(["relu", "none"])))
        acts = ["none", "relu", "leaky_relu"] + (["sigmoid", "tanh"] if mode == "fixed" else [])
        for depth in range(rng.choice([1, 1, 2])):
            conv, shape = _conv_float(rng, f"c{depth}", shape, rng.choice(acts), one_d)
            layers.append(conv)
            if rng.random() < 0.6 and shape[2] >= 2 and (one_d or shape[1] >= 2):
                pool, shape = _pool_float(rng, f"p{depth}", shape, one_d, rng.random() < 0.5)
                layers.append(pool)
        flat = shape[0] * shape[1] * shape[2]
        widths = [rng.choice([3, 8])] if rng.random() < 0.4 else []
        head = rng.choice(["none", "sigmoid", "softmax"])
        widths.append(1 if head == "sigmoid" else rng.choice([2, 4]))
        for dense in random_layers(rng, flat, widths, head):
            layers.append(dense)
        yield layers, mode, layout, rng


def sample_conv_loop_models(seed: int = 3):
    """int8 conv models on the kernel's loop over input channels (more than 64 multiplies per output),
    its shape varied factor by factor (channels in and out, kernel rows and pieces, output width), so
    that the loop's per-call, per-channel and per-multiply costs separate from the rest."""
    rng = random.Random(seed)
    for c_in, kh, kw, c_out, w in itertools.product((33, 70), (1, 3), (1, 5), (1, 4), (6, 12)):
        h = kh + rng.choice([0, 1])
        geometry = Geometry((c_in, h, w), (c_out, h - kh + 1, w - kw + 1), (kh, kw), (1, 1), (0, 0), 2)
        fan = c_in * kh * kw
        weight = np.array([[rng.gauss(0, 1 / fan**0.5) for _ in range(fan)] for _ in range(c_out)])
        conv = FloatLayer(
            "c",
            weight.reshape(c_out, c_in, kh, kw),
            np.zeros(c_out),
            rng.choice(["relu", "none"]),
            0.0,
            "conv",
            geometry,
        )
        flat = c_out * (h - kh + 1) * (w - kw + 1)
        yield [conv, *random_layers(rng, flat, [2], "none")], "int8", rng.choice(["inline", "code"]), rng


def sample_conv_pool_models(seed: int = 4):
    """Conv models whose pooling is not fused into the conv (overlapping, padded or strided windows,
    max and average) and whose input rows are wider than 64 (the grid fill's loop), in both formats."""
    rng = random.Random(seed)
    shapes = [(1, 12, 12), (2, 10, 10), (1, 2, 100), (2, 1, 130), (3, 6, 6)]
    pools = [
        ((3, 3), (1, 1), (1, 1)),
        ((5, 5), (1, 1), (2, 2)),
        ((2, 3), (1, 2), (0, 1)),
        ((3, 2), (2, 1), (1, 0)),
    ]
    for k, (shape, (kernel, stride, pad), kind) in enumerate(
        itertools.product(shapes, pools, ("maxpool", "avgpool"))
    ):
        one_d = shape[1] == 1
        mode = ("fixed", "int8")[k % 2]
        conv, out = _conv_float(rng, "c", shape, rng.choice(["none", "relu", "leaky_relu"]), one_d)
        if one_d:
            kernel, stride, pad = (1, kernel[1]), (1, stride[1]), (0, pad[1])
        kernel = (min(kernel[0], out[1]), min(kernel[1], out[2]))
        pad = (min(pad[0], kernel[0] // 2), min(pad[1], kernel[1] // 2))
        c, h, w = out
        pooled = (
            c,
            (h + 2 * pad[0] - kernel[0]) // stride[0] + 1,
            (w + 2 * pad[1] - kernel[1]) // stride[1] + 1,
        )
        g = Geometry(out, pooled, kernel, stride, pad, 1 if one_d else 2)
        pool = FloatLayer("p", np.zeros((0, 0)), np.zeros(0), "none", 0.0, kind, g)
        head = random_layers(rng, pooled[0] * pooled[1] * pooled[2], [rng.choice([2, 3])], "none")
        yield [conv, pool, *head], mode, rng.choice(["inline", "code"]), rng


def test_rows(plan, x: np.ndarray, rng: random.Random) -> list[list[int]]:
    """Rows that take every branch: ordinary, saturating (x 50), mixed, zeros; int8 extremes."""
    n = x.shape[1]
    floats = [x[0], x[1] * 50, x[2] * np.array([rng.choice([1.0, 8.0, 50.0]) for _ in range(n)]), np.zeros(n)]
    rows = encode_inputs(plan, [list(map(float, r)) for r in floats])
    if plan.mode == "int8":
        rows.append([rng.choice([-128, 127]) for _ in range(n)])
    return rows


def measure(
    session,
    n_models: int,
    only: list[str] | None = None,
    fmt: str | None = None,
    fork=None,
    conv: bool = False,
):
    """(compiled, deploy/upload txs, [(row, predict gas)], (batch rows, predictBatch gas)) per model
    (``fmt``: models of that number format only; ``conv``: conv models only)."""
    models = []
    if conv:
        samples = itertools.chain(
            sample_conv_models(n_models), sample_conv_loop_models(), sample_conv_pool_models()
        )
    else:
        samples = sample_new_models(n_models, only) if only else sample_models(n_models)
    if fmt is not None:  # the full grid, then the activations it leaves out (--only fitted them)
        samples = itertools.chain(samples, sample_new_models(48, [a for a in LATER_ACTS if a not in ACTS]))
    for k, (layers, mode, layout, rng) in enumerate(samples):
        x = np.array([[rng.gauss(0, 2) for _ in range(layers[0].n_in)] for _ in range(8)])
        if fmt is not None and mode != fmt:
            continue
        if mode == "fixed":
            plan = build_fixed_plan(
                layers, FixedFormat(FRAC_BITS[k % len(FRAC_BITS)]) if k < n_models and not conv else None
            )
        else:
            plan = build_int8_plan(layers, calibrate(layers, x))
        try:
            compiled = compile_plan(plan, "CalMLP", "cal.pt", layout, fork=fork)
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
        print(
            f"  {plan.architecture:<20} {mode:<5} F={plan.fmt.frac_bits:<3} {layout:<7} predict "
            f"{', '.join(f'{g:,}' for _, g in singles)}",
            file=sys.stderr,
        )
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


def nnls(samples: list[tuple[Counter, float]], weights: list[float]) -> dict[str, float]:
    """:func:`lstsq` of the relative errors with every cost >= 0 (int8's features are each one
    part of the kernel, so none can cost less than nothing)."""
    from scipy.optimize import nnls as solve  # scipy comes with scikit-learn, a dependency

    keys = sorted({k for f, _ in samples for k in f})
    w = np.array(weights, dtype=float)
    a = np.array([[f.get(k, 0) for k in keys] for f, _ in samples], dtype=float) * w[:, None]
    b = np.array([t for _, t in samples], dtype=float) * w
    coef, _ = solve(a, b, maxiter=50 * len(keys))
    return {k: round(float(c), 3) for k, c in zip(keys, coef)}


def inference_samples(models, mode: str) -> tuple[list[tuple[Counter, float]], list[float]]:
    """(features, gas the features must explain) of every predict and predictBatch of ``mode``,
    and 1 / receipt gas of each (the weights of a fit of relative errors)."""
    samples, weights = [], []
    for compiled, _, singles, batch in models:
        if compiled.plan.mode != mode:
            continue
        calls = [
            (gasmodel.predict_calldata(compiled.plan, r), gasmodel.inference_features(compiled, r), None, g)
            for r, g in singles
        ]
        if batch:
            rows, g = batch
            calls.append(
                (
                    gasmodel.batch_calldata(compiled.plan, rows),
                    gasmodel.batch_features(compiled, rows),
                    len(rows),
                    g,
                )
            )
        for data, features, n_rows, gas in calls:
            if compiled.fork.calldata_floor and gas == G.floor_gas(data):
                continue  # the calldata floor: execution is not seen
            exact = sum(g for _, g in gasmodel.inference_exact_terms(compiled, n_rows))
            samples.append((features, gas - G.intrinsic_gas(data) - exact))
            weights.append(1 / gas)
    return samples, weights


def fit(models) -> dict[str, object]:
    """Every cost, fitted afresh."""
    loop = {
        "fixed": lstsq(*inference_samples(models, "fixed")),
        "int8": nnls(*inference_samples(models, "int8")),
    }
    deploy_samples, upload_samples, finalize = [], [], []
    unfitted = gasmodel.Costs.unfitted()  # schedule terms only
    for compiled, txs, _, _ in models:
        for label, tx in txs:
            if label == "deploy":
                est = gasmodel.deploy(compiled, costs=unfitted)
                deploy_samples.append((gasmodel.deploy_features(compiled), tx.gas_used - est.total))
            elif label.startswith("upload["):
                start, end = (int(v) for v in label[7:-1].split(":"))
                slots = slot_values(compiled.layout, compiled.blob)[start:end]
                est = gasmodel.upload(compiled, start, slots, costs=unfitted)
                upload_samples.append((Counter(const=1, slot=len(slots)), tx.gas_used - est.total))
            elif label == "finalize":
                finalize.append(tx.gas_used - gasmodel.finalize(compiled, costs=unfitted).total)
    upload = lstsq(upload_samples)
    upload["finalize"] = round(float(np.mean(finalize)), 3)
    return {"loop": loop, "deploy": lstsq(deploy_samples), "upload": upload}


def fit_format(models, stored: dict, fmt: str) -> dict:
    """The stored costs with ``fmt``'s loop costs fitted afresh (non-negative for int8) and its deploy
    constants refitted with the shared deploy costs held; every other cost as it is."""
    samples, weights = inference_samples(models, fmt)
    loop = {mode: dict(costs) for mode, costs in stored["loop"].items()}
    loop[fmt] = nnls(samples, weights) if fmt == "int8" else lstsq(samples, weights)
    deploy = dict(stored["deploy"])
    held = gasmodel.Costs.of({"loop": stored["loop"], "deploy": deploy, "upload": stored["upload"]})
    residuals: dict[str, list[float]] = {}
    unfitted = gasmodel.Costs.unfitted()
    for compiled, txs, _, _ in models:
        if compiled.plan.mode != fmt:
            continue
        features = gasmodel.deploy_features(compiled)
        const = f"const_{fmt}_{compiled.layout}"
        shared = sum(held.deploy[k] * v for k, v in features.items() if v and k != const)
        gas = dict(txs)["deploy"].gas_used
        residuals.setdefault(const, []).append(gas - gasmodel.deploy(compiled, costs=unfitted).total - shared)
    deploy.update({k: round(float(np.mean(v)), 3) for k, v in residuals.items()})
    return {"loop": loop, "deploy": deploy, "upload": stored["upload"]}


def fit_new(models, stored: dict) -> dict:
    """The stored costs plus fits of the features they lack; every stored cost held as it is."""
    loop = {mode: dict(costs) for mode, costs in stored["loop"].items()}
    for mode in ("fixed", "int8"):
        known = stored["loop"][mode]
        samples, weights = inference_samples(models, mode)
        reduced, kept = [], []
        for (features, gas), weight in zip(samples, weights):
            new = Counter({k: v for k, v in features.items() if v and k not in known})
            if new:
                held = sum(known[k] * v for k, v in features.items() if v and k in known)
                reduced.append((new, gas - held))
                kept.append(weight)
        if reduced:
            fitted = nnls(reduced, kept) if mode == "int8" else lstsq(reduced, kept)
            print(f"  {mode}: fitted {', '.join(sorted(fitted))}", file=sys.stderr)
            loop[mode].update(fitted)
    return {"loop": loop, "deploy": stored["deploy"], "upload": stored["upload"]}


def report(models, costs: gasmodel.Costs) -> None:
    """Worst relative error of every function on the fit set; measured inference vs the bound."""
    errors: dict[str, float] = Counter()
    worst_ratio = (0.0, "")
    for compiled, txs, singles, batch in models:
        for label, tx in txs:
            if label == "deploy":
                predicted = gasmodel.deploy(compiled, costs=costs).total
            elif label.startswith("upload["):
                start, end = (int(v) for v in label[7:-1].split(":"))
                slots = slot_values(compiled.layout, compiled.blob)[start:end]
                predicted = gasmodel.upload(compiled, start, slots, costs=costs).total
            elif label == "finalize":
                predicted = gasmodel.finalize(compiled, costs=costs).total
            else:
                continue  # data contracts: exact, held by the tests
            kind = label.split("[")[0]
            errors[kind] = max(errors[kind], abs(predicted - tx.gas_used) / tx.gas_used)
        bound = gasmodel.inference_upper_bound(compiled, costs=costs).total
        for row, gas in singles:
            predicted = gasmodel.inference(compiled, row, costs=costs).total
            errors["predict"] = max(errors["predict"], abs(predicted - gas) / gas)
            worst_ratio = max(
                worst_ratio,
                (gas / bound, f"{compiled.plan.architecture} {compiled.plan.mode} {compiled.layout}"),
            )
        if batch:
            rows, gas = batch
            predicted = gasmodel.batch_inference(compiled, rows, costs=costs).total
            errors["predictBatch"] = max(errors["predictBatch"], abs(predicted - gas) / gas)
            batch_bound = gasmodel.batch_upper_bound(compiled, len(rows), costs=costs).total
            worst_ratio = max(
                worst_ratio,
                (
                    gas / batch_bound,
                    f"{compiled.plan.architecture} {compiled.plan.mode} {compiled.layout} batch",
                ),
            )
    n_predict = sum(len(s) for _, _, s, _ in models)
    print(
        f"fit set: {len(models)} models, {n_predict} predict and {sum(b is not None for *_, b in models)} "
        "predictBatch transactions"
    )
    for kind in ("deploy", "upload", "finalize", "predict", "predictBatch"):
        print(f"  worst error {kind:<13} {errors[kind]:.3%}")
    print(f"  highest measured / upper bound: {worst_ratio[0]:.3f} ({worst_ratio[1]})")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", type=int, default=None, help="random models before the grid (default 160; 48 with --only)"
    )
    add_fork_arg(
        parser, help=f"the rules to compile for and measure under (anvil --hardfork; default {DEFAULT_FORK})"
    )
    parser.add_argument("--save", metavar="FILE", help="also keep the measurements (pickle) to refit from")
    parser.add_argument("--refit", metavar="FILE", help="fit measurements kept by --save; measure nothing")
    parser.add_argument(
        "--format",
        choices=("fixed", "int8"),
        help="measure this number format only and refit its costs, holding every other stored cost",
    )
    parser.add_argument(
        "--conv",
        action="store_true",
        help="measure conv models only and fit the conv and pool features the costs file lacks "
        "(default models: 160), holding every stored cost",
    )
    parser.add_argument(
        "--only",
        metavar="ACTS",
        help="comma-separated activations: fit only the features "
        "the costs file lacks (default models: 48), holding every stored cost",
    )
    args = parser.parse_args()
    only = [activations.get(name).name for name in args.only.split(",")] if args.only else None
    if only and args.format:
        parser.error("--only and --format do not go together: --only fits new features of both formats")
    if args.refit:
        models = pickle.loads(Path(args.refit).read_bytes())
    else:
        with start_anvil(gas_limit=100_000_000, hardfork=args.fork) as node:
            os.environ["CALIBRATION_KEY"] = node.private_keys[0]
            n_models = args.models if args.models is not None else (160 if args.conv else 48 if only else 160)
            session = chain.rpc(node.url, "CALIBRATION_KEY", fork=args.fork)
            models = measure(session, n_models, only, args.format, get_fork(args.fork), args.conv)
    if args.save:
        kept = [
            (
                c,
                [
                    (label, TxResult(tx.tx_hash, tx.gas_used, tx.block_number, tx.contract_address))
                    for label, tx in txs
                ],
                singles,
                batch,
            )
            for c, txs, singles, batch in models
        ]
        Path(args.save).write_bytes(pickle.dumps(kept))
    stored = json.loads(gasmodel.COSTS_FILE.read_text())
    if args.format:
        models = [m for m in models if m[0].plan.mode == args.format]
        costs = fit_format(models, stored, args.format)
    else:
        costs = fit_new(models, stored) if only or args.conv else fit(models)
    forks = sorted({m[0].fork.name for m in models})
    costs["fitted"] = {"solc": SOLC_VERSION, "forks": forks}
    gasmodel.COSTS_FILE.write_text(json.dumps(costs, indent=1, sort_keys=True) + "\n")
    print(f"wrote {gasmodel.COSTS_FILE}")
    report(models, gasmodel.Costs.of(costs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
