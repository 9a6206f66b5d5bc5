"""Fit the opcode costs of verkle's gas model from receipts; write verkle/gas_costs.json.

    python -m verkle.calibrate [--fork prague,osaka] [--output FILE | --dry-run] [--save FILE] [--verbose]

Like ml2sc.calibrate for ml2sc: run it again after changing a verifier template or the
compiler. Per fork (each compiles its own bytecode: Osaka's verifiers use CLZ), it builds small trees
of several widths (random and clustered keys, so paths run from one level to many and end in every
kind of slot), sends verifications of 1 to 200 keys on every path to a local anvil under that fork's
rules, subtracts what gasmodel computes exactly for the fork (intrinsic and calldata gas, precompiles,
root SLOADs, memory), and fits the rest per path by least squares over gasmodel.FEATURES. The file
keeps one section per fork; a run leaves the other forks' sections as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evmkit import chain
from evmkit import gas as G
from evmkit.anvil import start_anvil
from evmkit.cliargs import name_list
from evmkit.forks import FORKS, Fork, get_fork
from verkle import gasmodel
from verkle.contract import compile_merkle
from verkle.merkle import MerkleTree
from verkle.onchain import deploy_contract, deploy_merkle
from verkle.proof import SINGLE
from verkle.prover import prove_multi, prove_single
from verkle.schemes import SCHEMES, load_scheme
from verkle.tree import VerkleTree
from verkle.verifier_paths import paths_for, verifier_args

OUT = gasmodel.COSTS_FILE
# the widths each scheme is fitted at, and the tree sizes (BN254's pure-Python prover keeps its small)
WIDTHS = {"kzg-bls12-381": (16, 64, 256, 1024, 4096), "kzg-bn254": (16, 64)}
SIZES = {"kzg-bls12-381": (64, 700, 3000), "kzg-bn254": (40, 200)}


def pairs_for(rng: random.Random, n: int, clustered: bool) -> list[tuple[bytes, bytes]]:
    """n random pairs, or n sharing a 29-byte stem (deep paths, keys next to each other)."""
    if not clustered:
        return [(rng.randbytes(32), rng.randbytes(32)) for _ in range(n)]
    stem = rng.randbytes(29)
    return [
        (stem + rng.randbytes(1) + bytes([rng.randrange(8)]) + rng.randbytes(1), rng.randbytes(32))
        for _ in range(n)
    ]


def measure(session: chain.ChainSession, contract, function: str, args: list) -> int:
    """A valid proof's receipt gas."""
    data = bytes.fromhex(contract.encode_abi(function, args=args).removeprefix("0x"))
    assert session.call(contract, function, *args), "a valid proof failed on-chain"
    return session.send(contract.address, data, abi=contract.abi).gas_used


def traced_execution(session: chain.ChainSession, tx_hash: str) -> int:
    """Execution gas from a step trace: gas at the first step minus gas left after the last."""
    trace = session.w3.provider.make_request(
        "debug_traceTransaction",
        [tx_hash, {"disableStorage": True, "disableStack": True, "disableMemory": True}],
    )
    logs = trace["result"]["structLogs"]
    return logs[0]["gas"] - (logs[-1]["gas"] - logs[-1]["gasCost"])


def residual(shape, gas_used: int, fork: Fork | None = None) -> float:
    """Execution gas the exact terms leave unexplained under ``fork``: what the fit must account for."""
    execution = gas_used - G.intrinsic_gas(shape.data)
    return execution - sum(gasmodel.fixed_terms(shape, fork).values())


fork_list = name_list(list(FORKS), "fork")
"""--fork's comma-separated names, each a fork of evmkit.forks (argparse type)."""


