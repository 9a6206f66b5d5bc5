"""``ml2sc``: PyTorch MLP -> fixed-point Solidity contract -> deployment -> on-chain inference."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from evmkit import chain
from evmkit.chain import ChainSession, TxResult
from evmkit.errors import EvmkitError
from evmkit.solc import resolve_compiler

from . import workflow
from .capture import ModelLoadError, UnsupportedModel
from .evm_int import EvmPanic
from .fixed import DEFAULT_FRAC_BITS, DEFAULT_WEIGHT_BITS, FixedFormat, FormatOverflow
from .inputs import InputError, read_rows
from .manifest import Manifest, ManifestError
from .plan import PlanError, encode_weights, weights_hash
from evmkit.table import print_table

TRUST_NOTE = (
    "MODEL is a file written by torch.save(model) (the whole module) or torch.jit.save. "
    "torch.save files are unpickled, which can run code: load only files you trust."
)
USER_ERRORS = (
    EvmkitError,
    UnsupportedModel,
    ModelLoadError,
    FormatOverflow,
    InputError,
    ManifestError,
    PlanError,
    EvmPanic,
    ValueError,
)


def _add_format(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("number format")
    g.add_argument("--frac-bits", type=int, default=DEFAULT_FRAC_BITS,
                   help=f"fractional bits of the fixed-point format (default {DEFAULT_FRAC_BITS}, "
                        "close to PRBMath SD59x18's 1e18)")
    g.add_argument("--weight-bits", type=int, default=DEFAULT_WEIGHT_BITS,
                   help=f"signed width every weight and bias must fit (default {DEFAULT_WEIGHT_BITS})")


def _add_compiler(p: argparse.ArgumentParser) -> None:
    p.add_argument("--solc", metavar="PATH",
                   help="a solc binary or solc-js package folder (default: $SOLC, then a native "
                        "solc from py-solc-x, then the project's npm solc-js)")


def _add_chain(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("chain")
    g.add_argument("--rpc-url", default=os.environ.get(chain.RPC_URL_ENV),
                   help=f"JSON-RPC node to use (default ${chain.RPC_URL_ENV}; unset: a fresh "
                        "embedded py-evm chain)")
    g.add_argument("--private-key-env", default=chain.PRIVATE_KEY_ENV, metavar="NAME",
                   help=f"environment variable holding the sender's hex private key for --rpc-url "
                        f"(default {chain.PRIVATE_KEY_ENV}; keys are never taken as arguments)")
    g.add_argument("--gas-limit", type=int, default=chain.DEFAULT_BLOCK_GAS_LIMIT,
                   help="block gas limit of the embedded chain (default 30,000,000)")


def _fmt(args: argparse.Namespace) -> FixedFormat:
    return FixedFormat(args.frac_bits, args.weight_bits)


def _session(args: argparse.Namespace) -> tuple[ChainSession, dict[str, Any]]:
    if args.rpc_url:
        session = chain.rpc(args.rpc_url, args.private_key_env)
        return session, {"kind": "rpc", "rpc_url": args.rpc_url, "chain_id": session.w3.eth.chain_id}
    return chain.embedded(args.gas_limit), {"kind": "embedded"}


def _progress(quiet: bool):
    def report(label: str, tx: TxResult) -> None:
        if not quiet:
            print(f"  {label:<24} gas {tx.gas_used:>12,}  {tx.tx_hash}", file=sys.stderr)

    return report


# -- commands ---------------------------------------------------------------------------


def cmd_translate(args: argparse.Namespace) -> int:
    t = workflow.translate(Path(args.model), _fmt(args), resolve_compiler(args.solc))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    name = t.compiled.contract_name
    sol = out / f"{name}.sol"
    sol.write_text(t.compiled.source)
    weights_file = out / f"{name}.weights.json"
    weights_file.write_text(json.dumps({
        "architecture": t.plan.architecture,
        "number_format": workflow.format_json(t.plan.fmt),
        "encoding": "int256 big-endian words, per dense layer: W row by row, then biases",
        "weights_hash": "0x" + weights_hash(t.plan.weights).hex(),
        "weights": list(t.plan.weights),
    }) + "\n")
    artifact = out / f"{name}.json"
    artifact.write_text(json.dumps({
        "contractName": name,
        "compiler": t.compiler.describe(),
        "abi": t.compiled.artifact.abi,
        "bytecode": "0x" + t.compiled.artifact.bytecode.hex(),
    }) + "\n")
    summary = {
        "contract": str(sol), "weights": str(weights_file), "artifact": str(artifact),
        "architecture": t.plan.architecture, "format": t.plan.fmt.name,
        "n_weights": len(t.plan.weights),
        "runtime_bytes": len(t.compiled.artifact.deployed_bytecode),
        "weights_bytes": len(encode_weights(t.plan.weights)),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print_table([(k, v) for k, v in summary.items()])
    return 0


def _manifest_path(args: argparse.Namespace) -> Path:
    if args.output:
        return Path(args.output)
    model = Path(args.model)
    return model.with_name(model.stem + ".deployment.json")


def cmd_deploy(args: argparse.Namespace) -> int:
    t = workflow.translate(Path(args.model), _fmt(args), resolve_compiler(args.solc))
    session, info = _session(args)
    path = _manifest_path(args)
    manifest, _ = workflow.deploy(session, t, path, info, _progress(args.json), resume=not args.fresh)
    if args.json:
        print(json.dumps({**manifest.to_json(), "manifest": str(path)}))
    else:
        print_table([
            ("contract", f"{manifest.contract_name} at {manifest.address}"),
            ("chain", session.description),
            ("architecture", f"{manifest.architecture} ({t.plan.fmt.name})"),
            ("weights", f"{manifest.n_weights} (hash {manifest.weights_hash})"),
            ("gas: deploy", f"{manifest.gas('deploy'):,}"),
            ("gas: upload", f"{manifest.gas('upload') + manifest.gas('finalize'):,} in "
                            f"{sum(1 for x in manifest.transactions if x.label != 'deploy')} tx"),
            ("manifest", str(path)),
        ])
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    rows = read_rows(args.input)
    target = Path(args.model)
    deploy_gas: dict[str, int] = {}
    if target.suffix == ".json":
        manifest = Manifest.load(target)
        fmt = workflow.format_from_json(manifest.number_format)
        if manifest.chain.get("kind") == "rpc":
            args.rpc_url = args.rpc_url or manifest.chain["rpc_url"]
            session, _ = _session(args)
            plan = workflow.plan_model(Path(manifest.model_path), fmt)
            contract = workflow.attach(session, manifest.address or "", manifest.abi)
        else:  # an embedded chain lives only as long as its process: deploy again
            args.model, args.frac_bits, args.weight_bits = manifest.model_path, fmt.frac_bits, fmt.weight_bits
            session, plan, contract, deploy_gas = _deploy_fresh(args)
    else:
        session, plan, contract, deploy_gas = _deploy_fresh(args)
    result = workflow.predict(session, contract, plan, rows)
    report = {
        "predictions": result.predictions,
        "outputs": result.outputs,
        "gas_used": result.gas_used,
        "gas_per_row": result.gas_per_row,
        "emulator_agrees": all(result.emulator_agrees),
        **deploy_gas,
    }
    if args.json:
        print(json.dumps(report))
    else:
        body = [(str(i), str(c), ", ".join(f"{v:.6g}" for v in out), f"{g:,}")
                for i, (c, out, g) in enumerate(zip(result.predictions, result.outputs, result.gas_per_row))]
        print_table(body, header=("row", "class", "outputs", "gas"))
        print(f"inference gas, all rows: {result.gas_used:,}; on-chain == emulator: "
              f"{sum(result.emulator_agrees)}/{len(rows)}")
    return 0 if all(result.emulator_agrees) else 1


def _deploy_fresh(args: argparse.Namespace):
    """Deploy ``args.model`` on a fresh embedded chain (predict's path for model files)."""
    if args.rpc_url:
        raise ManifestError("with --rpc-url, deploy first (`ml2sc deploy`) and pass its manifest")
    t = workflow.translate(Path(args.model), _fmt(args), resolve_compiler(args.solc))
    session, info = _session(args)
    manifest, contract = workflow.deploy(session, t, None, info, resume=False)
    gas = {"deploy_gas": manifest.gas("deploy"),
           "upload_gas": manifest.gas("upload") + manifest.gas("finalize")}
    return session, t.plan, contract, gas


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.output), args.solc, as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ml2sc",
        description="Turn a PyTorch MLP into a fixed-point Solidity contract, deploy it, upload its "
                    "weights and run inference on-chain with outputs identical to the Python emulator.",
        epilog=TRUST_NOTE,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("translate", help="write the Solidity source, weights and compiled artifact",
                       description="Render the model's contract from the Jinja template, compile it "
                                   "and write NAME.sol, NAME.weights.json and NAME.json (ABI + bytecode).",
                       epilog=TRUST_NOTE)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-o", "--output", default="ml2sc-out", metavar="DIR", help="output folder (default ml2sc-out)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_format(p)
    _add_compiler(p)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("deploy", help="compile, deploy, upload weights; write a manifest",
                       description="Deploy the model's contract and upload its weights (owner-only, in "
                                   "block-sized chunks, sealed by the weights' keccak256). The manifest "
                                   "is saved after every transaction; re-running resumes an interrupted "
                                   "upload on the same RPC node.",
                       epilog=TRUST_NOTE)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-o", "--output", metavar="MANIFEST",
                   help="manifest path (default: MODEL's name + .deployment.json, next to it)")
    p.add_argument("--fresh", action="store_true", help="deploy anew even if a resumable manifest exists")
    p.add_argument("--json", action="store_true", help="print the manifest as one JSON object")
    _add_format(p)
    _add_compiler(p)
    _add_chain(p)
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("predict", help="run inference on-chain for every row of an input file",
                       description="Predict every row of --input on-chain. MODEL_OR_MANIFEST is a model "
                                   "file (deployed first on a fresh embedded chain) or a manifest from "
                                   "`ml2sc deploy` (an RPC deployment is used where it stands). Each "
                                   "row's result is checked against the Python emulator.",
                       epilog=TRUST_NOTE)
    p.add_argument("model", metavar="MODEL_OR_MANIFEST")
    p.add_argument("--input", required=True, metavar="FILE",
                   help="CSV (one row per sample, features only; a header line is skipped) or .npy")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: predictions, outputs, gas_used (inference receipts, "
                        "summed over rows), gas_per_row, deploy_gas, upload_gas")
    _add_format(p)
    _add_compiler(p)
    _add_chain(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("demo", help="train a breast-cancer MLP and run it on the embedded chain",
                       description="Train a small MLP on scikit-learn's bundled breast-cancer data (fixed "
                                   "seed), deploy it on the embedded chain, predict every test row "
                                   "on-chain and print the comparison table.")
    p.add_argument("-o", "--output", default="out/demo", metavar="DIR",
                   help="where the model, contract and manifest go (default out/demo)")
    p.add_argument("--json", action="store_true", help="print the table as one JSON object")
    _add_compiler(p)
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
        print("ml2sc: interrupted (a deployment's manifest holds its progress)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
