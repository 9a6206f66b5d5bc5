"""`verkle bench --onchain`: verification gas of every path against the Merkle baseline, measured in one run.

The trees, key counts and chains come from a :class:`~verkle.benchplan.BenchPlan` (by default trees of
2^10 to 2^20 random keys, BLS12-381 at widths 256 and 4096, one BN254 tree of 2^10 at width 16, 1 to
1,024 keys per proof: members, so Merkle can prove them too), under one
fork's rules (`--fork`, default Osaka: anvil --hardfork, the embedded chain, the compiled verifiers and
the gas model all follow it; BLS12-381 is left out before Prague). Every verification is a transaction
on anvil (from npm); the smallest trees are also verified on the embedded py-evm chain and both gas
figures are recorded (they must agree). The gas model's prediction sits beside every measurement; a
verification it prices over the fork's per-transaction cap (EIP-7825's 2**24 under Osaka) is not sent,
and written as such. Rows go to the CSV one by one, so Ctrl-C keeps them and --resume continues;
then Markdown and PNG plots over every row.
"""

from __future__ import annotations

import os
import random
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.forks import Fork, get_fork
from evmkit.progress import bar, say
from evmkit.rowlog import RowLog, Spec, read_back
from evmkit.table import format_table

from . import gasmodel
from .bench import pairs_seed, random_pairs
from .benchplan import (
    BLS,
    BN,
    EMBEDDED_MAX_KEYS,
    MERKLE,
    ONCHAIN,
    ONCHAIN_CSV,
    BenchPlan,
    Rates,
    TreeJob,
    duration,
    onchain_row_key,
    rate_key,
    tree_seconds,
)
from .merkle import MerkleTree
from .onchain import deploy_contract, deploy_merkle, merkle_multi, merkle_single
from .proof import MULTI, SINGLE
from .prover import prove_multi, prove_single
from .schemes import load_scheme
from .tree import VerkleTree
from .verifier_paths import PATHS, verifier_args

COLUMNS = [
    "fork",
    "scheme",
    "width",
    "leaves",
    "keys",
    "path",
    "chain",
    "status",  # measured | over-cap (the model prices it over the fork's per-transaction cap: not sent)
    "gas",
    "gas_per_key",
    "calldata_bytes",
    "calldata_per_key",
    "model_gas",
    "model_error_pct",
    "embedded_gas",
    "seed",
]
MPT_STORAGE_PROOF_GAS = 200_000  # the figure the issue cites for an Ethereum MPT storage proof on-chain
# paths that prove one key at a time: left out of the per-key plots
ONE_KEY_PATHS = {p.name for p in PATHS.values() if p.proof_type == SINGLE} | {"merkle-single"}


def _send(session: chain.ChainSession, contract: Any, function: str, args: list) -> tuple[bool, int, int]:
    data = bytes.fromhex(contract.encode_abi(function, args=args).removeprefix("0x"))
    valid = bool(session.call(contract, function, *args))
    return valid, session.send(contract.address, data, abi=contract.abi).gas_used, len(data)


class Sessions:
    """The node every figure comes from: anvil (from npm) under the fork's rules, or the one --rpc-url
    names (refused unless it runs them); started when a tree first needs it (a resumed run with every
    row kept starts nothing)."""

    def __init__(self, stack: ExitStack, rpc_url: str | None, fork: Fork, rates: Rates) -> None:
        self._stack, self._rpc_url, self._rates = stack, rpc_url, rates
        self._main: Any = None
        self.name = "rpc" if rpc_url else "anvil"
        self.fork = fork

    @property
    def main(self) -> Any:
        if self._main is None:
            started = time.perf_counter()
            if self._rpc_url:
                self._main = chain.rpc(self._rpc_url, fork=self.fork)
            else:
                node = self._stack.enter_context(
                    start_anvil(gas_limit=500_000_000, hardfork=self.fork.anvil_hardfork)
                )
                os.environ["VERKLE_BENCH_KEY"] = node.private_keys[0]
                self._main = chain.rpc(node.url, "VERKLE_BENCH_KEY", fork=self.fork)
            self._rates.record(rate_key("start", chain=self.name), 1, time.perf_counter() - started)
        return self._main


