"""``ml2sc demo``: the whole path on real data, on the embedded chain, in one table.

The same trained model runs three ways: fixed point with one storage slot per weight (the
ML2SC design, as a baseline), fixed point with the cheapest layout for its size, and int8.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evmkit import chain
from evmkit.solc import resolve_compiler
from evmkit.table import print_table

from . import api, workflow
from .datasets import load_split, torch_predict, train_mlp
from .onchain import predict_onchain
from .plan import encode_inputs
from .workflow import Settings


@dataclass(frozen=True)
class DemoRun:
    """One column of the demo's table: its label and how the model is translated."""

    label: str
    settings: Settings


def _runs(split) -> list[DemoRun]:
    return [
        DemoRun("fixed, storage (ML2SC design)", Settings(layout="storage")),
        DemoRun("fixed, auto layout", Settings()),
        DemoRun("int8, auto layout", Settings(mode="int8", calibration=split.x_train)),
    ]


def run_demo(out_dir: Path, solc: str | None = None, as_json: bool = False, fork: str | None = None) -> int:
    import torch

    log = (lambda *a: print(*a, file=sys.stderr)) if as_json else print
    out_dir.mkdir(parents=True, exist_ok=True)
    split = load_split("breast_cancer")
    log(
        f"training a 30-16-8-1 MLP on breast cancer ({len(split.x_train)} train / "
        f"{len(split.x_test)} test rows, seed 0) ..."
    )
    model = train_mlp(split, hidden=(16, 8))
    model_path = out_dir / "breast_cancer_mlp.pt"
    torch.save(model, model_path)
    reference = torch_predict(model, split.x_test)
    compiler = resolve_compiler(solc)
    session = chain.embedded(fork=fork)
    rows = len(split.x_test)
    results = []
    for index, run in enumerate(_runs(split)):
        started = time.perf_counter()
        t = workflow.translate(model_path, run.settings, compiler, fork=session.fork)
        manifest_path = out_dir / f"breast_cancer_mlp.{index}.deployment.json"
        deployment = api.deploy(t, session, manifest=manifest_path, force=True)  # a fresh record per run
        manifest = deployment.manifest
        source_file = out_dir / f"{t.compiled.contract_name}.{t.settings.mode}.{t.compiled.layout}.sol"
        source_file.write_text(t.compiled.source)
        result = deployment.predict(split.x_test)
        first = encode_inputs(t.plan, split.x_test[:1].tolist())
        ((_, one_row_gas),) = predict_onchain(session, deployment.contract, t.plan, first)
        onchain = np.array(result.classes)
        results.append(
            {
                "run": run.label,
                "format": t.plan.describe_format if t.plan.mode == "fixed" else "int8",
                "layout": t.compiled.layout,
                "test_rows": rows,
                "onchain_equals_emulator": sum(result.emulator_agrees),
                "agreement_with_float_pytorch": float(np.mean(onchain == reference)),
                "accuracy": float(np.mean(onchain == split.y_test)),
                "gas_deploy": manifest.gas("deploy"),
                "gas_weights": manifest.upload_gas,
                "gas_weights_per_parameter": manifest.upload_gas / t.plan.n_params,
                "gas_one_inference": one_row_gas,
                "gas_per_mac_one_inference": one_row_gas / t.plan.n_macs,
                "gas_batched_per_row": result.gas_used / rows,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        log(f"  {run.label}: done in {results[-1]['seconds']} s")
    if as_json:
        print(
            json.dumps(
                {
                    "model": "breast_cancer 30-16-8-1 ReLU, sigmoid head",
                    "fork": session.fork_name,
                    "compiler": compiler.describe(),
                    "runs": results,
                }
            )
        )
    else:
        print()
        print(
            f"ml2sc demo: breast-cancer MLP 30-16-8-1 (ReLU, sigmoid head), {rows} test rows, "
            f"{session.description}, {compiler.describe().split(' (')[0]}"
        )
        header = ("", *[r["run"] for r in results])
        fields = [
            ("on-chain == emulator", lambda r: f"{r['onchain_equals_emulator']}/{rows}"),
            ("agreement with float PyTorch", lambda r: f"{r['agreement_with_float_pytorch']:.1%}"),
            ("accuracy vs labels", lambda r: f"{r['accuracy']:.1%}"),
            ("weight layout", lambda r: r["layout"]),
            ("gas: deploy", lambda r: f"{r['gas_deploy']:,}"),
            (
                "gas: weights (per parameter)",
                lambda r: f"{r['gas_weights']:,} ({r['gas_weights_per_parameter']:,.0f})",
            ),
            ("gas: one inference", lambda r: f"{r['gas_one_inference']:,}"),
            ("gas: per multiply-accumulate", lambda r: f"{r['gas_per_mac_one_inference']:,.0f}"),
            ("gas: per row, batched", lambda r: f"{r['gas_batched_per_row']:,.0f}"),
        ]
        print_table([(name, *[get(r) for r in results]) for name, get in fields], header=header)
        print(
            "gas from receipts (21,000 intrinsic and calldata included); 'weights' is every transaction "
            "that stores them (inline: none, they are part of the deploy)."
        )
        print(f"written to {out_dir}")
    ok = all(r["onchain_equals_emulator"] == rows for r in results)
    return 0 if ok else 1
