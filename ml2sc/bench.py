"""``ml2sc bench``: weight-storage and inference gas for every number format x weight layout.

A 64-32-10 MLP trained on scikit-learn's digits, measured from receipts on one chain in one
run, so the ratios between layouts (and against ML2SC's one-slot-per-weight design, which the
``storage`` layout reproduces) come from the same EVM. Then one inference of a
784-256-128-10 (MNIST-size) MLP, the largest the targets ask for.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from evmkit import chain
from evmkit.chain import ChainSession
from evmkit.forks import Fork, get_fork
from evmkit.solc import Compiler, resolve_compiler
from evmkit.table import format_table

from . import emulator
from .capture import capture
from .datasets import load_split, torch_predict, train_mlp
from .layouts import LAYOUTS
from .onchain import compile_plan, deploy_and_upload, predict_batched, predict_onchain, split_gas
from .plan import build_plan, encode_inputs, group_layers
from .quant import calibrate

ML2SC_UPLOAD_PER_PARAM = 23_700  # ML2SC's repository figure
ML2SC_GAS_PER_MAC = 2_200
BATCH_ROWS = 50


@dataclass
class LayoutRow:
    fork: str
    format: str
    layout: str
    params: int
    weight_bytes: int
    runtime_bytes: int
    deploy_gas: int
    weights_gas: int  # uploads / data contracts; inline: 0, the weights are in deploy_gas
    weights_gas_per_param: float  # inline: the deploy gas above the storage layout's contract
    one_row_gas: int
    one_row_gas_per_mac: float
    batch_calls: int  # predictBatch calls the 50 rows took (sized to fit what a transaction may use)
    batch_gas_per_row: float
    batch_gas_per_mac: float
    onchain_equals_emulator: str
    agreement_with_pytorch: float


def bench_session(rpc_url: str | None, fork: str | Fork | None = None) -> ChainSession:
    """A node from --rpc-url (refused unless it runs ``fork``'s rules), else an embedded chain under
    ``fork``'s rules (default Osaka) with a 100M-gas block for big weights (under Osaka each transaction
    stays within its 2**24 cap all the same); the reports say whether a transaction would fit a
    30M-gas block."""
    if rpc_url:
        return chain.rpc(rpc_url, fork=get_fork(fork))
    return chain.embedded(block_gas_limit=100_000_000, fork=get_fork(fork))


def measure_layouts(
    session: ChainSession,
    compiler: Compiler,
    log=print,
    formats: tuple[str, ...] = ("fixed", "int8"),
    layouts: tuple[str, ...] = LAYOUTS,
) -> list[LayoutRow]:
    """Every format x layout of the digits MLP, compiled for the session's fork and measured on it."""
    fork = session.fork
    split = load_split("digits")
    model = train_mlp(split, hidden=(32,), epochs=300)
    ops = capture(model)
    reference = torch_predict(model, split.x_test)
    rows_out: list[LayoutRow] = []
    for mode in formats:
        scales = calibrate(group_layers(ops), split.x_train) if mode == "int8" else None
        plan = build_plan(ops, mode=mode, scales=scales)
        encoded = encode_inputs(plan, split.x_test.tolist())
        emulated = [emulator.predict(plan, r) for r in encoded]
        agreement = float(np.mean([e.predicted_class == c for e, c in zip(emulated, reference)]))
        base_deploy = None
        for layout in sorted(
            set(layouts) | ({"storage"} if "inline" in layouts else set()), key=LAYOUTS.index
        ):
            started = time.perf_counter()
            compiled = compile_plan(plan, "DigitsMLP", "digits.pt", layout, compiler, fork)
            contract, txs = deploy_and_upload(session, compiled)
            deploy_gas, weights_gas = split_gas(txs)
            if layout == "storage":
                base_deploy = deploy_gas
                if layout not in layouts:
                    continue  # measured only as the inline layout's reference
            per_param = (
                (deploy_gas - (base_deploy or 0)) if layout == "inline" else weights_gas
            ) / plan.n_params
            ((single, one_gas),) = predict_onchain(session, contract, plan, encoded[:1])
            # one call where 50 rows fit what a transaction may use; under Osaka's 2**24 cap the storage
            # layouts take several
            batch = predict_batched(session, contract, plan, encoded[:BATCH_ROWS])
            same = sum(
                p == e for p, e in zip([single, *batch.predictions], [emulated[0], *emulated[:BATCH_ROWS]])
            )
            row = LayoutRow(
                fork=session.fork_name,
                format=mode,
                layout=layout,
                params=plan.n_params,
                weight_bytes=len(compiled.blob.data),
                runtime_bytes=len(compiled.artifact.deployed_bytecode),
                deploy_gas=deploy_gas,
                weights_gas=weights_gas,
                weights_gas_per_param=round(per_param, 1),
                one_row_gas=one_gas,
                one_row_gas_per_mac=round(one_gas / plan.n_macs, 2),
                batch_calls=len(batch.gas_per_call),
                batch_gas_per_row=round(sum(batch.gas_per_call) / BATCH_ROWS, 1),
                batch_gas_per_mac=round(sum(batch.gas_per_call) / BATCH_ROWS / plan.n_macs, 2),
                onchain_equals_emulator=f"{same}/{BATCH_ROWS + 1}",
                agreement_with_pytorch=round(agreement, 4),
            )
            rows_out.append(row)
            log(
                f"  {mode:<5} {layout:<7} weights {row.weights_gas_per_param:>9,.1f} gas/param  "
                f"inference {row.batch_gas_per_mac:>8,.2f} gas/MAC (batched)  "
                f"[{time.perf_counter() - started:.1f} s]"
            )
    return rows_out


