"""`verkle bench --onchain`: verification gas of every path against the Merkle baseline, measured in one run.

Trees of 2^10 to 2^20 random keys (BLS12-381 at widths 256 and 4096; BN254 at 2^10, its pure-Python
prover being slow), keys per proof from 1 to 1,024 (members, so Merkle can prove them too), under one
fork's rules (`--fork`, default Osaka: anvil --hardfork, the embedded chain, the compiled verifiers and
the gas model all follow it; BLS12-381 is left out before Prague). Every verification is a transaction
on anvil (from npm); the smallest trees are also verified on the embedded py-evm chain and both gas
figures are recorded (they must agree). The gas model's prediction sits beside every measurement; a
verification it prices over the fork's per-transaction cap (EIP-7825's 2**24 under Osaka) is not sent,
and listed as such. Writes CSV, Markdown and PNG plots.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.forks import FORKS, Fork, get_fork
from evmkit.table import format_table

from . import gasmodel
from .merkle import MerkleTree
from .onchain import deploy_contract, deploy_merkle, merkle_multi, merkle_single
from .proof import SINGLE
from .prover import prove_multi, prove_single
from .schemes import SCHEMES, load_scheme
from .tree import VerkleTree
from .verifier_paths import PATHS, paths_for, verifier_args

COLUMNS = [
    "fork",
    "scheme",
    "width",
    "leaves",
    "keys",
    "path",
    "chain",
    "gas",
    "gas_per_key",
    "calldata_bytes",
    "calldata_per_key",
    "model_gas",
    "model_error_pct",
    "embedded_gas",
]
MPT_STORAGE_PROOF_GAS = 200_000  # the figure the issue cites for an Ethereum MPT storage proof on-chain
# paths that prove one key at a time: left out of the per-key plots
ONE_KEY_PATHS = {p.name for p in PATHS.values() if p.proof_type == SINGLE} | {"merkle-single"}
EMBEDDED_MAX_KEYS = 16  # py-evm runs EIP-2537 in pure Python: the cross-check stays small


def _send(session: chain.ChainSession, contract: Any, function: str, args: list) -> tuple[bool, int, int]:
    data = bytes.fromhex(contract.encode_abi(function, args=args).removeprefix("0x"))
    valid = bool(session.call(contract, function, *args))
    return valid, session.send(contract.address, data, abi=contract.abi).gas_used, len(data)


class Sessions:
    """The node every figure comes from: anvil (from npm) under the fork's rules, or the one --rpc-url
    names (refused unless it runs them)."""

    def __init__(self, stack: ExitStack, rpc_url: str | None, fork: Fork) -> None:
        if rpc_url:
            self.main = chain.rpc(rpc_url, fork=fork)
        else:
            node = stack.enter_context(start_anvil(gas_limit=500_000_000, hardfork=fork.anvil_hardfork))
            os.environ["VERKLE_BENCH_KEY"] = node.private_keys[0]
            self.main = chain.rpc(node.url, "VERKLE_BENCH_KEY", fork=fork)
        self.name = "rpc" if rpc_url else "anvil"
        self.fork = fork
        self.over_cap: list[str] = []  # verifications the model prices over the cap: not sent


def _row(
    fork: str,
    scheme: str,
    width: int,
    leaves: int,
    keys: int,
    path: str,
    chain_name: str,
    gas: int,
    size: int,
    model: int,
    embedded: int | None,
) -> dict[str, Any]:
    return {
        "fork": fork,
        "scheme": scheme,
        "width": width,
        "leaves": leaves,
        "keys": keys,
        "path": path,
        "chain": chain_name,
        "gas": gas,
        "gas_per_key": round(gas / keys),
        "calldata_bytes": size,
        "calldata_per_key": round(size / keys),
        "model_gas": model,
        "model_error_pct": round(100 * (model - gas) / gas, 3),
        "embedded_gas": embedded if embedded else "",
    }


def _measure_tree(
    sessions: Sessions,
    scheme_name: str,
    width: int,
    log_n: int,
    key_counts: list[int],
    embedded: bool,
    seed: int,
    with_merkle: bool,
) -> list[dict[str, Any]]:
    """One tree: every path for every key count, and (once per size) the Merkle twin over the same
    pairs and the same chosen keys (the pairs and the choices depend on the size only)."""
    pairs_rng = random.Random(seed * 1000 + log_n)
    pairs = [(pairs_rng.randbytes(32), pairs_rng.randbytes(32)) for _ in range(2**log_n)]
    rng = random.Random(seed * 7919 + log_n)
    scheme = load_scheme(scheme_name, width, insecure_dev_setup_ok=True)
    tree = VerkleTree.build(scheme, pairs, progress=False)
    rows = []
    fork = sessions.fork
    cap = sessions.main.gas_cap
    targets = [("main", sessions.main)]
    embedded_chain = chain.embedded(block_gas_limit=500_000_000, fork=fork) if embedded else None
    if embedded_chain is not None:
        targets.append(("embedded", embedded_chain))
    verifiers = {name: deploy_contract(s, scheme, tree.root_commitment, fork=fork)[0] for name, s in targets}
    merkle = MerkleTree(pairs) if with_merkle else None
    merkle_contracts = {name: deploy_merkle(s, merkle, fork=fork)[0] for name, s in targets} if merkle else {}

    def fits(path: str, count: int, model: int) -> bool:
        if model <= cap:
            return True
        sessions.over_cap.append(
            f"{path}, {count} keys, 2^{log_n} leaves, width {width}: {model:,} gas predicted, over the "
            f"cap {cap:,}"
        )
        return False

    for count in key_counts:
        if count > len(pairs):
            continue
        chosen = rng.sample(pairs, count)
        doc = prove_multi(tree, [k for k, _ in chosen])
        # every multiproof path; single-proof paths for one key only (after the others, as the tables expect)
        paths = sorted(paths_for(scheme_name), key=lambda p: p.proof_type == SINGLE)
        wants_single = count == 1 and any(p.proof_type == SINGLE for p in paths)
        single = prove_single(tree, chosen[0][0]) if wants_single else None
        jobs = [
            (p.name, single if p.proof_type == SINGLE else doc)
            for p in paths
            if p.proof_type != SINGLE or single is not None
        ]
        for path, d in jobs:
            function, args = verifier_args(d, path)
            model = gasmodel.estimate(gasmodel.shape_of(d, path), fork=fork).total
            if not fits(path, count, model):
                continue
            measured = {}
            for name, session in targets:
                if name == "embedded" and count > EMBEDDED_MAX_KEYS:
                    continue
                valid, gas, size = _send(session, verifiers[name], function, args)
                if not valid:
                    raise RuntimeError(f"a valid proof failed on-chain ({path}, {name})")
                measured[name] = (gas, size)
            gas, size = measured["main"]
            rows.append(
                _row(
                    fork.name,
                    scheme_name,
                    width,
                    len(pairs),
                    count,
                    path,
                    sessions.name,
                    gas,
                    size,
                    model,
                    measured.get("embedded", (None,))[0],
                )
            )
        if merkle is not None:
            for path in (["merkle-single"] if count == 1 else []) + ["merkle-multi"]:
                shape = (
                    gasmodel.merkle_shape_single(merkle, *chosen[0])
                    if path == "merkle-single"
                    else gasmodel.merkle_shape_multi(merkle, chosen)
                )
                model = gasmodel.merkle_estimate(shape, fork=fork).total
                if not fits(path, count, model):
                    continue
                measured = {}
                for name, session in targets:
                    if name == "embedded" and count > EMBEDDED_MAX_KEYS:
                        continue
                    result = (
                        merkle_single(session, merkle_contracts[name], merkle, *chosen[0])
                        if path == "merkle-single"
                        else merkle_multi(session, merkle_contracts[name], merkle, chosen)
                    )
                    if not result.valid:
                        raise RuntimeError(f"a valid Merkle proof failed on-chain ({name})")
                    measured[name] = (result.gas, result.calldata_bytes)
                gas, size = measured["main"]
                rows.append(
                    _row(
                        fork.name,
                        "keccak-merkle",
                        2,
                        len(pairs),
                        count,
                        path,
                        sessions.name,
                        gas,
                        size,
                        model,
                        measured.get("embedded", (None,))[0],
                    )
                )
    return rows


def crossovers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (leaves, width): the fewest keys at which the cheapest Verkle path costs less than Merkle."""
    out = []
    for leaves in sorted({r["leaves"] for r in rows if r["scheme"] == "kzg-bls12-381"}):
        merkle = {r["keys"]: r["gas"] for r in rows if r["leaves"] == leaves and r["path"] == "merkle-multi"}
        for width in sorted(
            {r["width"] for r in rows if r["scheme"] == "kzg-bls12-381" and r["leaves"] == leaves}
        ):
            best = {}
            for r in rows:
                if r["scheme"] == "kzg-bls12-381" and r["leaves"] == leaves and r["width"] == width:
                    best[r["keys"]] = min(best.get(r["keys"], r["gas"]), r["gas"])
            cheaper = [k for k in sorted(best) if k in merkle and best[k] < merkle[k]]
            ratios = {k: best[k] / merkle[k] for k in best if k in merkle}
            out.append(
                {
                    "leaves": leaves,
                    "width": width,
                    "verkle_cheaper_from_keys": cheaper[0] if cheaper else "never (measured)",
                    **{f"ratio_{k}": round(v, 3) for k, v in sorted(ratios.items())},
                }
            )
    return out


