"""What a ``verkle bench`` run will do, settled before anything is built: the trees, the key counts
each one proves (and those it leaves out, with the reason), the verifier paths, the chains, the rows it
will write and how long it should take. Pure: the bench modules carry the plan out, ``--dry-run``
prints it, and ``--resume`` compares it with the rows an earlier run kept.

Defaults depend on the mode and are the ones ``--help`` prints (an explicit option always wins over
``--quick``); the expected duration comes from :class:`Rates`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .proof import SINGLE
from .srs import check_width
from .verifier_paths import paths_for

OFFCHAIN, ONCHAIN, SCALE = "offchain", "onchain", "scale"
BLS, BN = "kzg-bls12-381", "kzg-bn254"
MERKLE = "keccak-merkle"
BN254_WIDTH = 16
BN254_WARN_LOG2 = 12
"""A BN254 tree above 2^12 leaves takes minutes to hours (pure-Python py_ecc, ~10 ms per leaf on two
cores): the bench warns with its expected time before it starts."""
EMBEDDED_MAX_KEYS = 16
"""py-evm runs EIP-2537 in pure Python: the embedded chain's cross-check stays at 16 keys or fewer."""
MAX_LOG2 = 30
ONCHAIN_CSV = "verkle_onchain.csv"
SIZES_CSV = "verkle_bench_sizes.csv"
MULTI_CSV = "verkle_bench_multiproofs.csv"
SCALE_CSV = "verkle_scale.csv"


@dataclass(frozen=True)
class Defaults:
    sizes: tuple[int, ...]
    widths: tuple[int, ...]
    keys: tuple[int, ...]
    bn254_size: int | None = None


DEFAULTS = {
    (OFFCHAIN, False): Defaults((12, 14, 16, 20), (256,), (1, 16, 128, 1000)),
    (OFFCHAIN, True): Defaults((8, 10), (256,), (1, 16)),
    (SCALE, False): Defaults((16, 20, 24), (256,), ()),
    (SCALE, True): Defaults((10, 12), (256,), ()),
    (ONCHAIN, False): Defaults((10, 12, 14, 16, 20), (256, 4096), (1, 4, 16, 64, 128, 256, 1024), 10),
    (ONCHAIN, True): Defaults((8, 10), (16,), (1, 4, 16), 8),
}


