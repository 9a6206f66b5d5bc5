"""``ml2sc``: an MLP (PyTorch, scikit-learn, ONNX) -> integer Solidity contract -> deployment ->
on-chain inference."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evmkit import chain, progress
from evmkit.chain import TxResult
from evmkit.cliargs import add_chain_args, add_fork_arg, int_at_least, positive_int, session_from_args
from evmkit.errors import EvmkitError
from evmkit.forks import DEFAULT_FORK
from evmkit.solc import resolve_compiler
from evmkit.table import print_table

from . import api, workflow
from .capture import ModelLoadError, UnsupportedModel
from .evm_int import EvmPanic
from .fixed import DEFAULT_FRAC_BITS, DEFAULT_WEIGHT_BITS, FixedFormat, FormatOverflow
from .gasmodel import MAINNET_BLOCK_GAS
from .inputs import InputError, read_rows
from .layouts import LAYOUTS, LayoutError
from .manifest import Manifest, ManifestError
from .plan import MODES, PlanError
from .workflow import Settings

TRUST_NOTE = (
    "MODEL is a file written by torch.save(model) (the whole module) or torch.jit.save, a state_dict "
    "from torch.save(model.state_dict()) with --arch, a fitted scikit-learn MLPClassifier / MLPRegressor "
    "saved with joblib or pickle (.joblib, .pkl, .pickle), or an ONNX file; the kind is read from the "
    "file's first bytes. torch.save, joblib and pickle files are unpickled, which can run code: load only "
    "files you trust; a manifest names a model file that is loaded the same way (it must lie in the "
    "manifest's folder). While they load, the current directory is importable (for classes in local modules)."
)
ARCH_HELP = (
    "for a state_dict file: the module class it loads into, as MODULE:CLASS (e.g. mynets:Net), built "
    "with no arguments and loaded strictly; the current directory is put on sys.path for this import only"
)
USER_ERRORS = (
    EvmkitError,
    UnsupportedModel,
    ModelLoadError,
    FormatOverflow,
    InputError,
    ManifestError,
    PlanError,
    LayoutError,
    EvmPanic,
    ValueError,
)


def _add_numbers(p: argparse.ArgumentParser, calibrate: bool = True) -> None:
    g = p.add_argument_group("numbers and weight layout")
    g.add_argument(
        "--format",
        choices=MODES,
        default=None,
        help="fixed: signed fixed point; int8: integer-only quantization (int8 weights, "
        "per-channel scales, int32 accumulation, dyadic requantization). Default fixed",
    )
    g.add_argument(
        "--frac-bits",
        type=int,
        default=None,
        help=f"fixed: fractional bits (default {DEFAULT_FRAC_BITS}, close to PRBMath SD59x18's 1e18)",
    )
    g.add_argument(
        "--weight-bits",
        type=int,
        default=None,
        help=f"fixed: the signed width every weight and bias must fit (default "
        f"{DEFAULT_WEIGHT_BITS}); lanes are as narrow as the model allows",
    )
    g.add_argument(
        "--layout",
        choices=(*LAYOUTS, "auto"),
        default=None,
        help="where weights live: storage (a slot per weight, the ML2SC baseline), "
        "packed (32 bytes per slot), code (data contracts read with EXTCODECOPY), "
        "inline (constants in the contract). Default auto: inline when the "
        "weights fit, else code",
    )
    if calibrate:
        g.add_argument(
            "--calibrate", metavar="FILE", help="int8: rows (CSV or .npy) to calibrate the scales on"
        )


def _add_arch(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", metavar="MODULE:CLASS", help=ARCH_HELP)


def _add_compiler(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--solc",
        metavar="PATH",
        help="a solc binary or solc-js package folder (default: $SOLC, then a native "
        "solc from py-solc-x, then the project's npm solc-js)",
    )


def _add_chain(p: argparse.ArgumentParser) -> None:
    add_chain_args(p)


NUMBER_OPTIONS = {"format": "--format", "frac_bits": "--frac-bits", "weight_bits": "--weight-bits"}
NUMBER_OPTIONS |= {"layout": "--layout", "calibrate": "--calibrate"}


def _given_number_options(args: argparse.Namespace) -> list[str]:
    """The number and layout options given on the command line (their defaults are None)."""
    return [flag for name, flag in NUMBER_OPTIONS.items() if getattr(args, name, None) is not None]


def _settings(args: argparse.Namespace, fallback_rows: Any = None) -> Settings:
    """Settings from the number options, with their defaults where not given."""
    args.format = args.format or "fixed"
    args.layout = args.layout or "auto"
    args.frac_bits = DEFAULT_FRAC_BITS if args.frac_bits is None else args.frac_bits
    args.weight_bits = DEFAULT_WEIGHT_BITS if args.weight_bits is None else args.weight_bits
    calibration = None
    if args.format != "int8" and getattr(args, "calibrate", None):
        raise PlanError("--calibrate applies to --format int8; fixed point needs no calibration")
    if args.format == "int8":
        if getattr(args, "calibrate", None):
            calibration = read_rows(args.calibrate)
        elif fallback_rows is not None:
            print(
                "ml2sc: no --calibrate FILE: calibrating the int8 scales on the input rows", file=sys.stderr
            )
            calibration = fallback_rows
    layout = None if args.layout == "auto" else args.layout
    return Settings(args.format, FixedFormat(args.frac_bits, args.weight_bits), layout, None, calibration)


def _progress(quiet: bool):
    def report(label: str, tx: TxResult) -> None:
        if not quiet:
            progress.say(f"  {label:<24} gas {tx.gas_used:>12,}  {tx.tx_hash}")

    return report


def eth_cost(wei: int, gas: int) -> str:
    """A cost in ETH and gwei, with the mean effective gas price that gave it."""
    if not gas:
        return "0 ETH"
    price = wei / gas / 10**9
    return f"{wei / 10**18:.9g} ETH = {wei / 10**9:,.0f} gwei (mean effective gas price {price:,.3f} gwei)"


VERIFY_EXIT = {"match": 0, "mismatch": 1, "incomplete": 3, "unchecked": 4}


# -- commands ---------------------------------------------------------------------------


def cmd_translate(args: argparse.Namespace) -> int:
    t = workflow.translate(
        Path(args.model), _settings(args), resolve_compiler(args.solc), arch=args.arch, fork=args.fork
    )
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    name, blob = t.compiled.contract_name, t.compiled.blob
    sol = out / f"{name}.sol"
    sol.write_text(t.compiled.source)
    weights_file = out / f"{name}.weights.json"
    weights_file.write_text(
        json.dumps(
            {
                "architecture": t.plan.architecture,
                "number_format": t.settings.to_json(),
                "layout": t.compiled.layout,
                "weights_hash": "0x" + blob.hash.hex(),
                "blob": "0x" + blob.data.hex(),
            }
        )
        + "\n"
    )
    artifact = out / f"{name}.json"
    artifact.write_text(
        json.dumps(
            {
                "contractName": name,
                "compiler": t.compiler.describe(),
                "fork": t.fork.name,
                "evmVersion": t.fork.evm_version,
                "abi": t.compiled.artifact.abi,
                "bytecode": "0x" + t.compiled.artifact.bytecode.hex(),
            }
        )
        + "\n"
    )
    summary = {
        "contract": str(sol),
        "weights": str(weights_file),
        "artifact": str(artifact),
        "architecture": t.plan.architecture,
        "format": t.plan.describe_format,
        "layout": t.compiled.layout,
        "fork": t.fork.name,
        "n_params": t.plan.n_params,
        "weights_bytes": len(blob.data),
        "runtime_bytes": len(t.compiled.artifact.deployed_bytecode),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print_table(list(summary.items()))
    return 0


def _manifest_path(args: argparse.Namespace) -> Path:
    if args.output:
        return Path(args.output)
    model = Path(args.model)
    return model.with_name(model.stem + ".deployment.json")


def cmd_deploy(args: argparse.Namespace) -> int:
    t = workflow.translate(
        Path(args.model), _settings(args), resolve_compiler(args.solc), arch=args.arch, fork=args.fork
    )
    session = session_from_args(args)
    path = _manifest_path(args)
    deployment = api.deploy(
        t,
        session,
        manifest=path,
        on_tx=_progress(args.json),
        resume=not args.fresh,
        force=args.force,
        show_progress=not args.json,
    )
    manifest = deployment.manifest
    if args.json:
        print(json.dumps({**manifest.to_json(), "manifest": str(path)}))
    else:
        print_table(
            [
                ("contract", f"{manifest.contract_name} at {manifest.address}"),
                ("chain", session.description),
                ("fork", t.fork.title),
                ("model", f"{manifest.architecture}, {t.plan.describe_format}"),
                (
                    "weight layout",
                    f"{manifest.layout}{' (auto: cheapest for this size)' if args.layout == 'auto' else ''}",
                ),
                (
                    "weights",
                    f"{manifest.n_params} parameters in {manifest.blob_bytes} bytes, "
                    f"hash {manifest.weights_hash}",
                ),
                ("gas: deploy", f"{manifest.gas('deploy'):,}"),
                (
                    "gas: weights",
                    f"{manifest.upload_gas:,} ({manifest.upload_gas / manifest.n_params:,.0f} per parameter)",
                ),
                (
                    "cost (gas x effective gas price)",
                    eth_cost(manifest.cost_wei, sum(r.gas_used for r in manifest.transactions)),
                ),
                ("manifest", str(path)),
            ]
        )
    return 0


def _deployment_for(args: argparse.Namespace, rows: Any = None) -> tuple[api.Deployment, dict[str, Any]]:
    """The deployment a manifest names (an RPC one where it stands), or a model file's, deployed
    first on a fresh embedded chain (with its deploy gas)."""
    target = Path(args.model)
    if target.suffix == ".json":
        given = _given_number_options(args)
        if given:  # the manifest fixes them: a different value would be silently ignored
            raise ManifestError(
                f"{', '.join(given)} cannot apply to a manifest: the deployment's number format and "
                "layout are recorded in it; pass the model file to deploy it with other settings"
            )
        manifest = Manifest.load(target)
        args.fork = api.manifest_fork(manifest, args.fork).name  # the manifest's; --fork may only agree
        model = Path(args.model_file) if args.model_file else manifest.checked_model_file()
        compiler = resolve_compiler(args.solc)
        if manifest.chain.get("kind") == "rpc":
            args.rpc_url = args.rpc_url or manifest.chain["rpc_url"]
            # a node upgraded since the deploy runs the contract all the same: later rules pass
            if os.environ.get(args.private_key_env):
                session = session_from_args(args, newer_ok=True)
            else:  # reading needs no key: eth_call only, nothing sent
                session = chain.rpc_reader(args.rpc_url, fork=args.fork, newer_ok=True)
            deployment = api.attach(manifest, session, model=model, arch=args.arch, compiler=compiler)
            return deployment, {}
        _refuse_node(args)
        # an embedded chain lives only as long as its process: deploy the manifest's model again
        named = f"{model} (pass the deployed model's file with --model)"
        return _deploy_embedded(
            args, workflow.translate_recorded(manifest, model, compiler, args.arch, named)
        )
    if args.model_file:
        raise ManifestError(
            "--model names a manifest's model file; MODEL_OR_MANIFEST is already a model file"
        )
    settings = _settings(args, rows)
    _refuse_node(args)
    args.fork = args.fork or DEFAULT_FORK
    return _deploy_embedded(
        args,
        workflow.translate(target, settings, resolve_compiler(args.solc), arch=args.arch, fork=args.fork),
    )


def _refuse_node(args: argparse.Namespace) -> None:
    """predict deploys a model file (or an embedded manifest's model) on a fresh embedded chain only."""
    if args.rpc_url:
        raise ManifestError(
            f"with a node (--rpc-url or ${chain.RPC_URL_ENV}: {args.rpc_url}), deploy first "
            "('ml2sc deploy MODEL') and pass its manifest; unset it for the embedded chain"
        )


def _deploy_embedded(
    args: argparse.Namespace, t: workflow.Translation
) -> tuple[api.Deployment, dict[str, Any]]:
    """``t`` deployed on a fresh embedded chain, with the deploy figures predict reports."""
    deployment = api.deploy(t, session_from_args(args), resume=False)
    return deployment, {
        "deploy_gas": deployment.deploy_gas,
        "upload_gas": deployment.weights_gas,
        "layout": deployment.manifest.layout,
    }


GAS_ESTIMATED = "gas model estimate: read-only (no key), nothing was sent, so there are no receipts"


def _float_lines(check: workflow.FloatCheck | None, plan_mode: str) -> tuple[str | None, list[str]]:
    """(the agreement line for the summary, warnings for stderr) from the float-model check."""
    if check is None:
        return None, []
    warnings = []
    line = None
    if check.agree is not None and check.share is not None:
        line = f"agreement with float model: {check.agree}/{check.rows} ({check.share:.1%})"
        if check.share < workflow.AGREEMENT_WARNING:
            warnings.append(
                f"ml2sc: warning: {line}, below {workflow.AGREEMENT_WARNING:.0%}"
                + (" (int8: try --calibrate with representative rows)" if plan_mode == "int8" else "")
            )
    if check.clamped_values:
        features = ", ".join(map(str, check.clamped_features[:10])) + (
            ", ..." if len(check.clamped_features) > 10 else ""
        )
        warnings.append(
            f"ml2sc: warning: {check.clamped_values} input values in {check.clamped_rows} rows were clamped "
            f"to [-128, 127] by the int8 input scales (features {features}): calibrate on rows that "
            "cover the inputs"
        )
    return line, warnings


def cmd_predict(args: argparse.Namespace) -> int:
    rows = read_rows(args.input)
    deployment, deploy_gas = _deployment_for(args, rows)
    if deployment.session.read_only:
        print(
            f"ml2sc: no key in ${args.private_key_env}: predicting read-only (eth_call); gas figures are "
            "the gas model's estimates",
            file=sys.stderr,
        )
    result = deployment.predict(rows, args.batch, show_progress=not args.json)
    check = result.float_check
    agreement, warnings = _float_lines(check, deployment.plan.mode)
    report = {
        **({} if result.regression else {"predictions": result.classes}),
        "outputs": result.outputs,
        "gas_used": result.gas_used,
        "gas_per_call": result.gas_per_call,
        "rows_per_call": result.rows_per_call,
        "gas_source": "estimate" if result.gas_estimated else "receipts",
        "fork": deployment.fork.name,
        "cost_wei": result.cost_wei,
        "emulator_agrees": all(result.emulator_agrees),
        **(check.to_json() if check is not None else {"agreement_with_float": None}),
        **deploy_gas,
    }
    regression_line = None
    if check is not None and result.regression:
        regression_line = f"largest difference from the float model's outputs: {check.max_error:.6g}"
        share = check.error_share
        if share is not None:
            low, high = check.output_range
            regression_line += f" ({share:.2%} of their range {low:.6g} to {high:.6g})"
            if share > workflow.ERROR_WARNING:
                hint = " (int8: try --calibrate with representative rows)"
                warnings.append(
                    f"ml2sc: warning: {regression_line}, above {workflow.ERROR_WARNING:.0%}"
                    + (hint if deployment.plan.mode == "int8" else "")
                )
    for warning in warnings:
        print(warning, file=sys.stderr)
    if args.json:
        print(json.dumps(report))
    else:
        if result.regression:  # numbers, not class scores: no class column
            print_table(
                [(str(i), ", ".join(f"{v:.6g}" for v in out)) for i, out in enumerate(result.outputs)],
                header=("row", "outputs"),
            )
        else:
            body = [
                (str(i), str(c), ", ".join(f"{v:.6g}" for v in out))
                for i, (c, out) in enumerate(zip(result.classes, result.outputs))
            ]
            print_table(body, header=("row", "class", "outputs"))
        gas = f"inference gas: {result.gas_used:,}" + (f" ({GAS_ESTIMATED})" if result.gas_estimated else "")
        print(
            f"{gas} for {len(rows)} rows in {len(result.rows_per_call)} "
            f"call(s) under {deployment.fork.name} rules; on-chain == emulator: "
            f"{sum(result.emulator_agrees)}/{len(rows)}"
        )
        if result.cost_wei is not None:
            print(f"inference cost: {eth_cost(result.cost_wei, result.gas_used)}")
        if agreement:
            print(agreement)
        elif regression_line:
            print(regression_line)
    return 0 if all(result.emulator_agrees) else 1


def cmd_verify(args: argparse.Namespace) -> int:
    manifest = Manifest.load(Path(args.manifest))
    fork = api.manifest_fork(manifest, args.fork)  # the manifest's; --fork may only agree
    session = None
    if manifest.chain.get("kind") == "rpc":  # reading only: no key needed
        session = chain.rpc_reader(args.rpc_url or manifest.chain["rpc_url"])
    result = api.verify(
        manifest,
        Path(args.model),
        chain=session,
        compiler=resolve_compiler(args.solc),
        arch=args.arch,
        show_progress=not args.json,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "match": result.ok,
                    "status": result.status,
                    "differences": result.differences,
                    "incomplete": result.incomplete,
                    "model_hash": "0x" + result.model_hash.hex(),
                    "fork": fork.name,
                    "checks": [c.__dict__ for c in result.checks],
                }
            )
        )
    else:
        print(
            f"model hash of {args.model} under the manifest's settings: 0x{result.model_hash.hex()} "
            f"(compiled for {fork.name}, the manifest's fork)"
        )
        if session is not None:
            print(
                f"checked against {session.description} (chain {session.w3.eth.chain_id}); pass --rpc-url to "
                "check another node than the manifest names"
            )
        print_table(
            [(c.what, c.outcome, c.detail) for c in result.checks], header=("check", "outcome", "detail")
        )
        if result.status == "unchecked":
            print(
                "NOT CHECKED ON CHAIN: the model file and the manifest agree, but the contract was not "
                "checked (its embedded chain is gone); deploy with --rpc-url for a deployment that can be"
            )
        elif result.ok:
            unchecked = [c.what for c in result.checks if c.outcome == "not checked"]
            print("MATCH" + (f" (not checked: {'; '.join(unchecked)})" if unchecked else ""))
        elif result.differences:
            print("MISMATCH: " + "; ".join(result.differences))
        if result.incomplete:
            print("INCOMPLETE deployment, missing: " + "; ".join(result.incomplete))
    return VERIFY_EXIT[result.status]


