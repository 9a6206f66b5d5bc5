"""`verkle bench --scale`: trees on disk at sizes a laptop's memory would not hold in Python objects.

For each size: a tree of 2^n random keys built straight to a file (:mod:`verkle.diskbuild`), a proof
served by a fresh process that opens the file cold, and one batch update (70% changed values, 20% new
keys, 10% deletions). Each size runs in its own process, so the peak memory reported is that size's
(``resource.getrusage``: the process and its build workers). Rows go to ``verkle_scale.csv`` one by one
(Ctrl-C keeps them, ``--resume`` continues); then Markdown, and a projection to 10^9 keys on 64 cores
from the measured per-subtree times, beside go-verkle's conversion of the mainnet state.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evmkit.progress import say
from evmkit.rowlog import RowLog, Spec, read_back, read_rows
from evmkit.table import format_table

from .benchplan import SCALE_CSV, BenchPlan, Rates, duration, rate_key, tree_seconds

COLUMNS = [
    "leaves",
    "width",
    "build_s",
    "build_keys_per_s",
    "stage_s",
    "commit_s",
    "subtree_cpu_s",
    "subtrees",
    "runner",
    "file_mib",
    "scheme_load_ms",
    "cold_open_proof_ms",
    "proof_bytes",
    "update_changes",
    "update_s",
    "update_changes_per_s",
    "nodes_recommitted",
    "peak_rss_mib",
    "seed",
]
GO_VERKLE_KEYS = 114_000_000 + 400_000_000  # go-verkle's KZG-era conversion of the mainnet state
GO_VERKLE_SECONDS = 9 * 3600 + 8 * 60  # 9 h 8 min at width 256: about 15.6k keys/s
TARGET_KEYS, TARGET_CORES = 10**9, 64


def random_pairs(log_n: int, seed: int) -> Iterator[tuple[bytes, bytes]]:
    rng = random.Random(seed * 1_000_003 + log_n)
    for _ in range(2**log_n):
        yield rng.randbytes(32), rng.randbytes(32)


def batch_changes(log_n: int, seed: int, count: int) -> list[tuple[bytes, bytes | None]]:
    """`count` changes to the tree of ``random_pairs(log_n, seed)``: 70% new values for existing keys,
    20% new keys, 10% deletions (of keys other than the changed ones)."""
    existing = [k for k, _ in _first(random_pairs(log_n, seed), min(2**log_n, count))]
    rng = random.Random(seed * 7 + log_n)
    n_update = min((7 * count) // 10, len(existing))
    n_delete = min(count // 10, len(existing) - n_update)
    changes: list[tuple[bytes, bytes | None]] = [(k, rng.randbytes(32)) for k in existing[:n_update]]
    changes += [(rng.randbytes(32), rng.randbytes(32)) for _ in range(count - n_update - n_delete)]
    changes += [(k, None) for k in existing[n_update : n_update + n_delete]]
    return changes


def _first(it: Iterator[Any], n: int) -> Iterator[Any]:
    for _, item in zip(range(n), it):
        yield item


def measure_size(
    log_n: int, width: int, seed: int, changes: int, folder: Path, workers: int | None, cluster: str | None
) -> dict[str, Any]:
    """One size, in this process: build to a file, a cold-open proof in a fresh process, one batch."""
    import verkle

    from .diskbuild import peak_rss_mib

    path = folder / f"scale-2^{log_n}-w{width}.db"
    report = verkle.build_tree_file(
        random_pairs(log_n, seed), path, width=width, workers=workers, cluster=cluster, progress=True
    )
    first_key = next(random_pairs(log_n, seed))[0]
    cold = _cold_proof(path, first_key)
    batch = batch_changes(log_n, seed, changes)
    started = time.perf_counter()
    result = verkle.update_tree_file(path, batch)
    update_s = time.perf_counter() - started
    return {
        "leaves": report.size,
        "width": width,
        "build_s": round(report.seconds, 2),
        "build_keys_per_s": round(report.keys_per_second),
        "stage_s": round(report.stage_seconds, 2),
        "commit_s": round(report.commit_seconds, 2),
        "subtree_cpu_s": round(report.subtree_seconds, 2),
        "subtrees": report.subtrees,
        "runner": report.runner,
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "scheme_load_ms": cold["scheme_load_ms"],
        "cold_open_proof_ms": cold["open_proof_ms"],
        "proof_bytes": cold["proof_bytes"],
        "update_changes": len(batch),
        "update_s": round(update_s, 2),
        "update_changes_per_s": round(len(batch) / update_s),
        "nodes_recommitted": result.nodes,
        "peak_rss_mib": round(peak_rss_mib()),
        "seed": seed,
    }


def _cold_proof(path: Path, key: bytes) -> dict[str, Any]:
    """A fresh process opens the file and proves one key (the OS may still cache the file's pages)."""
    out = subprocess.run(
        [sys.executable, "-m", "verkle.bench_scale", "cold-proof", str(path), key.hex()],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the cold-open proof failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_proof(path: str, key_hex: str) -> dict[str, Any]:
    """Load the scheme, open the tree file and prove one key; the times of each part."""
    from . import store
    from .prover import prove_multi
    from .schemes import load_scheme

    info = store.read_info(path)
    started = time.perf_counter()
    scheme = load_scheme(info.scheme, info.width)
    loaded = time.perf_counter()
    tree = store.open_tree(path, lambda _: scheme)
    doc = prove_multi(tree, [bytes.fromhex(key_hex)])
    done = time.perf_counter()
    return {
        "scheme_load_ms": round(1000 * (loaded - started), 1),
        "open_proof_ms": round(1000 * (done - loaded), 1),
        "proof_bytes": len(doc.proof.to_bytes()),
    }


def projection(row: dict[str, Any]) -> list[str]:
    """10^9 keys on 64 cores from one measured row: subtree compute scales with keys times path depth
    (log_W of the size) over the cores; staging the pairs into one file stays on one driver."""
    import math

    leaves, width = row["leaves"], row["width"]
    depth_now = max(1.0, math.log(leaves, width))
    depth_then = math.log(TARGET_KEYS, width)
    compute = TARGET_KEYS * row["subtree_cpu_s"] / leaves * (depth_then / depth_now) / TARGET_CORES
    staging = TARGET_KEYS * row["stage_s"] / leaves
    go_rate = GO_VERKLE_KEYS / GO_VERKLE_SECONDS
    return [
        f"projection to {TARGET_KEYS:.0e} keys on {TARGET_CORES} cores, from the 2^{leaves.bit_length() - 1} "
        f"row ({row['subtree_cpu_s']:,} s of subtree compute for {leaves:,} keys at width {width}):",
        f"  subtree compute {duration(compute)} (x{depth_then / depth_now:.2f} for the deeper paths, "
        f"{TARGET_CORES} workers), plus staging the pairs on one driver {duration(staging)}: "
        f"about {duration(compute + staging)} in all",
        "  (not in it: the driver also writes the node rows, about a quarter as many rows as keys at width "
        "256, one writer; staging shows its rate)",
        f"  go-verkle converted the mainnet state ({GO_VERKLE_KEYS / 1e6:.0f}M keys) in 9 h 8 min, "
        f"{go_rate / 1000:.1f}k keys/s: {duration(TARGET_KEYS / go_rate)} for {TARGET_KEYS:.0e} keys",
    ]


def log_spec(plan: BenchPlan, out: Path) -> Spec:
    """The CSV a scale run writes, as a resumed run must find it."""
    numeric = tuple(c for c in COLUMNS if c != "runner")
    return Spec(out / SCALE_CSV, tuple(COLUMNS), {"seed": plan.seed}, numeric,
                "pass the earlier run's --seed, or run without --resume")  # fmt: skip


def kept_identities(plan: BenchPlan, out: Path) -> set[tuple[Any, ...]]:
    """The rows --resume would keep (refused as the run would refuse them)."""
    return {("scale", r["leaves"], r["width"]) for r in read_back(log_spec(plan, out))}


def run_scale_bench(
    plan: BenchPlan,
    out: Path,
    *,
    resume: bool = False,
    workers: int | None = None,
    cluster: str | None = None,
) -> int:
    out.mkdir(parents=True, exist_ok=True)
    rates = Rates.load(out)
    log = RowLog(log_spec(plan, out), resume=resume)
    if log.moved_aside:
        say(f"  an earlier run's rows moved to {log.moved_aside} (--resume continues one instead)")
    done = {("scale", r["leaves"], r["width"]) for r in log.kept}
    if done:
        say(f"  resuming: {len(done)} rows kept from {log.path}")
    try:
        with tempfile.TemporaryDirectory(dir=out, prefix="scale-trees-") as folder:
            for n, tree in enumerate(plan.trees, start=1):
                if not tree.pending(plan.mode, done):
                    say(f"  {tree.label}: kept from the earlier run [{n}/{len(plan.trees)}]")
                    continue
                row = _measure_in_child(tree.log_n, tree.width, plan, Path(folder), workers, cluster)
                log.append(row)
                done.add(("scale", row["leaves"], row["width"]))
                build_rate = rate_key("disk-build", tree.scheme, tree.width)
                rates.record(build_rate, row["leaves"], row["build_s"])
                rates.record("update", row["update_changes"], row["update_s"])
                rates.record("cold-proof", 1, (row["scheme_load_ms"] + row["cold_open_proof_ms"]) / 1000)
                rates.save(out)
                left = sum(tree_seconds(plan, t, rates, done) for t in plan.trees[n:])
                say(
                    f"  {tree.label}: built at {row['build_keys_per_s']:,} keys/s, "
                    f"{row['update_changes_per_s']:,} changes/s, cold proof {row['cold_open_proof_ms']} ms, "
                    f"peak {row['peak_rss_mib']:,} MiB [{n}/{len(plan.trees)}; about {duration(left)} left]"
                )
    except KeyboardInterrupt:
        rates.save(out)
        log.close()
        say(
            f"verkle bench --scale: interrupted. {log.written} rows measured in this run and "
            f"{len(log.kept)} kept before are in {log.path}; the same command with --resume continues"
        )
        return 130
    log.close()
    planned = set(plan.row_keys())
    _report([r for r in read_rows(out / SCALE_CSV) if ("scale", r["leaves"], r["width"]) in planned], out)
    return 0


def _measure_in_child(log_n: int, width: int, plan: BenchPlan, folder: Path, workers: int | None,
                      cluster: str | None) -> dict[str, Any]:  # fmt: skip
    """One size in a fresh process, so its peak memory is its own."""
    args = [str(log_n), str(width), str(plan.seed), str(plan.changes), str(folder), str(workers or 0)]
    args.append(cluster or "")
    out = subprocess.run(
        [sys.executable, "-m", "verkle.bench_scale", "measure", *args], stdout=subprocess.PIPE, text=True
    )
    if out.returncode != 0:
        if out.returncode in (130, -2):
            raise KeyboardInterrupt
        raise RuntimeError(f"measuring 2^{log_n} keys at width {width} failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _report(rows: list[dict[str, Any]], out: Path) -> None:
    headers = ["leaves", "width", "build keys/s", "build s", "update changes/s", "update s", "cold proof ms",
               "scheme load ms", "peak MiB", "file MiB", "runner"]  # fmt: skip
    body = [
        [
            f"{r['leaves']:,}",
            r["width"],
            f"{r['build_keys_per_s']:,}",
            r["build_s"],
            f"{r['update_changes_per_s']:,}",
            r["update_s"],
            r["cold_open_proof_ms"],
            r["scheme_load_ms"],
            f"{r['peak_rss_mib']:,}",
            r["file_mib"],
            r["runner"],
        ]  # fmt: skip
        for r in rows
    ]
    table = format_table(body, headers)
    lines = [table, ""]
    if rows:
        lines += projection(max(rows, key=lambda r: r["leaves"]))
    text = "\n".join(lines)
    print()
    print(text)
    md = ["# verkle bench --scale", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    md += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    md += ["", *lines[2:]]
    (out / "verkle_scale.md").write_text("\n".join(md) + "\n")
    print(f"\nwrote {out}/{SCALE_CSV} and {out}/verkle_scale.md")


def main(argv: list[str]) -> int:
    """The child processes' entry: `measure LOG2 WIDTH SEED CHANGES FOLDER WORKERS CLUSTER` prints a
    row as JSON; `cold-proof TREE KEYHEX` prints the cold-open timings."""
    if argv[0] == "cold-proof":
        print(json.dumps(cold_proof(argv[1], argv[2])))
        return 0
    log_n, width, seed, changes = (int(a) for a in argv[1:5])
    try:
        row = measure_size(log_n, width, seed, changes, Path(argv[5]), int(argv[6]) or None, argv[7] or None)
    except KeyboardInterrupt:
        return 130
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