def shown(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


def parse_ints(text: str, what: str, low: int, high: int | None = None) -> tuple[int, ...]:
    """A comma-separated list of integers within [low, high], in the order given, without repeats."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip().replace("_", "")
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise ValueError(f"{what}: {part!r} is not an integer (give a comma-separated list)") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ValueError(f"{what}: {value} is out of range (each must be {bound})")
        if value not in out:
            out.append(value)
    if not out:
        raise ValueError(f"{what}: no values given")
    return tuple(out)


@dataclass(frozen=True)
class TreeJob:
    """One tree of 2^log_n random keys and everything measured on it."""

    scheme: str
    width: int
    log_n: int
    keys: tuple[int, ...]  # key counts proven
    left_out: tuple[tuple[int, str], ...]  # key counts not proven on this tree, and why
    paths: tuple[str, ...]  # verifier paths (on-chain), multiproof paths first
    merkle: bool  # the keccak Merkle twin over the same pairs and keys
    chains: tuple[str, ...]  # on-chain: "anvil" or "rpc", then "embedded" for the cross-check

    @property
    def leaves(self) -> int:
        return 2**self.log_n

    @property
    def label(self) -> str:
        return f"{self.scheme} width {self.width}, 2^{self.log_n} leaves"

    def row_keys(self, mode: str) -> list[tuple[Any, ...]]:
        """The identity of every row this tree writes: on-chain (scheme, width, leaves, keys, path);
        off-chain ("size", leaves, width) and ("multi", leaves, width, keys); scale ("scale", leaves,
        width)."""
        if mode == ONCHAIN:
            return list(self.onchain_rows())
        if mode == SCALE:
            return [("scale", self.leaves, self.width)]
        return [("size", self.leaves, self.width)] + [
            ("multi", self.leaves, self.width, k) for k in self.keys
        ]

    def pending(self, mode: str, done: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        done = set(done)
        return [r for r in self.row_keys(mode) if r not in done]

    def onchain_rows(self) -> list[tuple[str, int, int, int, str]]:
        """(scheme, width, leaves, keys, path) of every row this tree writes on-chain, in order."""
        rows = []
        for k in self.keys:
            rows += [(self.scheme, self.width, self.leaves, k, p) for p in self.paths_for_keys(k)]
            if self.merkle:
                rows += [(MERKLE, 2, self.leaves, k, p) for p in merkle_paths(k)]
        return rows

    def paths_for_keys(self, keys: int) -> list[str]:
        """Multiproof paths for every count; single-proof paths for one key (after the others)."""
        return [p for p in self.paths if keys == 1 or p not in _single_paths()]


def _single_paths() -> set[str]:
    return {p.name for p in paths_for(BLS) + paths_for(BN) if p.proof_type == SINGLE}


def merkle_paths(keys: int) -> list[str]:
    return (["merkle-single"] if keys == 1 else []) + ["merkle-multi"]


@dataclass(frozen=True)
class BenchPlan:
    mode: str
    trees: tuple[TreeJob, ...]
    seed: int
    fork: str | None = None
    chain: str | None = None  # "anvil" (started here) or "rpc"
    changes: int = 0  # scale: changes per batch update
    notes: tuple[str, ...] = ()

    def row_keys(self) -> list[tuple[Any, ...]]:
        """The identity of every row the run writes, in order (see TreeJob.row_keys)."""
        return [r for t in self.trees for r in t.row_keys(self.mode)]


def make_plan(
    mode: str,
    *,
    quick: bool = False,
    sizes: str | None = None,
    widths: str | None = None,
    keys: str | None = None,
    seed: int = 1,
    fork: str | None = None,
    with_bls: bool = True,
    bn254_size: int | None = None,
    no_bn254: bool = False,
    embedded_max: int | None = None,
    rpc: bool = False,
    changes: int = 10_000,
) -> BenchPlan:
    """The plan for the options as given (None: the mode's default, see DEFAULTS)."""
    d = DEFAULTS[(mode, quick)]
    log_sizes = parse_ints(sizes, "--sizes", 1, MAX_LOG2) if sizes is not None else d.sizes
    tree_widths = parse_ints(widths, "--widths", 2) if widths is not None else d.widths
    key_counts = parse_ints(keys, "--keys", 1) if keys is not None else d.keys
    for w in tree_widths:
        try:
            check_width(w)
        except Exception as exc:
            raise ValueError(f"--widths: {exc}") from None
    notes: list[str] = []
    trees: list[TreeJob] = []
    if bn254_size is not None and not 1 <= bn254_size <= MAX_LOG2:
        raise ValueError(f"--bn254-size: {bn254_size} is out of range (from 1 to {MAX_LOG2})")
    if bn254_size is not None and no_bn254:
        raise ValueError("--bn254-size sizes the tree --no-bn254 skips: give one or the other")
    if embedded_max is not None and rpc:
        raise ValueError("--embedded-max: the embedded cross-check runs beside anvil, not with --rpc-url")
    if mode == ONCHAIN and not with_bls:
        options = (("--sizes", sizes), ("--widths", widths), ("--embedded-max", embedded_max))
        given = [name for name, value in options if value is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)}: {fork} rules lack EIP-2537, so there is no BLS12-381 tree to size "
                "(the BN254 tree's size is --bn254-size)"
            )
    embedded_limit = 10 if embedded_max is None else embedded_max

    def job(scheme: str, width: int, log_n: int, merkle: bool, chains: tuple[str, ...]) -> TreeJob:
        kept = tuple(k for k in key_counts if k <= 2**log_n)
        left = tuple((k, f"the tree has {2**log_n:,} keys") for k in key_counts if k > 2**log_n)
        paths = tuple(
            p.name for p in sorted(paths_for(scheme), key=lambda p: p.proof_type == SINGLE)
        )  # multiproof paths first, as the tables expect
        return TreeJob(scheme, width, log_n, kept, left, paths if mode == ONCHAIN else (), merkle, chains)

    if mode == SCALE:
        trees = [TreeJob(BLS, w, n, (), (), (), False, ()) for n in log_sizes for w in tree_widths]
        chain = None
        return BenchPlan(mode, tuple(trees), seed, None, chain, changes, tuple(notes))
    if mode == OFFCHAIN:
        trees = [job(BLS, w, n, True, ()) for n in log_sizes for w in tree_widths]
    else:
        main = "rpc" if rpc else "anvil"
        if with_bls:
            for n in log_sizes:
                for w in tree_widths:
                    embedded = (main, "embedded") if n <= embedded_limit and not rpc else (main,)
                    trees.append(job(BLS, w, n, w == tree_widths[0], embedded))
        else:
            notes.append(f"{fork} rules lack EIP-2537: BLS12-381 left out; BN254 with the Merkle twin")
        if not no_bn254:
            bn = bn254_size if bn254_size is not None else d.bn254_size
            assert bn is not None
            trees.append(job(BN, BN254_WIDTH, bn, not with_bls, (main,)))
        elif not with_bls:
            raise ValueError(f"--no-bn254 under {fork} rules leaves nothing to measure (no EIP-2537 there)")
    for t in trees:
        if not t.keys:
            notes.append(
                f"{t.label}: no key count fits ({shown(key_counts)} asked; the tree has {t.leaves:,} keys)"
            )
            continue
        for k, why in t.left_out:
            notes.append(f"{t.label}: {k:,} keys left out ({why})")
    chain = ("rpc" if rpc else "anvil") if mode == ONCHAIN else None
    return BenchPlan(mode, tuple(trees), seed, fork, chain, 0, tuple(notes))


