"""`verkle bench`: off-chain figures for Verkle trees beside the keccak Merkle tree over the same pairs.

The trees and key counts come from a :class:`~verkle.benchplan.BenchPlan`; rows go to the CSVs one by
one (Ctrl-C keeps them, --resume continues), then Markdown tables over every row."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from evmkit.progress import bar, say
from evmkit.rowlog import RowLog, Spec, read_back, read_rows
from evmkit.table import format_table

from . import store
from .benchplan import BLS, MULTI_CSV, SIZES_CSV, BenchPlan, Rates, TreeJob, duration, rate_key, tree_seconds
from .merkle import MerkleTree, leaf_hash, verify_multi
from .merkle import verify as merkle_verify
from .offchain import verify_document
from .prover import prove_multi, prove_single
from .schemes import load_scheme
from .tree import VerkleTree

T = TypeVar("T")

SIZE_COLUMNS = [
    "leaves",
    "width",
    "build_s",
    "save_s",
    "merkle_build_s",
    "depth_mean",
    "single_prove_ms",
    "single_verify_ms",
    "verkle_single_bytes",
    "verkle_multi1_bytes",
    "merkle_bytes",
    "multi1_over_merkle",
    "seed",
]
MULTI_COLUMNS = [
    "leaves",
    "width",
    "keys",
    "prove_s",
    "verify_s",
    "verkle_bytes",
    "merkle_bytes",
    "verkle_over_merkle",
    "seed",
]


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def random_pairs(count: int, seed: int) -> list[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    return [(rng.randbytes(32), rng.randbytes(32)) for _ in range(count)]


@dataclass
class OffchainRun:
    plan: BenchPlan
    sizes: RowLog
    multis: RowLog
    rates: Rates
    done: set[tuple[Any, ...]] = field(default_factory=set)


def measure_size(run: OffchainRun, tree_job: TreeJob, pairs: list[tuple[bytes, bytes]]) -> None:
    """One tree: build, save, single proofs on 8 sampled keys, then one multiproof per pending key
    count, beside the Merkle tree over the same pairs. Rows are written as they are measured."""
    width, n, seed = tree_job.width, tree_job.leaves, run.plan.seed
    rng = random.Random(seed * 7919 + tree_job.log_n)
    scheme = load_scheme(BLS, width)
    pending = [k for k in tree_job.keys if ("multi", n, width, k) not in run.done]
    short = f"2^{tree_job.log_n} w{width}"
    tree, build_s = _timed(lambda: VerkleTree.build(scheme, pairs, progress=None, label=f"{short} build"))
    run.rates.record(rate_key("build", BLS, width), n, build_s)
    with tempfile.TemporaryDirectory() as tmp:
        _, save_s = _timed(lambda: store.save(tree, Path(tmp) / "tree.db"))
    run.rates.record("save", n, save_s)
    merkle, merkle_s = _timed(lambda: MerkleTree(pairs))
    run.rates.record("merkle-build", n, merkle_s)
    samples = rng.sample(pairs, min(8, len(pairs)))
    single_times, verify_times, single_bytes, multi1_bytes, depths = [], [], [], [], []
    with bar(len(samples) + len(pending), short, "proof") as progress:
        progress.set_postfix_str("single proofs", refresh=False)
        for key, value in samples:
            doc, seconds = _timed(lambda key=key: prove_single(tree, key))
            single_times.append(seconds)
            _, seconds = _timed(lambda doc=doc: verify_document(scheme, doc))
            verify_times.append(seconds)
            single_bytes.append(len(doc.proof.to_bytes()))
            depths.append(doc.proof.paths[0].depth)
            multi1_bytes.append(len(prove_multi(tree, [key]).proof.to_bytes()))
            assert merkle_verify(merkle.root, leaf_hash(key, value), merkle.prove(key, value))
            progress.update()
        merkle_bytes = 32 * len(merkle.prove(*samples[0]))
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        if ("size", n, width) not in run.done:
            run.sizes.append(
                {
                    "leaves": n,
                    "width": width,
                    "build_s": round(build_s, 2),
                    "save_s": round(save_s, 2),
                    "merkle_build_s": round(merkle_s, 2),
                    "depth_mean": round(mean(depths), 2),
                    "single_prove_ms": round(1000 * mean(single_times), 1),
                    "single_verify_ms": round(1000 * mean(verify_times), 1),
                    "verkle_single_bytes": round(mean(single_bytes), 1),
                    "verkle_multi1_bytes": round(mean(multi1_bytes), 1),
                    "merkle_bytes": merkle_bytes,
                    "multi1_over_merkle": round(mean(multi1_bytes) / merkle_bytes, 3) if merkle_bytes else "",
                    "seed": seed,
                }
            )
        for k in tree_job.keys:
            chosen = rng.sample(pairs, k)  # drawn for every count: a resumed run proves the same keys
            if k not in pending:
                continue
            progress.set_postfix_str(f"{k} keys", refresh=False)
            doc, prove_s = _timed(lambda chosen=chosen: prove_multi(tree, [key for key, _ in chosen]))
            run.rates.record(rate_key("prove", BLS, width), k, prove_s)
            _, verify_s = _timed(lambda doc=doc: verify_document(scheme, doc))
            run.rates.record(f"verify:{BLS}", k, verify_s)
            mp, merkle_prove_s = _timed(lambda chosen=chosen: merkle.prove_multi(chosen))
            run.rates.record("merkle-prove", k, merkle_prove_s)
            assert verify_multi(merkle.root, mp)
            v_bytes = len(doc.proof.to_bytes())
            run.multis.append(
                {
                    "leaves": n,
                    "width": width,
                    "keys": k,
                    "prove_s": round(prove_s, 3),
                    "verify_s": round(verify_s, 3),
                    "verkle_bytes": v_bytes,
                    "merkle_bytes": mp.size,
                    "verkle_over_merkle": round(v_bytes / mp.size, 3),
                    "seed": seed,
                }
            )
            progress.update()


def _write_markdown(out: Path, name: str, rows: list[dict[str, Any]], columns: list[str], title: str) -> str:
    body = [[f"{r[c]:,}" if isinstance(r[c], int) else r[c] for c in columns] for r in rows]
    md = [f"### {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    md += ["| " + " | ".join(str(x) for x in row) + " |" for row in body]
    (out / f"{name}.md").write_text("\n".join(md) + "\n")
    return format_table(body, columns)


def log_specs(plan: BenchPlan, out: Path) -> tuple[Spec, Spec]:
    """The two CSVs an off-chain run writes, as a resumed run must find them."""
    same = {"seed": plan.seed}
    hint = "pass the earlier run's --seed, or run without --resume"
    return (
        Spec(out / SIZES_CSV, tuple(SIZE_COLUMNS), same, tuple(SIZE_COLUMNS), hint),
        Spec(out / MULTI_CSV, tuple(MULTI_COLUMNS), same, tuple(MULTI_COLUMNS), hint),
    )


def kept_identities(plan: BenchPlan, out: Path) -> set[tuple[Any, ...]]:
    """The rows --resume would keep (refused as the run would refuse them)."""
    sizes, multis = (read_back(spec) for spec in log_specs(plan, out))
    return {("size", r["leaves"], r["width"]) for r in sizes} | {
        ("multi", r["leaves"], r["width"], r["keys"]) for r in multis
    }


def pairs_seed(seed: int, log_n: int) -> int:
    """The seed of a size's pairs (distinct for every (seed, size), unlike seed + log_n)."""
    return seed * 1000 + log_n


