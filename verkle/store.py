"""A tree on disk: one SQLite file with the leaves, every node's commitment and the scheme it uses.

Builds are written to a temporary file and renamed into place; later changes (the tree's journal)
go in as one transaction. Either way a crash leaves the previous tree intact. `open_tree` reads
nothing up front: nodes read their slots from the file when a walk first reaches them (`TreeFile`).
`load` reads everything, rebuilds the shape from the leaves (no curve arithmetic) and takes the
commitments from the file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .hashing import keccak256
from .kzg import KZG
from .slots import KEY_SIZE, KeyLayout
from .tree import Leaf, Node, VerkleTree, shaped

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


def prefix_bytes(p: int) -> bytes:
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
                ((n.depth, prefix_bytes(n.prefix), n.encoded) for n in tree.nodes()),
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
    write_meta(db, tree.scheme, tree.root_commitment, len(tree), setup_label)


def write_meta(db: sqlite3.Connection, scheme: KZG, root: bytes, size: int, setup_label: str | None) -> None:
    """The meta rows every tree file has (`setup_label` None: leave the recorded setup as it is)."""
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "scheme": scheme.name,
        "width": str(scheme.width),
        "setup_fingerprint": setup_fingerprint(scheme),
        "root": root.hex(),
        "size": str(size),
    }
    if setup_label is not None:
        meta["setup"] = setup_label or scheme.setup.source
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
                    db.execute(
                        "DELETE FROM nodes WHERE depth = ? AND prefix = ?", (depth, prefix_bytes(prefix))
                    )
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO nodes VALUES (?, ?, ?)", (depth, prefix_bytes(prefix), enc)
                    )
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
    try:
        return TreeInfo(
            str(meta["scheme"]),
            int(meta["width"]),
            str(meta.get("setup", "")),
            str(meta["setup_fingerprint"]),
            bytes.fromhex(meta["root"]),
            int(meta["size"]),
        )
    except KeyError as exc:
        raise StoreError(f"{path} is a damaged verkle tree file: its meta table has no {exc}") from None
    except (ValueError, TypeError) as exc:
        raise StoreError(
            f"{path} is a damaged verkle tree file: a meta value does not parse ({exc})"
        ) from None


def _info_and_scheme(path: str | Path, scheme_for: Callable[[TreeInfo], KZG]) -> tuple[TreeInfo, KZG]:
    """The file's description and the scheme `scheme_for` loads for it, refused unless they match."""
    info = read_info(path)
    scheme = scheme_for(info)
    if scheme.name != info.scheme or scheme.width != info.width:
        raise StoreError(f"{path} holds a {info.scheme} width-{info.width} tree")
    if setup_fingerprint(scheme) != info.setup_fingerprint:
        raise StoreError(f"{path} was built with another setup ({info.setup}); pass that setup")
    return info, scheme


def load(path: str | Path, scheme_for: Callable[[TreeInfo], KZG]) -> VerkleTree:
    """Reopen a tree; `scheme_for` turns the file's scheme description into a loaded scheme."""
    info, scheme = _info_and_scheme(path, scheme_for)
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


# ---------------------------------------------------------------------------- read on demand

KEY_LIMIT = 1 << (8 * KEY_SIZE)