def onchain_row_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["scheme"], row["width"], row["leaves"], row["keys"], row["path"])


# ------------------------------------------------------------------------------------ duration


@dataclass
class Line:
    """Least-squares seconds = fixed + per_unit * x, kept as running sums so runs can be merged."""

    n: int = 0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    def add(self, x: float, seconds: float) -> None:
        self.n += 1
        self.sx += x
        self.sy += seconds
        self.sxx += x * x
        self.sxy += x * seconds

    def fit(self) -> tuple[float, float] | None:
        """(fixed, per_unit), or None while two different x have not been seen."""
        if self.n < 2:
            return None
        var = self.n * self.sxx - self.sx**2
        if var <= 1e-9 * max(1.0, self.sxx):
            return None
        b = (self.n * self.sxy - self.sx * self.sy) / var
        a = (self.sy - b * self.sx) / self.n
        if b < 0:
            return self.sy / self.n, 0.0
        if a < 0:
            return 0.0, self.sxy / self.sxx
        return a, b

    def as_list(self) -> list[float]:
        return [self.n, self.sx, self.sy, self.sxx, self.sxy]


# Stated per-unit figures (fixed seconds, seconds per unit): the lines fitted to the default
# `verkle bench --onchain` and `verkle bench` runs on the 2-core development machine. A run records its
# own in RATES_FILE, and later plans in that folder use them (see Rates.predict). Units: leaves for
# builds, keys for proofs and verifications, one for deployments.
STATED: dict[str, tuple[float, float]] = {
    f"build:{BLS}:16": (0.05, 6e-5),
    f"build:{BLS}:256": (0.7, 5.3e-5),
    f"build:{BLS}:4096": (0.6, 3.5e-5),
    f"build:{BN}:16": (0.0, 1.3e-2),
    "merkle-build": (0.015, 4.8e-6),
    "save": (0.0, 6e-6),
    f"prove:{BLS}:16": (0.01, 2e-4),
    f"prove:{BLS}:256": (0.044, 2.1e-4),
    f"prove:{BLS}:4096": (0.37, 6e-4),
    f"prove:{BN}:16": (0.28, 1.7e-4),
    f"verify:{BLS}": (0.006, 8.7e-5),
    "merkle-prove": (0.0002, 4.4e-6),
    f"tx:anvil:{BLS}": (0.11, 3e-4),
    f"tx:anvil:{BN}": (0.12, 3.1e-4),
    f"tx:anvil:{MERKLE}": (0.09, 8.7e-4),
    f"tx:rpc:{BLS}": (0.5, 3e-4),
    f"tx:rpc:{BN}": (0.5, 3.1e-4),
    f"tx:rpc:{MERKLE}": (0.5, 8.7e-4),
    f"tx:embedded:{BLS}": (1.0, 0.05),
    f"tx:embedded:{MERKLE}": (0.04, 7.8e-3),
    "deploy:anvil": (0.0, 0.26),
    "deploy:rpc": (0.0, 5.0),
    "deploy:embedded": (0.0, 0.9),
    "start:anvil": (0.0, 3.0),
    "start:rpc": (0.0, 1.0),
    f"disk-build:{BLS}:256": (1.0, 9.5e-5),
    f"disk-build:{BLS}:4096": (1.0, 9.5e-5),
    "cold-proof": (1.5, 0.0),
    "update": (0.5, 8e-4),
}
RATES_FILE = "verkle_bench_rates.json"


