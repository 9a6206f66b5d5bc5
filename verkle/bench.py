"""`verkle bench`: off-chain figures for Verkle trees beside the keccak Merkle tree over the same pairs."""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from evmkit.table import format_table

from . import store
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
]


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def random_pairs(count: int, seed: int) -> list[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    return [(rng.randbytes(32), rng.randbytes(32)) for _ in range(count)]


def measure_size(
    pairs: list[tuple[bytes, bytes]], width: int, key_counts: Sequence[int], rng: random.Random
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    scheme = load_scheme("kzg-bls12-381", width)
    tree, build_s = _timed(lambda: VerkleTree.build(scheme, pairs, progress=False))
    with tempfile.TemporaryDirectory() as tmp:
        _, save_s = _timed(lambda: store.save(tree, Path(tmp) / "tree.db"))
    merkle, merkle_s = _timed(lambda: MerkleTree(pairs))
    samples = rng.sample(pairs, min(8, len(pairs)))
    single_times, verify_times, single_bytes, multi1_bytes, depths = [], [], [], [], []
    for key, value in samples:
        doc, seconds = _timed(lambda key=key: prove_single(tree, key))
        single_times.append(seconds)
        _, seconds = _timed(lambda doc=doc: verify_document(scheme, doc))
        verify_times.append(seconds)
        single_bytes.append(len(doc.proof.to_bytes()))
        depths.append(doc.proof.paths[0].depth)
        multi1_bytes.append(len(prove_multi(tree, [key]).proof.to_bytes()))
        assert merkle_verify(merkle.root, leaf_hash(key, value), merkle.prove(key, value))
    merkle_bytes = 32 * len(merkle.prove(*samples[0]))
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    size_row = {
        "leaves": len(pairs),
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
        "multi1_over_merkle": round(mean(multi1_bytes) / merkle_bytes, 3),
    }
    multi_rows = []
    for k in key_counts:
        if k > len(pairs):
            continue
        chosen = rng.sample(pairs, k)
        doc, prove_s = _timed(lambda chosen=chosen: prove_multi(tree, [key for key, _ in chosen]))
        _, verify_s = _timed(lambda doc=doc: verify_document(scheme, doc))
        mp = merkle.prove_multi(chosen)
        assert verify_multi(merkle.root, mp)
        v_bytes = len(doc.proof.to_bytes())
        multi_rows.append(
            {
                "leaves": len(pairs),
                "width": width,
                "keys": k,
                "prove_s": round(prove_s, 3),
                "verify_s": round(verify_s, 3),
                "verkle_bytes": v_bytes,
                "merkle_bytes": mp.size,
                "verkle_over_merkle": round(v_bytes / mp.size, 3),
            }
        )
    return size_row, multi_rows


def _write(out: Path, name: str, rows: list[dict[str, Any]], columns: list[str], title: str) -> str:
    with (out / f"{name}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    body = [[f"{r[c]:,}" if isinstance(r[c], int) else r[c] for c in columns] for r in rows]
    md = [f"### {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    md += ["| " + " | ".join(str(x) for x in row) + " |" for row in body]
    (out / f"{name}.md").write_text("\n".join(md) + "\n")
    return format_table(body, columns)


def run_bench(args: argparse.Namespace) -> None:
    sizes = [8, 10] if args.quick else [int(s) for s in args.sizes.split(",")]
    key_counts = [1, 16] if args.quick else [int(k) for k in args.keys.split(",")]
    widths = [int(w) for w in args.widths.split(",")]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    size_rows: list[dict[str, Any]] = []
    multi_rows: list[dict[str, Any]] = []
    print(f"verkle bench: {os.cpu_count()} cores, sizes 2^{sizes}, widths {widths}, keys {key_counts}")
    for log_n in sizes:
        pairs = random_pairs(2**log_n, args.seed + log_n)
        for width in widths:
            rng = random.Random(args.seed * 7919 + log_n)
            row, rows = measure_size(pairs, width, key_counts, rng)
            size_rows.append(row)
            multi_rows.extend(rows)
            print(f"  2^{log_n} keys, width {width}: built in {row['build_s']} s", flush=True)
    print()
    print(
        _write(
            out,
            "verkle_bench_sizes",
            size_rows,
            SIZE_COLUMNS,
            "Builds, single proofs, proof bytes (kzg-bls12-381)",
        )
    )
    print()
    print(
        _write(
            out,
            "verkle_bench_multiproofs",
            multi_rows,
            MULTI_COLUMNS,
            "Multiproofs vs OpenZeppelin-style Merkle multiproofs",
        )
    )
    print(f"\nwrote {out}/verkle_bench_sizes.{{csv,md}} and {out}/verkle_bench_multiproofs.{{csv,md}}")