class TreeFile:
    """A tree file that nodes read their slots from when first used (`ChildSource`): one range query
    over the child nodes, then the leaves in the other slots, by one range scan where few keys lie
    under the node and by one seek per run of leaf slots where many do (near the root). Nothing is
    read before a walk reaches it, so a proof or an update touches a few nodes of a tree of any size."""

    SCAN_KEYS = 4  # scan a node's whole key range when about this many keys per slot lie under it

    def __init__(self, path: Path, layout: KeyLayout, size: int) -> None:
        self.path = path
        self.layout = layout
        self.size = size
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.loaded = 0  # nodes read so far (the working set's size)
        self.closed = False

    def close(self) -> None:
        self.db.close()
        self.closed = True

    def _slot(self, key: bytes, depth: int) -> int:
        lay = self.layout
        return lay.index(lay.padded(key), depth)

    def load_children(self, node: Node) -> dict[int, Node | Leaf]:
        if self.closed:
            raise ValueError(f"the tree file {self.path} was closed (tree.close()): open it again")
        width = self.layout.width
        d, p = node.depth, node.prefix
        first = p * width
        kids: dict[int, Node | Leaf] = {}
        for prefix, encoded in self.db.execute(
            "SELECT prefix, commitment FROM nodes WHERE depth = ? AND prefix >= ? AND prefix < ?",
            (d + 1, prefix_bytes(first), prefix_bytes(first + width)),
        ):
            child_prefix = int.from_bytes(prefix, "big")
            child = Node(d + 1, child_prefix, source=self)
            child.encoded = encoded
            kids[child_prefix - first] = child
        if self.size >> (self.layout.bits * d) <= self.SCAN_KEYS * width:
            self._scan_leaves(d, p, kids)
        else:
            self._seek_leaves(d, first, kids)
        self.loaded += 1
        return kids

    def _scan_leaves(self, d: int, p: int, kids: dict[int, Node | Leaf]) -> None:
        """Every key under the node in one range scan; a slot that is not a node holds one leaf."""
        lo, hi = self.layout.key_bound(d, p), self.layout.key_bound(d, p + 1)
        for key, value in self.db.execute(
            "SELECT key, value FROM leaves WHERE key >= ? AND key < ? ORDER BY key",
            (lo.to_bytes(KEY_SIZE, "big"), _key_bytes_or_max(hi)),
        ):
            idx = self._slot(key, d)
            if idx not in kids:
                kids[idx] = Leaf(key, value)

    def _seek_leaves(self, d: int, first: int, kids: dict[int, Node | Leaf]) -> None:
        """One seek per run of slots between child nodes (near the root, where a scan would read
        the keys of whole subtrees)."""
        width = self.layout.width
        slot = 0
        while slot < width:
            if slot in kids:
                slot += 1
                continue
            stop = slot + 1  # the run of slots up to the next child node
            while stop < width and stop not in kids:
                stop += 1
            lo, hi = self.layout.key_bound(d + 1, first + slot), self.layout.key_bound(d + 1, first + stop)
            if lo >= min(hi, KEY_LIMIT):
                slot = stop
                continue
            row = self.db.execute(
                "SELECT key, value FROM leaves WHERE key >= ? AND key < ? ORDER BY key LIMIT 1",
                (lo.to_bytes(KEY_SIZE, "big"), _key_bytes_or_max(hi)),
            ).fetchone()
            if row is None:
                slot = stop
                continue
            key, value = row
            idx = self._slot(key, d)
            kids[idx] = Leaf(key, value)
            slot = idx + 1


def _key_bytes_or_max(bound: int) -> bytes:
    """An exclusive upper bound as a BLOB: 2**256 sorts above every 32-byte key as 33 bytes."""
    return bound.to_bytes(KEY_SIZE + 1, "big")[1:] if bound < KEY_LIMIT else b"\xff" * (KEY_SIZE + 1)


def open_tree(path: str | Path, scheme_for: Callable[[TreeInfo], KZG]) -> VerkleTree:
    """Open a tree without reading it: its nodes and leaves are read as walks reach them (a proof, an
    update). Cheap for any size; `commit` writes what changed. `load` reads (and checks) everything."""
    path = Path(path)
    info, scheme = _info_and_scheme(path, scheme_for)
    source = TreeFile(path, KeyLayout(scheme.width), info.size)
    row = source.db.execute("SELECT commitment FROM nodes WHERE depth = 0").fetchall()
    if len(row) != 1 or row[0][0] != info.root:
        source.close()
        raise StoreError(f"{path} is inconsistent: its root node does not match the recorded root")
    tree = VerkleTree(scheme)
    tree.root = Node(0, 0, source=source)
    tree.root.encoded = info.root
    tree.size = info.size
    tree.journal.clear()
    return tree