def rate_key(kind: str, scheme: str | None = None, width: int | None = None, chain: str | None = None) -> str:
    return ":".join(str(p) for p in (kind, chain, scheme, width) if p is not None)


@dataclass
class Rates:
    """Seconds per unit of work: the stated figures, replaced by measured ones where a run saw enough."""

    measured: dict[str, Line] = field(default_factory=dict)
    source: str = "stated per-unit figures (2-core development machine)"

    def predict(self, key: str, x: float) -> float:
        """Seconds for ``x`` units: the measured line where two sizes were seen; where one was, the
        stated line scaled through the measured mean (this machine's speed, the stated shape)."""
        line = self.measured.get(key)
        fit = line.fit() if line is not None else None
        if fit is not None and all(math.isfinite(v) for v in fit):
            return fit[0] + fit[1] * x
        stated = STATED.get(key) or _nearest_stated(key)
        seconds = stated[0] + stated[1] * x
        if line is not None and line.n > 0:
            at_mean = stated[0] + stated[1] * line.sx / line.n
            if at_mean > 0:
                return seconds * (line.sy / line.n) / at_mean
        return seconds

    def uses_measured(self) -> list[str]:
        return sorted(k for k, line in self.measured.items() if line.fit() is not None)

    def record(self, key: str, x: float, seconds: float) -> None:
        self.measured.setdefault(key, Line()).add(x, seconds)

    @classmethod
    def load(cls, folder: Path) -> Rates:
        """The rates an earlier run in ``folder`` recorded; stated figures where none. An entry that
        is not five finite, non-negative sums (a hand-edited or damaged file) is left out."""
        path = folder / RATES_FILE
        try:
            data = json.loads(path.read_text())
            entries = data["rates"].items()
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()
        measured = {}
        for key, sums in entries:
            line = _line(sums)
            if line is not None:
                measured[str(key)] = line
        if not measured:
            return cls()
        return cls(measured, f"rates measured by earlier runs ({path}), stated figures elsewhere")

    def save(self, folder: Path) -> None:
        path = folder / RATES_FILE
        tmp = path.with_name(path.name + ".tmp")
        rates = {k: v.as_list() for k, v in self.measured.items()}
        tmp.write_text(json.dumps({"version": 1, "rates": rates}))
        os.replace(tmp, path)


def _line(sums: Any) -> Line | None:
    """Five running sums as a Line, or None unless they are finite, non-negative and n is a count."""
    if not isinstance(sums, list) or len(sums) != 5:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sums):
        return None
    if not all(math.isfinite(v) and 0 <= v < 1e15 for v in sums) or sums[0] != int(sums[0]) or sums[0] < 1:
        return None
    return Line(int(sums[0]), *(float(v) for v in sums[1:]))


def _nearest_stated(key: str) -> tuple[float, float]:
    """A width without a stated figure takes the nearest stated width of the same kind and scheme."""
    head, _, tail = key.rpartition(":")
    if tail.isdigit():
        near = [(abs(math.log2(int(k.rpartition(":")[2]) / int(tail))), k) for k in STATED
                if k.rpartition(":")[0] == head]  # fmt: skip
        if near:
            return STATED[min(near)[1]]
    raise KeyError(f"no rate for {key}")