DEFAULT_FORKS = "prague,osaka"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; `--help` exits here, before anything is measured or written."""
    parser = argparse.ArgumentParser(
        prog="python -m verkle.calibrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--fork",
        type=fork_list,
        default=fork_list(DEFAULT_FORKS),
        metavar="NAMES",
        help=f"the forks to fit, comma separated (default {DEFAULT_FORKS}; a fork without its own "
        "section, cancun, uses the nearest older one's, which compiles to the same bytecode)",
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "--output",
        metavar="FILE",
        type=Path,
        default=OUT,
        help=f"where the fitted costs go (default: the package's own {OUT.name}, which the gas model reads)",
    )
    out.add_argument(
        "--dry-run",
        action="store_true",
        help="measure, fit and report the model's errors; write no costs file",
    )
    parser.add_argument(
        "--save",
        metavar="FILE",
        default=os.environ.get("CALIBRATE_DUMP"),
        help="also keep the measurements (pickle) (default: $CALIBRATE_DUMP when set)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=bool(os.environ.get("CALIBRATE_VERBOSE")),
        help="list each fit's worst points (default: on when $CALIBRATE_VERBOSE is set)",
    )
    return parser.parse_args(argv)


def measure_fork(fork: Fork, rng: random.Random, merkle: bool = True) -> dict[tuple[str, int], list]:
    """Every calibration measurement under ``fork``'s rules: (path, width) -> rows of (features,
    residual, receipt gas, shape); the Merkle baseline's under width 0 (unless ``merkle`` is False)."""
    rows: dict[tuple[str, int], list] = {}
    with start_anvil(gas_limit=200_000_000, hardfork=fork.anvil_hardfork) as node:
        os.environ["CALIBRATE_KEY"] = node.private_keys[0]
        session = chain.rpc(node.url, "CALIBRATE_KEY", fork=fork)
        schemes = [
            load_scheme(s.name, w, insecure_dev_setup_ok=True)
            for s in SCHEMES.values()
            if s.name in schemes_under(fork)
            for w in WIDTHS[s.name]
        ]
        for scheme in schemes:
            paths = paths_for(scheme.name)
            for size in SIZES[scheme.name]:
                for clustered in (False, True):
                    pairs = pairs_for(rng, size, clustered)
                    tree = VerkleTree.build(scheme, pairs, workers=1)
                    contract, _ = deploy_contract(session, scheme, tree.root_commitment, fork=fork)
                    keys = [k for k, _ in pairs]
                    for count in (1, 2, 5, 17, 60, 150):
                        if count > size:
                            continue
                        chosen = rng.sample(keys, count)
                        chosen += [k[:-1] + bytes([k[-1] ^ 1]) for k in rng.sample(keys, max(1, count // 5))]
                        chosen += [rng.randbytes(32) for _ in range(max(1, count // 5))]
                        doc = prove_multi(tree, chosen)
                        for path in (p.name for p in paths if p.proof_type != SINGLE):
                            function, args = verifier_args(doc, path)
                            shape = gasmodel.shape_of(doc, path)
                            used = measure(session, contract, function, args)
                            rows.setdefault((path, scheme.width), []).append(
                                (gasmodel.features(shape), residual(shape, used, fork), used, shape)
                            )
                    singles = [p.name for p in paths if p.proof_type == SINGLE]
                    for key in (rng.sample(keys, 4) + [rng.randbytes(32)]) if singles else ():
                        doc = prove_single(tree, key)
                        for path in singles:
                            function, args = verifier_args(doc, path)
                            shape = gasmodel.shape_of(doc, path)
                            used = measure(session, contract, function, args)
                            rows.setdefault((path, scheme.width), []).append(
                                (gasmodel.features(shape), residual(shape, used, fork), used, shape)
                            )
            print(f"{fork.name}: measured {scheme.name} width {scheme.width}", flush=True)
    if merkle:
        rows.update(measure_merkle(fork, rng))
    return rows


def measure_merkle(fork: Fork, rng: random.Random) -> dict[tuple[str, int], list]:
    """The Merkle baseline's rows under ``fork``. Its multiproof transactions pay the EIP-7623 calldata
    floor (bool[] flags are mostly zero bytes), so receipts hide the execution gas; a step trace shows
    it (anvil keeps every trace: some 10 GB by the end, so one such node at a time)."""
    rows: dict[tuple[str, int], list] = {}
    with start_anvil(
        gas_limit=200_000_000, extra_args=("--steps-tracing",), hardfork=fork.anvil_hardfork
    ) as node:
        os.environ["CALIBRATE_KEY"] = node.private_keys[0]
        session = chain.rpc(node.url, "CALIBRATE_KEY", fork=fork)
        for size in (64, 1000, 5000, 20000):
            pairs = pairs_for(rng, size, False)
            tree = MerkleTree(pairs)
            contract, _ = deploy_merkle(session, tree, fork=fork)
            for count in (1, 2, 9, 40, 150, 600):
                chosen = rng.sample(pairs, min(count, size))
                for shape in ([gasmodel.merkle_shape_single(tree, *chosen[0])] if count == 1 else []) + [
                    gasmodel.merkle_shape_multi(tree, chosen)
                ]:
                    receipt = session.send(contract.address, shape.data, abi=contract.abi)
                    execution = traced_execution(session, receipt.tx_hash)
                    fixed = sum(gasmodel.merkle_estimate_fixed(shape).values())
                    rows.setdefault((shape.path, 0), []).append(
                        (gasmodel.merkle_features(shape), execution - fixed, receipt.gas_used, shape)
                    )
    print(f"{fork.name}: measured the Merkle baseline", flush=True)
    return rows


def merkle_code(fork: Fork) -> bytes:
    """The Merkle baseline's runtime code under ``fork`` less solc's metadata (which covers the
    evmVersion setting): forks that compile it alike share one measurement."""
    code = compile_merkle(fork=fork).deployed_bytecode
    return code[: -(int.from_bytes(code[-2:], "big") + 2)]


def schemes_under(fork: Fork) -> list[str]:
    """The schemes whose verifiers run under ``fork``'s rules."""
    out = []
    for s in SCHEMES.values():
        try:
            s.check_fork(fork)
        except ValueError:
            continue
        out.append(s.name)
    return out


def fit(rows: dict[tuple[str, int], list], fork: Fork, verbose: bool) -> dict[str, dict]:
    """Least squares per (path, width) over one fork's rows; prints each fit's worst model error."""
    fitted: dict[str, dict] = {}
    for (path, width), data in rows.items():
        names = list(data[0][0])
        # where the EIP-7623 floor binds, a receipt says nothing about execution: the Merkle rows
        # carry traced execution gas; any other floor-bound row is left out of the fit
        fit_rows = (
            data
            if path.startswith("merkle") or not fork.calldata_floor
            else [d for d in data if d[2] != G.floor_gas(d[3].data)]
        )
        x = np.array([[f[n] for n in names] for f, _, _, _ in fit_rows], dtype=float)
        y = np.array([r for _, r, _, _ in fit_rows], dtype=float)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        result = {n: round(float(c), 3) for n, c in zip(names, coef)}
        if path.startswith("merkle"):
            fitted[path] = result
        else:
            fitted.setdefault(path, {})[str(width)] = result

    for (path, width), data in rows.items():
        errors = []
        for _, _, used, shape in data:
            est = (
                gasmodel.merkle_estimate(shape, fitted, fork)
                if path.startswith("merkle")
                else gasmodel.estimate(shape, fitted, fork)
            )
            errors.append(abs(est.total - used) / used)
        print(
            f"{fork.name:7s} {path:22s} width {width:5d} {len(data):4d} points, "
            f"worst model error {100 * max(errors):.3f}%"
        )
        if verbose:
            for err, (_, _, used, shape) in sorted(zip(errors, data), key=lambda e: -e[0])[:4]:
                print(
                    f"    {100 * err:.3f}% measured {used} width {getattr(shape, 'width', '-')} "
                    f"keys {getattr(shape, 'keys', '-')} openings {getattr(shape, 'openings', '-')} "
                    f"listed {getattr(shape, 'listed', '-')}"
                )
    return fitted


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sections: dict[str, dict] = {}
    measured: dict[str, dict] = {}
    merkle_rows: dict[bytes, dict] = {}  # by the Merkle baseline's code: forks that share it, share these
    for name in args.fork:
        fork = get_fork(name)
        rng = random.Random(7)
        rows = measure_fork(fork, rng, merkle=False)
        code = merkle_code(fork)
        if code not in merkle_rows:
            merkle_rows[code] = measure_merkle(fork, rng)
        else:
            print(f"{fork.name}: the Merkle baseline compiles as before: its measurements are reused")
        rows.update(merkle_rows[code])
        measured[name] = rows
        if args.save:  # after each fork: an interruption keeps what was measured
            import pickle

            Path(args.save).write_bytes(pickle.dumps(measured))
        sections[name] = fit(rows, fork, args.verbose)
    if args.dry_run:
        print("dry run: no costs file written")
        return 0
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    stored = {k: v for k, v in previous.items() if k in FORKS and k not in sections}
    stored.update(sections)
    ordered = {k: stored[k] for k in FORKS if k in stored}
    args.output.write_text(json.dumps(ordered, indent=1) + "\n")
    print(f"wrote {', '.join(sections)} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
