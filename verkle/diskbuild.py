"""A bulk build straight to a tree file, for trees larger than memory.

1. The pairs stream into the new file's ``leaves`` table (SQLite sorts them, and a key given twice
   keeps its last value), in sorted batches.
2. Each root slot's keys are read back in key order, one slot at a time, and handed to a runner
   (this process, a local pool, or a Dask cluster: :mod:`verkle.runners`) as an independent task
   (:func:`verkle.subtrees.commit_subtree`); the node encodings that come back are written as they
   arrive. Only a few slots' keys are in flight at once.
3. The root is one MSM over the W slots' field elements.

Everything goes to ``TREE.tmp``, renamed over ``TREE`` only when whole: an interrupted build leaves
the previous file (or none), never a half-written tree that opens. The file is the one
``store.save`` writes for the same contents, byte for byte in every row.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from evmkit.progress import bar

from .kzg import KZG
from .runners import Runner, make_runner
from .slots import KEY_SIZE, KeyLayout, check_key, check_value, leaf_field, node_field, value_hash
from .store import SCHEMA, prefix_bytes, setup_fingerprint, write_meta
from .subtrees import SchemeSpec, SubtreeResult, commit_subtree

STAGE_BATCH = 200_000
FAST_PRAGMAS = "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;"
WRITE_PRAGMAS = "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -200000;"


class BuildError(RuntimeError):
    """A build that cannot finish as asked (a worker with another setup, ...)."""


@dataclass(frozen=True)
class BuildReport:
    """What a bulk build to a file did and what it took: keys, root, wall times by phase, the
    subtrees' own compute time summed over workers (the basis of scale projections), the runner and
    the peak memory."""

    path: Path
    size: int
    root: bytes
    seconds: float  # the whole build, file renamed into place
    stage_seconds: float  # pairs into the file
    commit_seconds: float  # subtrees shaped and committed (wall time), root included
    subtree_seconds: float  # the tasks' own time, summed over every worker
    subtrees: int
    largest_subtree: int  # keys under the fullest root slot
    runner: str
    peak_rss_mib: float  # this process and its child processes (resource.getrusage)

    @property
    def keys_per_second(self) -> float:
        return self.size / self.seconds if self.seconds else 0.0


def peak_rss_mib() -> float:
    """The peak resident memory of this process plus that of its largest waited-for child (Linux
    reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def _scratch(path: Path, suffix: str) -> Path:
    """A new empty file next to `path` with a unique name (the rename into place stays atomic)."""
    handle, name = tempfile.mkstemp(dir=path.parent or ".", prefix=path.name + ".", suffix=suffix)
    os.close(handle)
    return Path(name)


def _stage(db: sqlite3.Connection, pairs: Iterable[tuple[bytes, bytes]], progress: bool) -> None:
    """Pairs into `leaves`, in sorted batches (later pairs win, across batches too)."""
    batch: dict[bytes, bytes] = {}
    with bar(0, "reading pairs", "key", enabled=progress) as shown:
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"each pair must be (key, value), got {type(pair).__name__} {str(pair)[:40]}")
            key, value = pair
            batch[check_key(key)] = check_value(value)
            if len(batch) >= STAGE_BATCH:
                db.executemany("INSERT OR REPLACE INTO leaves VALUES (?, ?)", sorted(batch.items()))
                shown.update(len(batch))
                batch.clear()
        db.executemany("INSERT OR REPLACE INTO leaves VALUES (?, ?)", sorted(batch.items()))
        shown.update(len(batch))


def _slot_range(layout: KeyLayout, slot: int) -> tuple[bytes, bytes | None]:
    """Keys under root slot `slot`: [lo, hi) as BLOBs (hi None: to the end)."""
    lo, hi = layout.key_bound(1, slot), layout.key_bound(1, slot + 1)
    return lo.to_bytes(KEY_SIZE, "big"), hi.to_bytes(KEY_SIZE, "big") if hi < 1 << (8 * KEY_SIZE) else None


def _slots(db: sqlite3.Connection, layout: KeyLayout) -> Iterator[tuple[int, list[tuple[bytes, bytes]]]]:
    for slot in range(layout.width):
        lo, hi = _slot_range(layout, slot)
        if hi is None:
            rows = db.execute("SELECT key, value FROM leaves WHERE key >= ? ORDER BY key", (lo,)).fetchall()
        else:
            rows = db.execute(
                "SELECT key, value FROM leaves WHERE key >= ? AND key < ? ORDER BY key", (lo, hi)
            ).fetchall()
        if rows:
            yield slot, rows


