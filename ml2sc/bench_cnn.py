"""``ml2sc bench --suite cnn``: convolutional models on-chain, measured from receipts.

Three models, every requested number format and weight layout where it fits the fork's limits:

- a small CNN trained on scikit-learn's 8x8 digits (``nn.Unflatten(1, (1, 8, 8))`` first, so it takes
  flat rows), whose agreement with torch is measured on the held-out rows;
- LeNet-5 on 28x28 single-channel input (conv5 1->6, max pool, conv5 6->16, max pool, 256-120-84-10)
  with random weights and inputs: the issue's gas target (under 1,000,000 gas, at most 8 gas/MAC);
- a Conv1d model on 64-sample signals (random weights), for the 1-D path.

A layout whose contract or single inference cannot fit (EIP-170, the transaction cap) is listed with
the reason instead of a figure. The gas model's estimate of every measured inference is printed
beside the receipt.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evmkit.errors import ChainError
from evmkit.forks import Fork, get_fork
from evmkit.solc import Compiler, resolve_compiler
from evmkit.table import format_table

from . import emulator, gasmodel
from .capture import capture
from .datasets import load_split
from .layouts import LAYOUTS, LayoutError
from .onchain import (
    compile_plan,
    deploy_and_upload,
    predict_batched,
    predict_onchain,
    split_gas,
    upload_chunk_slots,
)
from .plan import Plan, build_plan, encode_inputs, group_layers
from .quant import calibrate

# the anchors of issue 15: (system, what it runs, gas per prediction, gas per MAC)
ANCHORS = (
    ("best public on-chain CNN (MNIST digits)", "int8 weights packed 32 per storage word", 10_006_912, 179.0),
    ("AFT 2025 paper (quantisation, loop unrolling)", "CNN(F8,K4)", 506_397, None),
    ("ml2sc MLP (784-256-128-10, int8 SWAR)", "dense layers", None, 5.48),
)
TARGET_GAS = 1_000_000
TARGET_GAS_PER_MAC = 8.0
BATCH_ROWS = 20
MAX_UPLOAD_GAS = 200_000_000  # above this a layout's upload is estimated, not sent (LeNet's storage: ~1.2e9)


@dataclass
class CnnRow:
    fork: str
    model: str
    architecture: str
    format: str
    layout: str
    macs: int
    params: int
    runtime_bytes: int
    weight_bytes: int
    deploy_gas: int
    weights_gas: int
    inference_gas: int  # one row, the receipt of predict sent as a transaction
    gas_per_mac: float
    estimate_error: float  # (gas model - receipt) / receipt
    batch_gas_per_row: float
    onchain_equals_emulator: str
    agreement_with_pytorch: str  # held-out rows (digits); "-" for random weights
    note: str


def digits_cnn_module() -> Any:
    """The small CNN for scikit-learn's 8x8 digits, untrained: it takes flat rows (Unflatten first)."""
    from torch import nn

    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def digits_cnn(seed: int = 0) -> tuple[Any, Any]:
    """:func:`digits_cnn_module` trained on scikit-learn's digits (features / 16), and its split."""
    import torch
    from torch import nn

    split = load_split("digits", seed=seed)
    torch.manual_seed(seed)
    model = digits_cnn_module()
    x = torch.tensor(split.x_train, dtype=torch.float32)
    y = torch.tensor(split.y_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval(), split


def lenet5(seed: int = 0) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    ).eval()


def conv1d_net(seed: int = 0) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Unflatten(1, (1, 64)),
        nn.Conv1d(1, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(8, 8, 3),
        nn.ReLU(),
        nn.AvgPool1d(2),
        nn.Flatten(),
        nn.Linear(120, 4),
    ).eval()


def _torch_classes(model: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.tensor(x, dtype=torch.float32)).argmax(1).numpy()


def _models() -> list[tuple[str, Any, np.ndarray, np.ndarray, np.ndarray | None]]:
    """(name, model, calibration rows, test rows, labels torch gives them or None)."""
    rng = np.random.default_rng(0)
    digits, split = digits_cnn()
    lenet = lenet5()
    signal = conv1d_net()
    return [
        ("digits CNN (trained)", digits, split.x_train, split.x_test, _torch_classes(digits, split.x_test)),
        (
            "LeNet-5 28x28 (random)",
            lenet,
            rng.uniform(0, 1, (64, 784)),
            rng.uniform(0, 1, (BATCH_ROWS, 784)),
            None,
        ),
        ("Conv1d 64 (random)", signal, rng.normal(0, 1, (64, 64)), rng.normal(0, 1, (BATCH_ROWS, 64)), None),
    ]