def measure_mnist_size(session: ChainSession, compiler: Compiler) -> dict[str, object]:
    """One inference of a 784-256-128-10 int8 MLP with code-layout weights."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    ops = capture(model)
    rng = np.random.default_rng(0)
    calibration = rng.uniform(0, 1, size=(64, 784))
    plan = build_plan(ops, mode="int8", scales=calibrate(group_layers(ops), calibration))
    compiled = compile_plan(plan, "MnistSizeMLP", "mnist_size.pt", "code", compiler, session.fork)
    contract, txs = deploy_and_upload(session, compiled)
    row = encode_inputs(plan, calibration[:1].tolist())
    ((prediction, gas),) = predict_onchain(session, contract, plan, row)
    return {
        "fork": session.fork_name,
        "architecture": plan.architecture,
        "format": "int8",
        "layout": "code",
        "macs": plan.n_macs,
        "data_contracts": sum(1 for label, _ in txs if label.startswith("data")),
        "weights_gas_per_param": round(split_gas(txs)[1] / plan.n_params, 1),
        "inference_gas": gas,
        "gas_per_mac": round(gas / plan.n_macs, 2),
        "fits_30m_block": gas <= 30_000_000,
        "fits_tx_cap": gas <= session.gas_cap,
        "onchain_equals_emulator": prediction == emulator.predict(plan, row[0]),
    }


def mnist_left_out(formats: tuple[str, ...], layouts: tuple[str, ...]) -> str | None:
    """Why the 784-256-128-10 measurement (int8, code layout) is left out of a run that selects other
    formats or layouts; None when it is measured."""
    if "int8" in formats and "code" in layouts:
        return None
    return (
        "784-256-128-10 not measured: it runs in int8 with the code layout, which --format / --layout "
        "leave out"
    )


def run_layout_bench(
    out_dir: Path,
    solc: str | None = None,
    mnist: bool = True,
    rpc_url: str | None = None,
    formats: tuple[str, ...] = ("fixed", "int8"),
    layouts: tuple[str, ...] = LAYOUTS,
    fork: str | Fork | None = None,
) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    compiler = resolve_compiler(solc)
    session = bench_session(rpc_url, fork)
    print(
        f"ml2sc bench: 64-32-10 digits MLP, every format x layout, on {session.description}", file=sys.stderr
    )
    started = time.perf_counter()
    rows = measure_layouts(session, compiler, lambda m: print(m, file=sys.stderr), formats, layouts)
    header = list(asdict(rows[0]).keys())
    with (out_dir / "ml2sc_layouts.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    table_rows = [
        (
            r.format,
            r.layout,
            f"{r.weights_gas_per_param:,.1f}",
            f"{r.one_row_gas_per_mac:,.2f}",
            f"{r.batch_gas_per_mac:,.2f}" + (f" ({r.batch_calls} calls)" if r.batch_calls > 1 else ""),
            f"{r.runtime_bytes:,}",
            f"{r.weight_bytes:,}",
            f"{r.deploy_gas:,}",
            r.onchain_equals_emulator,
            f"{r.agreement_with_pytorch:.2%}",
        )
        for r in rows
    ]
    headings = (
        "format",
        "layout",
        "weights gas/param",
        "gas/MAC 1 row",
        f"gas/MAC batch {BATCH_ROWS}",
        "runtime bytes",
        "weight bytes",
        "deploy gas",
        "on-chain==emu",
        "agree w/ torch",
    )
    text = format_table(table_rows, header=headings)
    lines = [
        f"{session.description}, {get_fork(fork).title} rules, {compiler.describe().split(' (')[0]}",
        "",
        text,
        "",
        f"ML2SC reference (its repository): ~{ML2SC_UPLOAD_PER_PARAM:,} gas per uploaded parameter, "
        f"~{ML2SC_GAS_PER_MAC:,} gas per multiply-accumulate.",
        "gas/MAC counts whole receipts (21,000 intrinsic and calldata included); 'batch' divides the "
        f"predictBatch receipts of {BATCH_ROWS} rows by {BATCH_ROWS} (one call where they fit 90% of what "
        "a transaction may use, else as many as it takes). inline: weights gas/param is the deploy gas above "
        "the storage layout's contract.",
    ]
    left_out = mnist_left_out(formats, layouts)
    if mnist and left_out:
        lines += ["", left_out]
    elif mnist:
        print("  784-256-128-10 int8, code layout ...", file=sys.stderr)
        big = measure_mnist_size(session, compiler)
        (out_dir / "ml2sc_mnist_size.csv").write_text(
            ",".join(big) + "\n" + ",".join(str(v) for v in big.values()) + "\n"
        )
        lines += ["", format_table(list(big.items()), header=("784-256-128-10", "measured"))]
    lines += ["", f"wall time {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores"]
    report = "\n".join(lines)
    print(report)
    md = ["# ml2sc bench", "", "```", report, "```", ""]
    (out_dir / "ml2sc_layouts.md").write_text("\n".join(md))
    return 0