def _row(
    run: Run,
    scheme: str,
    width: int,
    leaves: int,
    keys: int,
    path: str,
    model: int,
    measured: dict[str, tuple[int, int]] | None,
) -> dict[str, Any]:
    """One CSV row; ``measured`` None: not sent, the model prices it over the per-transaction cap."""
    row: dict[str, Any] = {c: "" for c in COLUMNS}
    row |= {
        "fork": run.fork.name,
        "scheme": scheme,
        "width": width,
        "leaves": leaves,
        "keys": keys,
        "path": path,
        "chain": run.sessions.name,
        "status": "measured" if measured else "over-cap",
        "model_gas": model,
        "seed": run.plan.seed,
    }
    if measured:
        gas, size = measured["main"]
        row |= {
            "gas": gas,
            "gas_per_key": round(gas / keys),
            "calldata_bytes": size,
            "calldata_per_key": round(size / keys),
            "model_error_pct": round(100 * (model - gas) / gas, 3),
            "embedded_gas": measured.get("embedded", ("",))[0],
        }
    return row


@dataclass
class Run:
    """One bench run: its plan, node, rows file, rates and the rows an earlier run kept (resume)."""

    plan: BenchPlan
    fork: Fork
    sessions: Sessions
    log: RowLog
    rates: Rates
    out: Path
    done: set[tuple[Any, ...]] = field(default_factory=set)
    rows: list[dict[str, Any]] = field(default_factory=list)  # this run's, as written

    def write(self, row: dict[str, Any]) -> None:
        self.log.append(row)
        self.rows.append(row)
        self.done.add(onchain_row_key(row))


def _timed_send(run: Run, where: str, send: Any, scheme: str, keys: int) -> Any:
    started = time.perf_counter()
    out = send()
    run.rates.record(rate_key("tx", scheme, chain=where), keys, time.perf_counter() - started)
    return out


