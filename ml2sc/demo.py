"""``ml2sc demo``: the whole path on real data, on the embedded chain, in one table."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from evmkit import chain
from evmkit.solc import resolve_compiler
from evmkit.table import print_table

from . import workflow
from .datasets import load_split, torch_predict, train_mlp
from .fixed import FixedFormat


def run_demo(out_dir: Path, solc: str | None = None, as_json: bool = False) -> int:
    import torch

    log = (lambda *a: print(*a, file=sys.stderr)) if as_json else print
    out_dir.mkdir(parents=True, exist_ok=True)
    split = load_split("breast_cancer")
    log(f"training a 30-16-8-1 MLP on breast cancer ({len(split.x_train)} train / "
        f"{len(split.x_test)} test rows, seed 0) ...")
    model = train_mlp(split, hidden=(16, 8))
    model_path = out_dir / "breast_cancer_mlp.pt"
    torch.save(model, model_path)

    compiler = resolve_compiler(solc)
    started = time.perf_counter()
    t = workflow.translate(model_path, FixedFormat(), compiler)
    compile_s = time.perf_counter() - started
    (out_dir / f"{t.compiled.contract_name}.sol").write_text(t.compiled.source)
    log(f"compiled {t.compiled.contract_name} with {compiler.describe()} in {compile_s:.2f} s")

    session = chain.embedded()
    manifest, contract = workflow.deploy(
        session, t, out_dir / "breast_cancer_mlp.deployment.json", {"kind": "embedded"}
    )
    log(f"deployed at {contract.address}; predicting {len(split.x_test)} test rows on-chain ...")
    started = time.perf_counter()
    result = workflow.predict(session, contract, t.plan, split.x_test)
    predict_s = time.perf_counter() - started

    onchain = np.array(result.predictions)
    reference = torch_predict(model, split.x_test)
    rows = len(split.x_test)
    same_emulator = sum(result.emulator_agrees)
    same_torch = int((onchain == reference).sum())
    accuracy = float((onchain == split.y_test).mean())
    upload_txs = [x for x in manifest.transactions if x.label != "deploy"]
    upload_gas = sum(x.gas_used for x in upload_txs)
    n_params = len(t.plan.weights)
    figures = {
        "dataset": "breast_cancer (scikit-learn)",
        "architecture": f"{t.plan.architecture} ReLU, sigmoid head",
        "number_format": t.plan.fmt.name,
        "test_rows": rows,
        "onchain_equals_emulator": same_emulator,
        "agreement_with_float_pytorch": same_torch / rows,
        "accuracy": accuracy,
        "gas_deploy": manifest.gas("deploy"),
        "gas_upload": upload_gas,
        "upload_transactions": len(upload_txs),
        "parameters": n_params,
        "gas_upload_per_parameter": upload_gas / n_params,
        "gas_inference_mean": result.gas_used / rows,
        "gas_inference_per_mac": result.gas_used / rows / t.plan.n_macs,
        "compile_seconds": round(compile_s, 2),
        "predict_seconds": round(predict_s, 2),
    }
    if as_json:
        print(json.dumps(figures))
    else:
        print()
        print_table([
            ("model", f"{figures['architecture']}, {figures['number_format']}"),
            ("test rows", rows),
            ("on-chain == emulator", f"{same_emulator}/{rows} ({same_emulator / rows:.1%})"),
            ("agreement with float PyTorch", f"{same_torch}/{rows} ({same_torch / rows:.1%})"),
            ("accuracy (on-chain vs labels)", f"{accuracy:.1%}"),
            ("gas: deploy", f"{figures['gas_deploy']:,}"),
            ("gas: weight upload", f"{upload_gas:,} ({len(upload_txs)} tx, {n_params} parameters, "
                                   f"{upload_gas / n_params:,.0f} per parameter)"),
            ("gas: one inference (mean)", f"{result.gas_used / rows:,.0f} "
                                          f"({figures['gas_inference_per_mac']:,.0f} per multiply-accumulate)"),
            ("chain", session.description),
            ("written to", str(out_dir)),
        ], header=("ml2sc demo", "result"))
    ok = same_emulator == rows
    return 0 if ok else 1