def _markdown(
    rows: list[dict[str, Any]],
    cross: list[dict[str, Any]],
    headline: list[list[Any]],
    seconds: float,
    fork: Fork,
    over_cap: list[str],
) -> str:
    md = [
        f"# verkle bench --onchain --fork {fork.name}",
        "",
        f"Whole-transaction gas (21,000 and calldata included), {fork.title} rules, "
        f"measured in one run ({seconds:.0f} s).",
        "",
        "## 1 key and 128 keys at the largest tree",
        "",
        "| leaves | width | path | keys | gas | gas/key | calldata bytes | bytes/key | vs Merkle |",
        "|" + "---|" * 9,
    ]
    md += [
        "| " + " | ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in row) + " |" for row in headline
    ]
    md += [
        "",
        "## Where Verkle becomes cheaper than Merkle",
        "",
        "| " + " | ".join(cross[0].keys()) + " |" if cross else "",
        "|" + "---|" * (len(cross[0]) if cross else 0),
    ]
    md += ["| " + " | ".join(str(v) for v in c.values()) + " |" for c in cross]
    if over_cap:
        md += ["", "## Not sent: over the per-transaction gas cap", ""] + [f"- {line}" for line in over_cap]
    md += ["", "## Every measurement", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(md) + "\n"


def _headline(rows: list[dict[str, Any]]) -> list[list[Any]]:
    top = max(r["leaves"] for r in rows)
    out = []
    for keys in (1, 128):
        merkle = next(
            (
                r["gas"]
                for r in rows
                if r["leaves"] == top and r["keys"] == keys and r["path"] == "merkle-multi"
            ),
            None,
        )
        for r in sorted(
            (r for r in rows if r["leaves"] == top and r["keys"] == keys),
            key=lambda r: (r["width"], r["path"]),
        ):
            ratio = f"{r['gas'] / merkle:.2f}x" if merkle else ""
            out.append(
                [
                    r["leaves"],
                    r["width"],
                    r["path"],
                    keys,
                    r["gas"],
                    r["gas_per_key"],
                    r["calldata_bytes"],
                    r["calldata_per_key"],
                    ratio,
                ]
            )
    return out


def _plots(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = max(r["leaves"] for r in rows)
    written = []
    for metric, label, name in (
        ("gas_per_key", "gas per key (whole transaction)", "verkle_onchain_gas_per_key.png"),
        ("calldata_per_key", "calldata bytes per key", "verkle_onchain_calldata_per_key.png"),
    ):
        fig, ax = plt.subplots(figsize=(8, 5))
        series: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in rows:
            if r["leaves"] == top and r["path"] not in ONE_KEY_PATHS:
                series.setdefault((r["path"], r["width"]), []).append(r)
        for (path, width), pts in sorted(series.items()):
            pts.sort(key=lambda r: r["keys"])
            xs = [r["keys"] for r in pts]
            label_s = (
                "Merkle multiproof (OpenZeppelin rules)"
                if path == "merkle-multi"
                else f"{path}, width {width}"
            )
            (line,) = ax.plot(xs, [r[metric] for r in pts], marker="o", label=label_s)
            if metric == "gas_per_key":
                ax.plot(
                    xs,
                    [round(r["model_gas"] / r["keys"]) for r in pts],
                    linestyle="--",
                    color=line.get_color(),
                    alpha=0.6,
                )
        if metric == "gas_per_key":
            for c in crossovers(rows):
                if c["leaves"] == top and isinstance(c["verkle_cheaper_from_keys"], int):
                    ax.axvline(c["verkle_cheaper_from_keys"], color="grey", linestyle=":", alpha=0.7)
                    ax.annotate(
                        f"crossover, width {c['width']}",
                        (c["verkle_cheaper_from_keys"], ax.get_ylim()[1] * 0.5),
                        rotation=90,
                        fontsize=8,
                        color="grey",
                    )
            ax.axhline(MPT_STORAGE_PROOF_GAS, color="black", linestyle="-.", alpha=0.4)
            ax.annotate("MPT storage proof (~200k)", (1, MPT_STORAGE_PROOF_GAS * 1.05), fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("keys per proof")
        ax.set_ylabel(label)
        ax.set_title(f"{label} at 2^{top.bit_length() - 1} leaves (solid: measured, dashed: gas model)")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        written.append(out / name)
    return written


def run_onchain_bench(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    fork = get_fork(getattr(args, "fork", None))
    bls = SCHEMES["kzg-bls12-381"].min_fork
    with_bls = list(FORKS).index(fork.name) >= list(FORKS).index(bls)
    sizes = (
        [8, 10]
        if args.quick
        else (
            [int(s) for s in args.sizes.split(",")] if args.sizes != "12,14,16,20" else [10, 12, 14, 16, 20]
        )
    )
    key_counts = [1, 4, 16] if args.quick else [1, 4, 16, 64, 128, 256, 1024]
    widths = (
        [16]
        if args.quick
        else ([int(w) for w in args.widths.split(",")] if args.widths != "256" else [256, 4096])
    )
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        sessions = Sessions(stack, args.rpc_url, fork)
        if not with_bls:
            print(
                f"  {fork.name} rules lack EIP-2537: BLS12-381 left out; BN254 with the Merkle twin",
                flush=True,
            )
        for log_n in sizes if with_bls else []:
            for width in widths:
                t = time.perf_counter()
                rows += _measure_tree(
                    sessions,
                    "kzg-bls12-381",
                    width,
                    log_n,
                    key_counts,
                    embedded=log_n <= args.embedded_max and not args.rpc_url,
                    seed=args.seed,
                    with_merkle=width == widths[0],
                )
                print(
                    f"  kzg-bls12-381 width {width}, 2^{log_n} leaves: {time.perf_counter() - t:.0f} s",
                    flush=True,
                )
        bn_size = min(sizes)
        t = time.perf_counter()
        rows += _measure_tree(
            sessions,
            "kzg-bn254",
            16,
            bn_size,
            [k for k in key_counts if k <= 128],
            embedded=False,
            seed=args.seed,
            with_merkle=not with_bls,
        )
        print(f"  kzg-bn254 width 16, 2^{bn_size} leaves: {time.perf_counter() - t:.0f} s", flush=True)
    seconds = time.perf_counter() - start
    cross = crossovers(rows)
    headline = _headline(rows)
    with (out / "verkle_onchain.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "verkle_onchain.md").write_text(_markdown(rows, cross, headline, seconds, fork, sessions.over_cap))
    plots = _plots(rows, out)
    print()
    print(
        format_table(
            [[f"{c:,}" if isinstance(c, int) else c for c in row] for row in headline],
            ["leaves", "width", "path", "keys", "gas", "gas/key", "calldata", "bytes/key", "vs Merkle"],
        )
    )
    print()
    print(
        format_table([list(c.values()) for c in cross], list(cross[0].keys()))
        if cross
        else "no crossover data"
    )
    worst = max(rows, key=lambda r: abs(r["model_error_pct"]))
    print(
        f"\ngas model: worst error {worst['model_error_pct']:+.3f}% "
        f"({worst['path']}, {worst['leaves']} leaves, "
        f"{worst['keys']} keys) over {len(rows)} measurements"
    )
    both = [r for r in rows if r["embedded_gas"] != ""]
    if both:
        same = sum(r["embedded_gas"] == r["gas"] for r in both)
        print(f"embedded py-evm chain and anvil: same gas for {same}/{len(both)} verifications")
    single = [
        r
        for r in rows
        if r["keys"] == 1 and r["leaves"] == max(r["leaves"] for r in rows) and r["scheme"] == "kzg-bls12-381"
    ]
    if single:
        best = min(single, key=lambda r: r["gas"])
        print(
            f"one key at {best['leaves']:,} leaves: cheapest Verkle path {best['path']} "
            f"(width {best['width']}) "
            f"{best['gas']:,} gas = {best['gas'] / MPT_STORAGE_PROOF_GAS:.2f}x an MPT storage proof (~200k)"
        )
    for line in sessions.over_cap:
        print(f"not sent: {line}")
    print(f"\nwrote {out}/verkle_onchain.{{csv,md}} and {', '.join(p.name for p in plots)} ({seconds:.0f} s)")