def _measure(
    session: Any,
    compiler: Compiler,
    name: str,
    plan: Plan,
    layout: str,
    test: list[list[int]],
    agreement: str,
) -> CnnRow:
    fork = session.fork
    base = _identity(session, name, plan, layout)
    try:
        compiled = compile_plan(plan, "CnnModel", f"{name}.pt", layout, compiler, fork)
    except LayoutError as exc:
        return _skipped(base, str(exc), agreement)
    bound = gasmodel.inference_upper_bound(compiled).total
    if bound > session.gas_cap:
        return _skipped(base, f"one inference may cost {bound:,} gas, over the transaction cap", agreement)
    report = gasmodel.estimate(compiled, test[0], upload_chunk_slots(session))
    upload = sum(e.total for _, e in report.upload)
    if upload > MAX_UPLOAD_GAS:
        return _skipped(
            base,
            f"weights upload would cost {upload:,} gas in {len(report.upload)} transactions (estimate)",
            agreement,
        )
    contract, txs = deploy_and_upload(session, compiled)
    deploy_gas, weights_gas = split_gas(txs)
    ((single, gas),) = predict_onchain(session, contract, plan, test[:1])
    estimate = gasmodel.inference(compiled, test[0]).total
    batch = predict_batched(session, contract, plan, test[:BATCH_ROWS])
    emulated = [emulator.predict(plan, r) for r in test[:BATCH_ROWS]]
    same = (single == emulated[0]) + sum(p == e for p, e in zip(batch.predictions, emulated))
    return CnnRow(
        **base,
        runtime_bytes=len(compiled.artifact.deployed_bytecode),
        weight_bytes=len(compiled.blob.data),
        deploy_gas=deploy_gas,
        weights_gas=weights_gas,
        inference_gas=gas,
        gas_per_mac=round(gas / plan.n_macs, 2),
        estimate_error=round((estimate - gas) / gas, 5),
        batch_gas_per_row=round(sum(batch.gas_per_call) / len(emulated), 1),
        onchain_equals_emulator=f"{same}/{len(emulated) + 1}",
        agreement_with_pytorch=agreement,
        note="",
    )


def _identity(session: Any, name: str, plan: Plan, layout: str) -> dict[str, Any]:
    """The columns that say which row it is, measured or not."""
    return dict(
        fork=session.fork_name,
        model=name,
        architecture=plan.architecture,
        format=plan.mode,
        layout=layout,
        macs=plan.n_macs,
        params=plan.n_params,
    )


def _skipped(base: dict[str, Any], why: str, agreement: str) -> CnnRow:
    return CnnRow(**base, runtime_bytes=0, weight_bytes=0, deploy_gas=0, weights_gas=0, inference_gas=0,
                  gas_per_mac=0.0, estimate_error=0.0, batch_gas_per_row=0.0, onchain_equals_emulator="-",
                  agreement_with_pytorch=agreement, note=why)  # fmt: skip


def measure_cnns(
    session: Any,
    compiler: Compiler,
    formats: tuple[str, ...],
    layouts: tuple[str, ...],
    log: Callable[[str], None] = print,
) -> list[CnnRow]:
    rows: list[CnnRow] = []
    for name, model, calibration, test, reference in _models():
        ops = capture(model)
        for mode in formats:
            scales = calibrate(group_layers(ops), calibration) if mode == "int8" else None
            plan = build_plan(ops, mode=mode, scales=scales)
            encoded = encode_inputs(plan, test.tolist())
            agreement = "-"
            if reference is not None:
                same = [emulator.predict(plan, r).predicted_class == c for r, c in zip(encoded, reference)]
                agreement = f"{np.mean(same):.2%} of {len(same)}"
            for layout in layouts:
                started = time.perf_counter()
                try:
                    row = _measure(session, compiler, name, plan, layout, encoded, agreement)
                except ChainError as exc:
                    row = _skipped(_identity(session, name, plan, layout), f"refused: {exc}", agreement)
                rows.append(row)
                shown = (
                    f"{row.inference_gas:,} gas, {row.gas_per_mac} gas/MAC" if row.inference_gas else row.note
                )
                log(f"  {name:<24} {mode:<5} {layout:<7} {shown}  [{time.perf_counter() - started:.1f} s]")
    return rows