def tree_seconds(plan: BenchPlan, tree: TreeJob, rates: Rates, done: Iterable[tuple[Any, ...]] = ()) -> float:
    """Expected wall time of one tree's work, leaving out rows already ``done`` (resume)."""
    rows = tree.pending(plan.mode, done)
    if not rows:
        return 0.0
    scheme, width, n = tree.scheme, tree.width, tree.leaves
    if plan.mode == SCALE:
        s = rates.predict(rate_key("disk-build", scheme, width), n) + rates.predict("cold-proof", 1)
        return s + rates.predict("update", plan.changes)
    if plan.mode == OFFCHAIN:
        pending = [r[3] for r in rows if r[0] == "multi"]
        s = rates.predict(rate_key("build", scheme, width), n) + rates.predict("save", n)
        s += rates.predict("merkle-build", n)
        samples = min(8, n)
        one = 2 * rates.predict(rate_key("prove", scheme, width), 1) + rates.predict(f"verify:{BLS}", 1)
        s += samples * one
        for k in pending:
            s += rates.predict(rate_key("prove", scheme, width), k) + rates.predict(f"verify:{BLS}", k)
            s += rates.predict("merkle-prove", k)
        return s
    s = rates.predict(rate_key("build", scheme, width), n)
    if tree.merkle:
        s += rates.predict("merkle-build", n)
    s += sum(rates.predict(rate_key("deploy", chain=c), 1) for c in tree.chains) * (2 if tree.merkle else 1)
    for k in sorted({r[3] for r in rows}):
        s += rates.predict(rate_key("prove", scheme, width), k) * (2 if k == 1 else 1)
    for row_scheme, _, _, k, _ in rows:
        for c in tree.chains:
            if c == "embedded" and k > EMBEDDED_MAX_KEYS:
                continue
            s += rates.predict(rate_key("tx", row_scheme, chain=c), k)
    return s


def plan_seconds(plan: BenchPlan, rates: Rates, done: Iterable[tuple[Any, ...]] = ()) -> float:
    """The whole plan's expected wall time (on-chain: the node's start included)."""
    done = set(done)
    work = sum(tree_seconds(plan, t, rates, done) for t in plan.trees)
    if plan.mode == ONCHAIN and work:
        work += rates.predict(rate_key("start", chain=plan.chain), 1)
    return work


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3 h 20 min'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    hours = int(seconds // 3600)
    return f"{hours} h {round((seconds - 3600 * hours) / 60)} min"


def bn254_warning(plan: BenchPlan, rates: Rates) -> str | None:
    """The warning a BN254 tree above BN254_WARN_LOG2 gets before the run starts."""
    for t in plan.trees:
        if t.scheme == BN and t.log_n > BN254_WARN_LOG2:
            seconds = rates.predict(rate_key("build", BN, t.width), t.leaves)
            return (
                f"WARNING: the BN254 tree has 2^{t.log_n} leaves: its pure-Python build alone should take "
                f"about {duration(seconds)} (above 2^{BN254_WARN_LOG2} it takes minutes to hours); "
                f"--bn254-size {BN254_WARN_LOG2} or less keeps it short, --no-bn254 skips it"
            )
    return None


def _work(plan: BenchPlan, t: TreeJob) -> str:
    if plan.mode == ONCHAIN:
        return ", ".join(t.paths) + (" + merkle" if t.merkle else "")
    if plan.mode == OFFCHAIN:
        return "prove + verify off-chain, merkle"
    return f"build to disk, cold-open proof, {plan.changes:,} changes"


def describe(plan: BenchPlan, rates: Rates, done: Mapping[tuple[Any, ...], Any] | None = None) -> str:
    """The plan as a table (``--dry-run``, and the head of every run)."""
    from evmkit.table import format_table

    done_keys = set(done or {})
    body = []
    for t in plan.trees:
        rows = t.row_keys(plan.mode)
        kept = sum(r in done_keys for r in rows)
        body.append(
            [
                t.scheme,
                t.width,
                f"2^{t.log_n}",
                shown(t.keys) or "-",
                _work(plan, t),
                " + ".join(t.chains) if plan.mode == ONCHAIN else "-",
                f"{len(rows)}" + (f" ({kept} kept)" if kept else ""),
                duration(tree_seconds(plan, t, rates, done_keys)),
            ]
        )
    header = ["scheme", "width", "leaves", "keys", "work", "chains", "rows", "expected"]
    total = plan_seconds(plan, rates, done_keys)
    lines = [format_table(body, header), ""]
    lines += [f"note: {n}" for n in plan.notes]
    lines.append(f"expected duration: about {duration(total)} (from {rates.source})")
    return "\n".join(lines)