def _measure_tree(run: Run, tree: TreeJob) -> None:
    """One tree: every pending path for every key count, and (on the first width of a size) the Merkle
    twin over the same pairs and the same chosen keys (the pairs and the choices depend on the size and
    the seed only, so a resumed run proves the keys a fresh one would)."""
    pending = tree.pending(ONCHAIN, run.done)
    if not pending:
        return
    log_n, width, scheme_name = tree.log_n, tree.width, tree.scheme
    pairs = random_pairs(2**log_n, pairs_seed(run.plan.seed, log_n))
    rng = random.Random(run.plan.seed * 7919 + log_n)
    scheme = load_scheme(scheme_name, width, insecure_dev_setup_ok=True)
    short = f"2^{log_n} w{width}" + (" bn254" if scheme_name == BN else "")
    started = time.perf_counter()
    tree_obj = VerkleTree.build(scheme, pairs, progress=None, label=f"{short} build")
    run.rates.record(rate_key("build", scheme_name, width), len(pairs), time.perf_counter() - started)
    fork = run.fork
    cap = run.sessions.main.gas_cap
    targets: list[tuple[str, Any]] = [("main", run.sessions.main)]
    if "embedded" in tree.chains:
        targets.append(("embedded", chain.embedded(block_gas_limit=500_000_000, fork=fork)))
    where = {"main": run.sessions.name, "embedded": "embedded"}

    def deployed(make: Any) -> dict[str, Any]:
        out = {}
        for name, session in targets:
            t = time.perf_counter()
            out[name] = make(session)
            run.rates.record(rate_key("deploy", chain=where[name]), 1, time.perf_counter() - t)
        return out

    wants_verkle = any(r[0] == scheme_name for r in pending)
    wants_merkle = any(r[0] == MERKLE for r in pending)
    verifiers = (
        deployed(lambda s: deploy_contract(s, scheme, tree_obj.root_commitment, fork=fork)[0])
        if wants_verkle
        else {}
    )
    merkle = None
    if wants_merkle:
        t = time.perf_counter()
        merkle = MerkleTree(pairs)
        run.rates.record("merkle-build", len(pairs), time.perf_counter() - t)
    merkle_contracts = deployed(lambda s: deploy_merkle(s, merkle, fork=fork)[0]) if merkle else {}

    def send_all(path: str, count: int, model: int, send: Any, row_scheme: str) -> dict[str, tuple[int, int]]:
        measured = {}
        for name, session in targets:
            if name == "embedded" and count > EMBEDDED_MAX_KEYS:
                continue
            valid, gas, size = _timed_send(
                run, where[name], lambda name=name, session=session: send(name, session), row_scheme, count
            )
            if not valid:
                raise RuntimeError(f"a valid proof failed on-chain ({path}, {name})")
            measured[name] = (gas, size)
        return measured

    with bar(len(pending), short, "row") as progress:
        for count in tree.keys:
            chosen = rng.sample(pairs, count)  # drawn for every count: the same keys as a fresh run
            todo = [r for r in pending if r[3] == count]
            if not todo:
                continue
            verkle_paths = [r[4] for r in todo if r[0] == scheme_name]
            docs: dict[int, Any] = {}
            if verkle_paths:
                t = time.perf_counter()
                docs[MULTI] = prove_multi(tree_obj, [k for k, _ in chosen])
                if any(PATHS[p].proof_type == SINGLE for p in verkle_paths):
                    docs[SINGLE] = prove_single(tree_obj, chosen[0][0])
                run.rates.record(rate_key("prove", scheme_name, width), count, time.perf_counter() - t)
            for path in verkle_paths:
                progress.set_postfix_str(f"{path}, {count} keys", refresh=False)
                d = docs[PATHS[path].proof_type]
                function, args = verifier_args(d, path)
                model = gasmodel.estimate(gasmodel.shape_of(d, path), fork=fork).total
                measured = None
                if model <= cap:
                    measured = send_all(
                        path,
                        count,
                        model,
                        lambda name, session, function=function, args=args: _send(
                            session, verifiers[name], function, args
                        ),
                        scheme_name,
                    )
                run.write(_row(run, scheme_name, width, len(pairs), count, path, model, measured))
                progress.update()
            for path in [r[4] for r in todo if r[0] == MERKLE]:
                assert merkle is not None
                progress.set_postfix_str(f"{path}, {count} keys", refresh=False)
                shape = (
                    gasmodel.merkle_shape_single(merkle, *chosen[0])
                    if path == "merkle-single"
                    else gasmodel.merkle_shape_multi(merkle, chosen)
                )
                model = gasmodel.merkle_estimate(shape, fork=fork).total

                def merkle_send(
                    name: str, session: Any, path: str = path, chosen: list = chosen
                ) -> tuple[bool, int, int]:
                    result = (
                        merkle_single(session, merkle_contracts[name], merkle, *chosen[0])
                        if path == "merkle-single"
                        else merkle_multi(session, merkle_contracts[name], merkle, chosen)
                    )
                    return result.valid, result.gas, result.calldata_bytes

                measured = send_all(path, count, model, merkle_send, MERKLE) if model <= cap else None
                run.write(_row(run, MERKLE, 2, len(pairs), count, path, model, measured))
                progress.update()


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


def _top(rows: list[dict[str, Any]]) -> int:
    """The size the headline and plots show: the largest BLS12-381 tree (else the largest tree)."""
    return (
        max(r["leaves"] for r in rows if r["scheme"] == BLS)
        if any(r["scheme"] == BLS for r in rows)
        else max(r["leaves"] for r in rows)
    )


def _headline(rows: list[dict[str, Any]]) -> list[list[Any]]:
    top = _top(rows)
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

    top = _top(rows)
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


def _over_cap_line(r: dict[str, Any], cap: int | None) -> str:
    limit = f", over the cap {cap:,}" if cap else ""
    return (
        f"{r['path']}, {r['keys']} keys, 2^{int(r['leaves']).bit_length() - 1} leaves, width {r['width']}: "
        f"{r['model_gas']:,} gas predicted{limit}"
    )