def _plot(rows: list[CnnRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r.inference_gas]
    labels = [f"{r.model.split(' (')[0]}\n{r.format} {r.layout}" for r in measured]
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(measured) + 3), 5))
    colors = ["tab:blue" if r.format == "int8" else "tab:orange" for r in measured]
    ax.bar(range(len(measured)), [r.gas_per_mac for r in measured], color=colors)
    ax.set_yscale("log")
    ax.axhline(179.0, color="tab:red", linestyle="--", label="best public on-chain CNN: ~179 gas/MAC")
    ax.axhline(TARGET_GAS_PER_MAC, color="tab:green", linestyle=":", label="target: 8 gas/MAC")
    ax.set_xticks(range(len(measured)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("gas per multiply-accumulate (one inference, receipt)")
    ax.set_title("ml2sc CNNs on-chain (blue int8, orange fixed point)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_cnn_bench(
    out_dir: Path,
    solc: str | None = None,
    rpc_url: str | None = None,
    formats: tuple[str, ...] = ("fixed", "int8"),
    layouts: tuple[str, ...] = LAYOUTS,
    fork: str | Fork | None = None,
) -> int:
    from .bench import bench_session

    out_dir.mkdir(parents=True, exist_ok=True)
    compiler = resolve_compiler(solc)
    session = bench_session(rpc_url, fork)
    print(f"ml2sc bench --suite cnn: 3 conv models on {session.description}", file=sys.stderr)
    started = time.perf_counter()
    rows = measure_cnns(session, compiler, formats, layouts, lambda m: print(m, file=sys.stderr))
    with (out_dir / "ml2sc_cnn.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    _plot(rows, out_dir / "ml2sc_cnn.png")
    table = format_table(
        [
            (
                r.model,
                r.format,
                r.layout,
                f"{r.macs:,}",
                f"{r.inference_gas:,}" if r.inference_gas else "-",
                f"{r.gas_per_mac:,.2f}" if r.inference_gas else "-",
                f"{r.estimate_error:+.3%}" if r.inference_gas else "-",
                f"{r.runtime_bytes:,}" if r.runtime_bytes else "-",
                f"{r.weight_bytes:,}" if r.weight_bytes else "-",
                r.onchain_equals_emulator,
                r.agreement_with_pytorch,
                r.note,
            )
            for r in rows
        ],
        header=(
            "model", "format", "layout", "MACs", "gas (1 row)", "gas/MAC", "model err", "runtime bytes",
            "weight bytes", "on-chain==emu", "agree w/ torch", "note",
        ),
    )  # fmt: skip
    anchors = format_table(
        [(a, b, f"{g:,}" if g else "-", f"{m:,.2f}" if m else "-") for a, b, g, m in ANCHORS],
        header=("anchor", "runs", "gas per prediction", "gas per MAC"),
    )
    lenet = [r for r in rows if r.model.startswith("LeNet") and r.format == "int8" and r.inference_gas]
    verdict = []
    if lenet:
        best = min(lenet, key=lambda r: r.inference_gas)
        under = "under" if best.inference_gas < TARGET_GAS else "OVER"
        within = "within" if best.gas_per_mac <= TARGET_GAS_PER_MAC else "OVER"
        verdict.append(
            f"LeNet-5 int8 ({best.layout}): {best.inference_gas:,} gas per inference ({under} the "
            f"{TARGET_GAS:,} target), {best.gas_per_mac:.2f} gas/MAC ({within} {TARGET_GAS_PER_MAC:g}); "
            f"{ANCHORS[0][2] / best.inference_gas:.1f}x below the best public CNN figure"
        )
    report = "\n".join(
        [
            f"{session.description}, {get_fork(fork).title} rules, {compiler.describe().split(' (')[0]}",
            "",
            table,
            "",
            anchors,
            "",
            *verdict,
            "gas counts whole receipts (21,000 intrinsic and calldata included); 'model err' is the gas "
            "model's estimate against the receipt.",
            f"wall time {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores",
        ]
    )
    print(report)
    (out_dir / "ml2sc_cnn.md").write_text("# ml2sc bench --suite cnn\n\n```\n" + report + "\n```\n")
    return 0