def run_bench(plan: BenchPlan, out: Path, *, resume: bool = False) -> int:
    """Carry the off-chain ``plan`` out, writing ``out``/verkle_bench_{sizes,multiproofs}.csv row by
    row; Ctrl-C keeps every finished row and ``resume`` continues from them. Returns the exit status."""
    out.mkdir(parents=True, exist_ok=True)
    rates = Rates.load(out)
    size_spec, multi_spec = log_specs(plan, out)
    with RowLog(size_spec, resume=resume) as sizes, RowLog(multi_spec, resume=resume) as multis:
        for log in (sizes, multis):
            if log.moved_aside:
                say(f"  an earlier run's rows moved to {log.moved_aside} (--resume continues one instead)")
        done = {("size", r["leaves"], r["width"]) for r in sizes.kept}
        done |= {("multi", r["leaves"], r["width"], r["keys"]) for r in multis.kept}
        run = OffchainRun(plan, sizes, multis, rates, done)
        if done:
            say(f"  resuming: {len(done)} rows kept from {out}")
        try:
            for n, tree_job in enumerate(plan.trees, start=1):
                if not tree_job.pending(plan.mode, done):
                    say(f"  {tree_job.label}: kept from the earlier run [{n}/{len(plan.trees)} trees]")
                    continue
                t = time.perf_counter()
                measure_size(
                    run, tree_job, random_pairs(tree_job.leaves, pairs_seed(plan.seed, tree_job.log_n))
                )
                rates.save(out)
                left = sum(tree_seconds(plan, u, rates, done) for u in plan.trees[n:])
                say(
                    f"  {tree_job.label}: {time.perf_counter() - t:.0f} s "
                    f"[{n}/{len(plan.trees)} trees; about {duration(left)} left]"
                )
        except KeyboardInterrupt:
            rates.save(out)
            say(
                f"verkle bench: interrupted. {sizes.written + multis.written} rows measured in this run and "
                f"{len(done)} kept before are in {out}/verkle_bench_*.csv; the same command with --resume "
                "continues from them"
            )
            return 130
    planned = set(plan.row_keys())
    all_sizes, all_multis = read_rows(out / SIZES_CSV), read_rows(out / MULTI_CSV)
    size_rows = [r for r in all_sizes if ("size", r["leaves"], r["width"]) in planned]
    multi_rows = [r for r in all_multis if ("multi", r["leaves"], r["width"], r["keys"]) in planned]
    outside = len(all_sizes) + len(all_multis) - len(size_rows) - len(multi_rows)
    if outside:
        say(f"  {outside} rows in the CSVs are outside this plan: kept there, not tabulated")
    print()
    print(
        _write_markdown(
            out,
            "verkle_bench_sizes",
            size_rows,
            SIZE_COLUMNS,
            "Builds, single proofs, proof bytes (kzg-bls12-381)",
        )
    )
    print()
    print(
        _write_markdown(
            out,
            "verkle_bench_multiproofs",
            multi_rows,
            MULTI_COLUMNS,
            "Multiproofs vs OpenZeppelin-style Merkle multiproofs",
        )
    )
    print(f"\nwrote {out}/verkle_bench_sizes.{{csv,md}} and {out}/verkle_bench_multiproofs.{{csv,md}}")
    return 0