def report(rows: list[dict[str, Any]], out: Path, fork: Fork, seconds: float, cap: int | None) -> None:
    """Tables, Markdown and plots over every row in the file (this run's and those a resume kept)."""
    measured = [r for r in rows if r["status"] == "measured"]
    over_cap = [_over_cap_line(r, cap) for r in rows if r["status"] != "measured"]
    if not measured:
        print("no verification measured: nothing to tabulate")
        for line in over_cap:
            print(f"not sent: {line}")
        return
    cross = crossovers(measured)
    headline = _headline(measured)
    (out / "verkle_onchain.md").write_text(_markdown(measured, cross, headline, seconds, fork, over_cap))
    plots = _plots(measured, out)
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
    worst = max(measured, key=lambda r: abs(r["model_error_pct"]))
    print(
        f"\ngas model: worst error {worst['model_error_pct']:+.3f}% "
        f"({worst['path']}, {worst['leaves']} leaves, "
        f"{worst['keys']} keys) over {len(measured)} measurements"
    )
    both = [r for r in measured if r["embedded_gas"] != ""]
    if both:
        same = sum(r["embedded_gas"] == r["gas"] for r in both)
        node = measured[0]["chain"]
        print(f"embedded py-evm chain and {node}: same gas for {same}/{len(both)} verifications")
    top = _top(measured)
    single = [r for r in measured if r["keys"] == 1 and r["leaves"] == top and r["scheme"] == BLS]
    if single:
        best = min(single, key=lambda r: r["gas"])
        print(
            f"one key at {best['leaves']:,} leaves: cheapest Verkle path {best['path']} "
            f"(width {best['width']}) "
            f"{best['gas']:,} gas = {best['gas'] / MPT_STORAGE_PROOF_GAS:.2f}x an MPT storage proof (~200k)"
        )
    for line in over_cap:
        print(f"not sent: {line}")
    print(f"\nwrote {out}/verkle_onchain.{{csv,md}} and {', '.join(p.name for p in plots)}")


NUMERIC = ("width", "leaves", "keys", "gas", "gas_per_key", "calldata_bytes", "calldata_per_key", "model_gas",
           "model_error_pct", "embedded_gas", "seed")  # fmt: skip


def log_spec(plan: BenchPlan, out: Path) -> Spec:
    """The CSV an on-chain run writes, as a resumed run must find it."""
    same = {"fork": get_fork(plan.fork).name, "chain": plan.chain, "seed": plan.seed}
    hint = "pass the earlier run's --fork, --seed and node, or run without --resume"
    return Spec(out / ONCHAIN_CSV, tuple(COLUMNS), same, NUMERIC, hint)


def kept_identities(plan: BenchPlan, out: Path) -> set[tuple[Any, ...]]:
    """The rows --resume would keep (refused as the run would refuse them)."""
    return {onchain_row_key(r) for r in read_back(log_spec(plan, out))}


def run_onchain_bench(plan: BenchPlan, out: Path, *, rpc_url: str | None = None, resume: bool = False) -> int:
    """Carry ``plan`` out on anvil (or ``rpc_url``), writing ``out``/verkle_onchain.csv row by row.
    Ctrl-C keeps every finished row; ``resume`` continues from them. Returns the exit status."""
    start = time.perf_counter()
    fork = get_fork(plan.fork)
    out.mkdir(parents=True, exist_ok=True)
    rates = Rates.load(out)
    with ExitStack() as stack:
        log = stack.enter_context(RowLog(log_spec(plan, out), resume=resume))
        kept = {onchain_row_key(r) for r in log.kept}
        if log.moved_aside:
            say(f"  an earlier run's rows moved to {log.moved_aside} (--resume continues one instead)")
        sessions = Sessions(stack, rpc_url, fork, rates)
        run = Run(plan, fork, sessions, log, rates, out, done=set(kept))
        if kept:
            say(f"  resuming: {len(kept)} rows kept from {log.path}")
        try:
            for n, tree in enumerate(plan.trees, start=1):
                t = time.perf_counter()
                before = log.written
                _measure_tree(run, tree)
                rates.save(out)
                left = sum(tree_seconds(plan, u, rates, run.done) for u in plan.trees[n:])
                what = f"{log.written - before} rows" if log.written > before else "kept from the earlier run"
                say(
                    f"  {tree.label}: {what}, {time.perf_counter() - t:.0f} s "
                    f"[{n}/{len(plan.trees)} trees; about {duration(left)} left]"
                )
        except KeyboardInterrupt:
            rates.save(out)
            say(
                f"verkle bench: interrupted. {log.written} rows measured in this run and "
                f"{len(kept)} kept before are in {log.path}; the same command with --resume continues "
                "from them"
            )
            return 130
    planned = set(plan.row_keys())
    rows = [r for r in log.kept + run.rows if onchain_row_key(r) in planned]
    outside = len(log.kept) + len(run.rows) - len(rows)
    if outside:
        say(f"  {outside} rows in the CSV are outside this plan: kept there, not tabulated")
    report(rows, out, fork, time.perf_counter() - start, fork.tx_gas_cap)
    return 0