def build_file(
    scheme: KZG,
    spec: SchemeSpec,
    pairs: Iterable[tuple[bytes, bytes]],
    path: str | Path,
    *,
    workers: int | None = None,
    cluster: str | None = None,
    runner: Runner | None = None,
    setup_label: str = "",
    progress: bool | None = None,
) -> BuildReport:
    """Build the tree of `pairs` into a new file at `path` (atomically replacing any file there).
    Subtrees run on `runner`, else on the Dask cluster `cluster` names (``local:N`` or a scheduler
    address), else on `workers` local processes."""
    started = time.perf_counter()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    if isinstance(pairs, (str, bytes, dict)) or not isinstance(pairs, Iterable):
        raise TypeError(f"pairs must be an iterable of (key, value) pairs, got {type(pairs).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory: give the tree file's path")
    tmp = _scratch(path, ".tmp")  # a name of its own: two builds of one path never share it
    layout = KeyLayout(scheme.width)
    shown = progress is not False
    own_runner = None
    db = sqlite3.connect(tmp)
    try:
        db.executescript(FAST_PRAGMAS + SCHEMA)
        _stage(db, pairs, shown)
        db.commit()
        db.close()  # drop the staging cache before worker processes fork: they neither share nor count it
        db = sqlite3.connect(tmp)
        db.executescript(WRITE_PRAGMAS)
        stage_seconds = time.perf_counter() - started
        (size,) = db.execute("SELECT COUNT(*) FROM leaves").fetchone()
        if runner is None:
            runner = own_runner = make_runner(size, workers, cluster)
        commit_started = time.perf_counter()
        fields: dict[int, int] = {}
        largest = 0
        tasks_seconds = 0.0
        subtrees = 0
        fingerprint = setup_fingerprint(scheme)

        def tasks() -> Iterator[tuple]:
            nonlocal largest
            for slot, rows in _slots(db, layout):
                largest = max(largest, len(rows))
                if len(rows) == 1:
                    (key, value), *_ = rows
                    fields[slot] = leaf_field(scheme.field, key, value_hash(value))
                else:
                    yield spec, slot, rows

        with bar(layout.width, "committing subtrees", "slot", enabled=shown) as slots_bar:
            results: Iterator[SubtreeResult] = runner.map_unordered(
                commit_subtree, tasks(), in_flight=2 * runner.workers
            )
            for result in results:
                if result.fingerprint != fingerprint:
                    raise BuildError(
                        f"a worker loaded another setup for {spec.name} (fingerprint {result.fingerprint}, "
                        f"here {fingerprint}): every worker must read the same .ptau file"
                    )
                db.executemany(
                    "INSERT INTO nodes VALUES (?, ?, ?)",
                    ((d, prefix_bytes(p), enc) for d, p, enc in result.nodes),
                )
                fields[result.slot] = node_field(scheme.field, result.nodes[-1][2])
                tasks_seconds += result.seconds
                subtrees += 1
                slots_bar.update()
        root = scheme.curve.encode(scheme.commit_sparse(fields))
        db.execute("INSERT INTO nodes VALUES (0, ?, ?)", (prefix_bytes(0), root))
        write_meta(db, scheme, root, size, setup_label)
        db.commit()
        commit_seconds = time.perf_counter() - commit_started
        db.close()
        os.replace(tmp, path)
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if own_runner is not None:
            own_runner.close()
    return BuildReport(
        path,
        size,
        root,
        time.perf_counter() - started,
        stage_seconds,
        commit_seconds,
        tasks_seconds,
        subtrees,
        largest,
        runner.description,
        peak_rss_mib(),
    )


def check_file(
    scheme: KZG,
    spec: SchemeSpec,
    path: str | Path,
    *,
    workers: int | None = None,
    cluster: str | None = None,
    progress: bool | None = None,
) -> BuildReport:
    """Check a tree file whole: rebuild it from its own leaves into a scratch file (as a bulk build
    does, memory bounded) and compare every node row and the recorded root and size. Raises
    StoreError naming the first difference."""
    from .store import StoreError, read_info

    path = Path(path)
    info = read_info(path)
    scratch = _scratch(path, ".check")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        leaves = source.execute("SELECT key, value FROM leaves ORDER BY key")
        report = build_file(
            scheme, spec, leaves, scratch, workers=workers, cluster=cluster, progress=progress
        )
        if report.size != info.size or report.root != info.root:
            raise StoreError(
                f"{path} is inconsistent: its leaves make a tree of {report.size:,} keys with root "
                f"{report.root.hex()[:16]}..., it records {info.size:,} keys and root "
                f"{info.root.hex()[:16]}..."
            )
        rebuilt = sqlite3.connect(scratch)
        try:
            query = "SELECT depth, prefix, commitment FROM nodes ORDER BY depth, prefix"
            stored_rows, fresh_rows = source.execute(query), rebuilt.execute(query)
            for stored, fresh in zip_longest(stored_rows, fresh_rows):
                if stored != fresh:
                    where = stored or fresh
                    raise StoreError(
                        f"{path} is inconsistent: the node at depth {where[0]}, prefix "
                        f"{int.from_bytes(where[1], 'big'):#x} is {'missing' if stored is None else 'wrong'}"
                        f"{' (a stray row)' if fresh is None else ''}"
                    )
        finally:
            rebuilt.close()
    finally:
        source.close()
        scratch.unlink(missing_ok=True)
    return report