def cmd_estimate(args: argparse.Namespace) -> int:
    rows = read_rows(args.input) if args.input else None
    t = workflow.translate(
        Path(args.model), _settings(args, rows), resolve_compiler(args.solc), arch=args.arch, fork=args.fork
    )
    if args.row is not None and rows is None:
        raise InputError("--row picks one of the --input rows: pass --input FILE")
    report = api.estimate(t, rows, row=args.row)
    spread = None
    if args.range:
        over = rows if rows is not None else t.settings.calibration
        if over is None:
            raise InputError("--range needs rows: pass --input FILE (or --calibrate FILE with --format int8)")
        spread = api.inference_range(t, over)
    if args.json:
        extra = {} if spread is None else {"inference_range": spread.to_json()}
        print(
            json.dumps(
                {
                    **report.to_json(),
                    **extra,
                    "layout": t.compiled.layout,
                    "architecture": t.plan.architecture,
                }
            )
        )
        return 0
    print(
        f"{t.plan.architecture}, {t.plan.describe_format}, layout {t.compiled.layout}: "
        f"predicted receipt gas ({t.fork.title}: its schedule and per-transaction cap, + the templates' "
        "loop costs)"
    )
    print(f"inference row: {report.inference_row}")
    sections = [
        ("deploy", report.deploy),
        *report.upload,
        ("inference (one row)", report.inference),
        ("inference upper bound (any row)", report.inference_upper_bound),
    ]
    for label, est in sections:
        print()
        print_table(
            [(name, f"{g:,}") for name, g in est.terms] + [("total", f"{est.total:,}")], header=(label, "gas")
        )
    batch = report.batch_bound
    n_uploads = len(report.upload)
    print()
    print_table(
        [
            ("deploy", f"{report.deploy.total:,}"),
            (
                f"weight storage ({n_uploads} transaction{'s' if n_uploads != 1 else ''})",
                f"{report.storage_total:,}",
            ),
            ("inference (one row)", f"{report.inference.total:,}"),
            ("grand total (deploy + weights + one inference)", f"{report.total:,}"),
            *(
                []
                if spread is None
                else [
                    (
                        f"inference, cheapest of {spread.rows:,} rows (row {spread.low_index})",
                        f"{spread.low:,}",
                    ),
                    (
                        f"inference, dearest of {spread.rows:,} rows (row {spread.high_index})",
                        f"{spread.high:,}",
                    ),
                ]
            ),
            ("inference upper bound (predict, any row)", f"{report.inference_upper_bound.total:,}"),
            (
                f"predictBatch upper bound (n <= {max(batch.rows, 1):,} rows)",
                f"{batch.intercept:,} + n x {batch.per_row:,}",
            ),
            (f"rows per predictBatch call within {batch.budget:,} gas", f"{batch.rows:,}"),
        ],
        header=("summary", "gas"),
    )
    cap = t.fork.gas_cap(MAINNET_BLOCK_GAS)  # what estimate plans with: a 30M-gas block under the fork
    bound = report.inference_upper_bound.total
    if bound > cap:  # deploy refuses such a contract: say so here, where it is only priced
        limit = f"{t.fork.name}'s per-transaction cap" if t.fork.tx_gas_cap == cap else "the block gas limit"
        print(
            f"ml2sc: warning: one row's inference may cost up to {bound:,} gas, over {limit} ({cap:,}): "
            "every prediction would be refused, so `ml2sc deploy` refuses this contract; "
            "try another --layout",
            file=sys.stderr,
        )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_layout_bench

    formats = (args.format,) if args.format != "all" else MODES
    layouts = (args.layout,) if args.layout != "all" else LAYOUTS
    if args.quick and args.suite not in ("sweep", "all"):
        raise ValueError(f"--quick shortens the sweep suite only, not --suite {args.suite}")
    if args.skip_mnist and args.suite not in ("layouts", "all"):
        raise ValueError(f"--skip-mnist applies to the layouts suite only, not --suite {args.suite}")
    if args.suite in ("layouts", "all"):
        run_layout_bench(
            Path(args.output), args.solc, not args.skip_mnist, args.rpc_url, formats, layouts, args.fork
        )
    if args.suite == "cnn":
        from .bench_cnn import run_cnn_bench

        return run_cnn_bench(Path(args.output), args.solc, args.rpc_url, formats, layouts, args.fork)
    if args.suite in ("sweep", "all"):
        from . import sweep
        from .bench import bench_session

        started = time.perf_counter()
        session = bench_session(args.rpc_url, args.fork)
        grid = list(sweep.quick_grid() if args.quick else sweep.default_grid())
        print(
            f"ml2sc bench: gas sweep over {len(grid)} architectures x formats x layouts on "
            f"{session.description}",
            file=sys.stderr,
        )
        rows = sweep.run_sweep(session, resolve_compiler(args.solc), grid, formats, layouts, args.fork)
        print(sweep.write_outputs(rows, Path(args.output)))
        print(
            f"\nsweep wall time {time.perf_counter() - started:.0f} s; "
            f"CSV, Markdown and PNG plots in {args.output}/"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.output), args.solc, as_json=args.json, fork=args.fork)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ml2sc",
        description="Turn an MLP (PyTorch, scikit-learn or ONNX) into an integer Solidity contract, "
        "deploy it, upload its weights and run inference on-chain with outputs identical to the Python "
        "emulator.",
        epilog=TRUST_NOTE,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "translate",
        help="write the Solidity source, weights and compiled artifact",
        description="Render the model's contract from the Jinja templates, compile it "
        "and write NAME.sol, NAME.weights.json and NAME.json (ABI + bytecode).",
        epilog=TRUST_NOTE,
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument(
        "-o", "--output", default="ml2sc-out", metavar="DIR", help="output folder (default ml2sc-out)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_numbers(p)
    _add_arch(p)
    _add_compiler(p)
    add_fork_arg(p)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser(
        "deploy",
        help="compile, deploy, store the weights; write a manifest",
        description="Deploy the model's contract and store its weights (owner-only slot "
        "uploads in block-sized chunks sealed by keccak256 of the weights, or "
        "data contracts pinned by the model contract's constructor). The "
        "manifest is saved after every transaction, and each transaction's hash before it "
        "goes out; re-running against the same RPC node resumes an interrupted deployment "
        "(a transaction in flight at Ctrl-C is looked up by its hash). Each transaction is "
        "priced by the gas model first and refused, with its estimate, if it cannot fit the "
        "block gas limit or the per-transaction cap (EIP-7825). Prints the cost (gas times "
        "the effective gas price of each receipt).",
        epilog=TRUST_NOTE,
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument(
        "-o",
        "--output",
        metavar="MANIFEST",
        help="manifest path (default: MODEL's name + .deployment.json, next to it)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="do not resume an unfinished deployment recorded in MANIFEST: start anew over it",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite MANIFEST even if it records a complete deployment (or is not a "
        "manifest): without it that is refused. --fresh concerns unfinished manifests, --force "
        "complete ones; an unfinished one of this model, settings and node is resumed unless --fresh",
    )
    p.add_argument("--json", action="store_true", help="print the manifest as one JSON object")
    _add_numbers(p)
    _add_arch(p)
    _add_compiler(p)
    _add_chain(p)
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser(
        "predict",
        help="run inference on-chain for every row of an input file",
        description="Predict every row of --input on-chain, in predictBatch calls that "
        "fit the block. MODEL_OR_MANIFEST is a model file (deployed first on a "
        "fresh embedded chain) or a manifest from `ml2sc deploy` (an RPC "
        "deployment is used where it stands, read-only through eth_call when no key is set: "
        "its gas figures are then the gas model's estimates). Each row's result is checked "
        "against the Python emulator; the exit code is 1 if any differs. When the float "
        "model is at hand (the model file, or the manifest's) the classes are compared with "
        "it, with a warning below 99% agreement; int8 inputs clamped by the input scales are "
        "counted, with a warning; a regression's largest difference from the float model is "
        "given as a share of the float outputs' range, with a warning above 1%. Before any call, "
        "an RPC manifest's contract is checked: the node's chain id, code at the address, its "
        "modelHash() and stored weights. The manifest's model file must lie in the manifest's "
        "folder: it is unpickled, and a manifest is data. --fork: default osaka for a model file; a "
        "manifest's fork is its own (before manifest version 5: prague), and a --fork that contradicts "
        "it is refused, as is a node (--rpc-url) that runs other rules.",
        epilog=TRUST_NOTE,
    )
    p.add_argument("model", metavar="MODEL_OR_MANIFEST")
    p.add_argument(
        "--model",
        dest="model_file",
        metavar="FILE",
        help="with a manifest: the deployed model's file, where the manifest's own is not in its folder "
        "(it must have the manifest's model hash)",
    )
    p.add_argument(
        "--input",
        required=True,
        metavar="FILE",
        help="CSV (one row per sample, features only; a header line is skipped) or .npy",
    )
    p.add_argument(
        "--batch",
        type=positive_int,
        metavar="N",
        help="rows per call (default: as many as fit 90%% of a 30M-gas block, or under Osaka of its "
        "per-transaction cap, 2**24)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: predictions (classifiers only), outputs, gas_used (inference "
        "receipts, summed), gas_per_call, rows_per_call, gas_source (receipts or the gas model's "
        "estimate), cost_wei (null when nothing was paid), agreement_with_float, float_max_error, "
        "float_output_range, float_error_share, clamped_inputs, deploy_gas, upload_gas",
    )
    _add_numbers(p)
    _add_arch(p)
    _add_compiler(p)
    _add_chain(p)
    p.set_defaults(func=cmd_predict, fork=None)  # None: a manifest's fork, else the default

    p = sub.add_parser(
        "verify",
        aliases=["verify-weights"],
        help="check a deployment against a model file",
        description="Recompute the model commitment from MODEL with the manifest's settings: "
        "the model description (layer sizes, activations and their constants, number "
        "format and scales, head, layout), the weights hash and the model hash. "
        "Compare them with the manifest and, for RPC deployments, with the contract: "
        "its modelHash() and weightsHash(), its runtime bytecode against a fresh "
        "compile (immutables masked), the data contracts it names itself "
        "(dataContracts(), code layout) and the weights read back from chain. Every "
        'difference is named ("activation of layer 1 differs", "weights differ", '
        '"bytecode differs", "model file changed since deploy"); an unfinished deployment is '
        "reported as incomplete, with the steps it lacks. Needs no key. Exit codes: 0 match; "
        "1 mismatch (something differs; also any error, printed as one line); 2 bad arguments; "
        "3 incomplete deployment (nothing differs, steps are missing); 4 not checked on chain (an "
        "embedded-chain deployment, gone with its process: the model file and the manifest agree, "
        "which is no proof of a contract). The contract is recompiled for the manifest's fork (before "
        "manifest version 5: prague); a --fork that contradicts it is refused.",
        epilog=TRUST_NOTE,
    )
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_arch(p)
    _add_compiler(p)
    _add_chain(p)
    p.set_defaults(func=cmd_verify, fork=None)  # None: the manifest's fork

    p = sub.add_parser(
        "estimate",
        help="predict deploy, upload and inference gas before deploying",
        description="Predict the receipt gas of the deployment, of each weight-upload "
        "transaction and of one inference, term by term, from the plan and the "
        "--fork's gas schedule (EIP-7623 calldata floor where the fork has it) and per-transaction cap "
        "(Osaka: uploads in chunks under 2**24 gas), and a grand total. "
        "Nothing is deployed. The inference row is a typical one: the median row (the row "
        "nearest the per-feature medians) of --input, else of the int8 --calibrate rows, "
        "else an all-zero row (said so in the output). --range adds the cheapest and the "
        "dearest row; the upper bound holds for any row.",
        epilog=TRUST_NOTE,
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument(
        "--input", metavar="FILE", help="rows (CSV or .npy): their median row is the inference row"
    )
    p.add_argument(
        "--row",
        type=int_at_least(0),
        metavar="N",
        help="price row N of --input (0-based) instead of the median row",
    )
    p.add_argument(
        "--range",
        action="store_true",
        help="also price every row of --input (else of the int8 --calibrate rows) and report "
        "the cheapest and the dearest",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: deploy, upload (one per transaction), inference, breakdown",
    )
    _add_numbers(p)
    _add_arch(p)
    _add_compiler(p)
    add_fork_arg(p)
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser(
        "bench",
        help="measured gas: every format x layout, and a sweep against the model",
        description="layouts suite: train a 64-32-10 MLP on scikit-learn's digits and "
        "measure, for each number format and weight layout, weight-storage gas "
        "per parameter, inference gas per multiply-accumulate and bytecode "
        "size; then one 784-256-128-10 inference. sweep suite: deploy, upload "
        "and infer over a grid of MLPs, compare every receipt with the gas "
        "model, fit linear slopes. cnn suite (not part of all): a CNN trained on the digits, LeNet-5 "
        "on 28x28 input and a Conv1d model, gas per inference and per MAC, bytecode, agreement with "
        "torch, against the published on-chain CNN figures. Writes CSV, Markdown and PNG plots.",
    )
    p.add_argument("-o", "--output", default="results", metavar="DIR", help="output folder (default results)")
    p.add_argument(
        "--suite",
        choices=("layouts", "sweep", "cnn", "all"),
        default="all",
        help="layouts: the 64-32-10 digits table (+ 784-256-128-10); sweep: measured vs "
        "modelled gas over depth 1-4 x width 1-64 x inputs 4-64 with plots; cnn: convolutional "
        "models (digits CNN, LeNet-5, Conv1d); all: layouts and sweep (default)",
    )
    p.add_argument(
        "--quick", action="store_true", help="sweep suite: a 3-architecture grid instead of 21 (a smoke run)"
    )
    p.add_argument(
        "--skip-mnist",
        action="store_true",
        help="layouts suite: skip the 784-256-128-10 measurement (int8, code layout: it is also left out "
        "when --format or --layout excludes that pair)",
    )
    p.add_argument(
        "--format", choices=(*MODES, "all"), default="all", help="number format(s) to measure (default all)"
    )
    p.add_argument(
        "--layout", choices=(*LAYOUTS, "all"), default="all", help="weight layout(s) to measure (default all)"
    )
    p.add_argument(
        "--rpc-url",
        default=None,
        help=f"run on this node instead of the embedded chain (key from ${chain.PRIVATE_KEY_ENV})",
    )
    _add_compiler(p)
    add_fork_arg(p, node=True)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "demo",
        help="train a breast-cancer MLP and run it on the embedded chain",
        description="Train a small MLP on scikit-learn's bundled breast-cancer data (fixed "
        "seed), deploy it on the embedded chain, predict every test row "
        "on-chain and print the comparison table.",
    )
    p.add_argument(
        "-o",
        "--output",
        default="out/demo",
        metavar="DIR",
        help="where the model, contract and manifest go (default out/demo)",
    )
    p.add_argument("--json", action="store_true", help="print the table as one JSON object")
    _add_compiler(p)
    add_fork_arg(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except USER_ERRORS as exc:
        print(f"ml2sc: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "ml2sc: interrupted (a deployment's manifest holds its progress, and the hash of a "
            "transaction in flight: run the same deploy again to resume)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
