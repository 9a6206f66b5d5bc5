"""A tree on disk: one SQLite file with the leaves, every node's commitment and the scheme it uses.

Builds are written to a temporary file and renamed into place; later changes (the tree's journal)
go in as one transaction. Either way a crash leaves the previous tree intact. Reopening rebuilds
the shape from the leaves (no curve arithmetic) and takes the commitments from the file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .hashing import keccak256
from .kzg import KZG
from .tree import VerkleTree, shaped

FORMAT = "verkle-tree"
VERSION = "1"
PREFIX_BYTES = 34

SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE leaves (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE nodes (depth INTEGER NOT NULL, prefix BLOB NOT NULL, commitment BLOB NOT NULL,
                    PRIMARY KEY (depth, prefix)) WITHOUT ROWID;
"""


class StoreError(RuntimeError):
    """A tree file that is missing, not ours, or inconsistent."""


@dataclass(frozen=True)
class TreeInfo:
    scheme: str
    width: int
    setup: str  # where the setup came from (ceremony, .ptau path, insecure)
    setup_fingerprint: str
    root: bytes
    size: int


def setup_fingerprint(scheme: KZG) -> str:
    """Identifies the setup, so a BN254 tree is never reopened under another .ptau file."""
    c = scheme.curve
    return keccak256(c.encode(scheme.setup.lagrange[0]) + c.encode(scheme.setup.lagrange[-1])).hex()[:16]


def _prefix(p: int) -> bytes:
    return p.to_bytes(PREFIX_BYTES, "big")


def save(tree: VerkleTree, path: str | Path, setup_label: str = "") -> None:
    """Write the whole tree to a new file (atomically replacing any file at `path`)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript(SCHEMA)
        with db:
            db.executemany("INSERT INTO leaves VALUES (?, ?)", tree.items())
            db.executemany(
                "INSERT INTO nodes VALUES (?, ?, ?)",
                ((n.depth, _prefix(n.prefix), n.encoded) for n in tree.nodes()),
            )
            _write_meta(db, tree, setup_label)
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(tmp, path)
    tree.journal.clear()


def _write_meta(db: sqlite3.Connection, tree: VerkleTree, setup_label: str | None) -> None:
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "scheme": tree.scheme.name,
        "width": str(tree.scheme.width),
        "setup_fingerprint": setup_fingerprint(tree.scheme),
        "root": tree.root_commitment.hex(),
        "size": str(len(tree)),
    }
    if setup_label is not None:
        meta["setup"] = setup_label or tree.scheme.setup.source
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())


def commit(tree: VerkleTree, path: str | Path) -> None:
    """Write what changed since the tree was loaded or last saved, in one transaction."""
    db = _connect(path)
    try:
        with db:
            for key, value in tree.journal.leaves.items():
                if value is None:
                    db.execute("DELETE FROM leaves WHERE key = ?", (key,))
                else:
                    db.execute("INSERT OR REPLACE INTO leaves VALUES (?, ?)", (key, value))
            for (depth, prefix), enc in tree.journal.nodes.items():
                if enc is None:
                    db.execute("DELETE FROM nodes WHERE depth = ? AND prefix = ?", (depth, _prefix(prefix)))
                else:
                    db.execute("INSERT OR REPLACE INTO nodes VALUES (?, ?, ?)", (depth, _prefix(prefix), enc))
            _write_meta(db, tree, None)
    finally:
        db.close()
    tree.journal.clear()


def _connect(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"no tree file at {path} (create one with `verkle build`)")
    db = sqlite3.connect(path)
    try:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        db.close()
        raise StoreError(f"{path} is not a verkle tree file (not SQLite)") from None
    if not {"meta", "leaves", "nodes"} <= names:
        db.close()
        raise StoreError(f"{path} is not a verkle tree file")
    return db


def read_info(path: str | Path) -> TreeInfo:
    db = _connect(path)
    try:
        meta = dict(db.execute("SELECT name, value FROM meta"))
    finally:
        db.close()
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise StoreError(f"{path}: unsupported tree format {meta.get('format')} {meta.get('version')}")
    return TreeInfo(
        meta["scheme"],
        int(meta["width"]),
        meta.get("setup", ""),
        meta["setup_fingerprint"],
        bytes.fromhex(meta["root"]),
        int(meta["size"]),
    )


def load(path: str | Path, scheme_for: Callable[[TreeInfo], KZG]) -> VerkleTree:
    """Reopen a tree; `scheme_for` turns the file's scheme description into a loaded scheme."""
    info = read_info(path)
    scheme = scheme_for(info)
    if scheme.name != info.scheme or scheme.width != info.width:
        raise StoreError(f"{path} holds a {info.scheme} width-{info.width} tree")
    if setup_fingerprint(scheme) != info.setup_fingerprint:
        raise StoreError(f"{path} was built with another setup ({info.setup}); pass that setup")
    db = _connect(path)
    try:
        contents = dict(db.execute("SELECT key, value FROM leaves"))
        stored = {
            (d, int.from_bytes(p, "big")): c
            for d, p, c in db.execute("SELECT depth, prefix, commitment FROM nodes")
        }
    finally:
        db.close()

    def encoding(depth: int, prefix: int) -> bytes:
        try:
            return stored.pop((depth, prefix))
        except KeyError:
            raise StoreError(f"{path} is inconsistent: no commitment for the node at depth {depth}") from None

    tree = shaped(scheme, contents, encoding)
    if stored or tree.root_commitment != info.root or len(tree) != info.size:
        raise StoreError(f"{path} is inconsistent: nodes, leaves and root do not agree")
    return tree
