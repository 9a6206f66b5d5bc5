"""The Verkle trie: width-W internal nodes that KZG-commit to their slots, leaves holding (key, value).

Shape: a node exists at a prefix exactly when two or more keys share that prefix; a key's leaf sits
in the slot of the shallowest node where its prefix is its own. The shape (and so the root) depends
only on the contents, never on the order of inserts and deletes. Updates are homomorphic: when one
slot's field element changes by delta, the node's commitment moves by delta * L_slot, and so on up.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Protocol

from evmkit.progress import bar

from .curves import Point
from .kzg import KZG
from .slots import KeyLayout, check_key, check_value, leaf_field, node_field, value_hash


class Leaf:
    __slots__ = ("key", "value", "_field")

    def __init__(self, key: bytes, value: bytes) -> None:
        self.key = key
        self.value = value
        self._field: int | None = None


class ChildSource(Protocol):
    """Where a node read on demand gets its slots (a tree file: verkle.store.open_tree)."""

    def load_children(self, node: Node) -> dict[int, Node | Leaf]: ...

    def close(self) -> None: ...


class Node:
    __slots__ = ("depth", "prefix", "_children", "encoded", "_point", "_field", "_source")

    def __init__(self, depth: int, prefix: int, source: ChildSource | None = None) -> None:
        self.depth = depth
        self.prefix = prefix
        # None: not read yet; the source fills it on first use (a tree opened from disk)
        self._children: dict[int, Node | Leaf] | None = None if source is not None else {}
        self._source = source
        self.encoded: bytes = b""
        self._point: Point | None = None
        self._field: int | None = None

    @property
    def children(self) -> dict[int, Node | Leaf]:
        kids = self._children
        if kids is None:
            assert self._source is not None
            kids = self._children = self._source.load_children(self)
        return kids

    @property
    def loaded(self) -> bool:
        return self._children is not None


Child = Node | Leaf


class InconsistentTree(ValueError):
    """A tree read from a file whose stored commitments do not match what is stored under them (a
    damaged or edited file): nothing was changed."""


@dataclass
class BatchResult:
    """What `VerkleTree.update` did: keys inserted, updated, deleted, given an unchanged value or
    deleted while absent, and the nodes it recommitted."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    absent: int = 0
    nodes: int = 0


@dataclass
class Journal:
    """What changed since the last save: node ids -> encodings (None: deleted), keys -> values."""

    nodes: dict[tuple[int, int], bytes | None] = dc_field(default_factory=dict)
    leaves: dict[bytes, bytes | None] = dc_field(default_factory=dict)

    def clear(self) -> None:
        self.nodes.clear()
        self.leaves.clear()


class VerkleTree:
    """A Verkle tree of 32-byte keys and values under one scheme: `build` it from pairs, then `get`,
    `insert`, `delete`; `root_commitment` is the root that proofs and verifiers speak about."""

    def __init__(self, scheme: KZG) -> None:
        self.scheme = scheme
        self.layout = KeyLayout(scheme.width)
        self.journal = Journal()
        self.root = Node(0, 0)
        self._set_point(self.root, scheme.curve.identity())
        self.size = 0

    # ------------------------------------------------------------ field elements of slots

    def child_field(self, child: Child | None) -> int:
        if child is None:
            return 0
        if child._field is None:
            f = self.scheme.field
            child._field = (
                leaf_field(f, child.key, value_hash(child.value))
                if isinstance(child, Leaf)
                else node_field(f, child.encoded)
            )
        return child._field

    def point(self, node: Node) -> Point:
        if node._point is None:
            node._point = self.scheme.curve.decode(node.encoded)
        return node._point

    def _set_point(self, node: Node, point: Point) -> None:
        node._point = point
        node.encoded = self.scheme.curve.encode(point)
        node._field = None
        self.journal.nodes[(node.depth, node.prefix)] = node.encoded

    def node_values(self, node: Node) -> list[int]:
        """The node's vector in evaluation form (what its commitment commits to)."""
        values = [0] * self.scheme.width
        for idx, child in node.children.items():
            values[idx] = self.child_field(child)
        return values

    def _commit_node(self, node: Node) -> None:
        self._set_point(
            node, self.scheme.commit_sparse({idx: self.child_field(c) for idx, c in node.children.items()})
        )

    # ------------------------------------------------------------ reads

    @property
    def root_commitment(self) -> bytes:
        return self.root.encoded

    def __len__(self) -> int:
        return self.size

    def get(self, key: bytes) -> bytes | None:
        key = check_key(key)
        k = self.layout.padded(key)
        node, depth = self.root, 0
        while True:
            child = node.children.get(self.layout.index(k, depth))
            if child is None:
                return None
            if isinstance(child, Leaf):
                return child.value if child.key == key else None
            node, depth = child, depth + 1

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """All (key, value) pairs in key order."""
        stack: list[Child] = [self.root]
        while stack:
            item = stack.pop()
            if isinstance(item, Leaf):
                yield item.key, item.value
            else:
                stack.extend(item.children[i] for i in sorted(item.children, reverse=True))

    def nodes(self) -> Iterator[Node]:
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(c for c in node.children.values() if isinstance(c, Node))

    def path(self, key: bytes) -> tuple[list[tuple[Node, int]], Child | None]:
        """The (node, slot) pairs from the root down to where `key` ends, and what that slot holds."""
        k = self.layout.padded(key)
        node, depth, path = self.root, 0, []
        while True:
            idx = self.layout.index(k, depth)
            path.append((node, idx))
            child = node.children.get(idx)
            if not isinstance(child, Node):
                return path, child
            node, depth = child, depth + 1

    # ------------------------------------------------------------ writes

    def insert(self, key: bytes, value: bytes) -> None:
        key, value = check_key(key), check_value(value)
        path, end = self.path(key)
        self._check_stored(n for n, _ in path)
        old = [self.child_field(n.children.get(i)) for n, i in path]
        node, idx = path[-1]
        if end is None:
            node.children[idx] = Leaf(key, value)
            self.size += 1
        elif end.key == key:
            end.value, end._field = value, None
        else:
            node.children[idx] = self._split(
                end, Leaf(key, value), node.depth + 1, node.prefix * self.scheme.width + idx
            )
            self.size += 1
        self.journal.leaves[key] = value
        self._propagate(path, old)

    def _split(self, a: Leaf, b: Leaf, depth: int, prefix: int, created: list[Node] | None = None) -> Node:
        """A new node (chain) holding two leaves whose keys share `prefix`: committed bottom-up, or,
        with `created` (a batch), listed there and committed when the batch ends."""
        lay = self.layout
        ka, kb = lay.padded(a.key), lay.padded(b.key)
        node = Node(depth, prefix)
        ia, ib = lay.index(ka, depth), lay.index(kb, depth)
        if ia == ib:
            node.children[ia] = self._split(a, b, depth + 1, prefix * self.scheme.width + ia, created)
        else:
            node.children[ia], node.children[ib] = a, b
        if created is None:
            self._commit_node(node)
        else:
            created.append(node)
        return node

    def delete(self, key: bytes) -> bool:
        key = check_key(key)
        path, end = self.path(key)
        self._check_stored(n for n, _ in path)
        if not isinstance(end, Leaf) or end.key != key:
            return False
        old = [self.child_field(n.children.get(i)) for n, i in path]
        node, idx = path[-1]
        del node.children[idx]
        self.size -= 1
        self.journal.leaves[key] = None
        # a node left with a single leaf is no longer shared by two keys: the leaf moves up
        while len(path) > 1 and len(node.children) == 1:
            (only,) = node.children.values()
            if not isinstance(only, Leaf):
                break
            path.pop()
            self.journal.nodes[(node.depth, node.prefix)] = None
            node, idx = path[-1]
            node.children[idx] = only
        self._propagate(path, old[: len(path)])
        return True

    def _propagate(self, path: list[tuple[Node, int]], old: list[int]) -> None:
        """Bottom-up: each node's commitment moves by (new - old) * L_slot of the one changed slot."""
        for (node, idx), before in zip(reversed(path), reversed(old)):
            delta = self.child_field(node.children.get(idx)) - before
            self._set_point(node, self.scheme.add_delta(self.point(node), idx, delta))

    def close(self) -> None:
        """Close the tree file a tree opened with `store.open_tree` reads from (nothing otherwise)."""
        if self.root._source is not None:
            self.root._source.close()

    def release(self) -> None:
        """Forget the nodes read so far from a tree file (`store.open_tree`): they are read again when
        next reached, so a long-lived process keeps its working set bounded. Refused with unsaved
        changes."""
        if self.journal.nodes or self.journal.leaves:
            raise ValueError("the tree has unsaved changes: store.commit them before release()")
        if self.root._source is not None:
            self.root._children = None

    # ------------------------------------------------------------ batch updates

    def update(self, changes: Iterable[tuple[bytes, bytes | None]], *, progress: bool = False) -> BatchResult:
        """Apply many changes in one pass: (key, value) sets a key, (key, None) deletes it; for a key
        given twice the last change wins. The shape changes first (no curve arithmetic); then every
        touched node, deepest first, either collapses (fewer than two keys left under it) or moves its
        commitment by one MSM over its changed slots (new nodes: one MSM over all of them). The result
        is the tree a fresh build of the final contents gives, commitments included."""
        final: dict[bytes, bytes | None] = {}
        if isinstance(changes, (bytes, str, dict)):
            raise TypeError(
                f"changes must be an iterable of (key, value) pairs, got {type(changes).__name__}"
            )
        for change in changes:
            if not isinstance(change, (tuple, list)) or len(change) != 2:
                raise TypeError(f"each change must be (key, value or None), got {str(change)[:40]}")
            key, value = change
            final[check_key(key)] = None if value is None else check_value(value)
        before: dict[int, tuple[Node, dict[int, int]]] = {}  # id(node) -> node, {slot: its field before}
        created: list[Node] = []
        result = BatchResult()
        lay = self.layout
        order = sorted(final, key=lay.padded)
        if self.root._source is not None:  # read from a file: trust nothing it says before changing it
            self._check_stored(n for key in order for n, _ in self.path(key)[0])
        shown = bar(len(final), "applying changes", "change", enabled=progress)
        for key in order:
            shown.update()
            value = final[key]
            path, end = self.path(key)
            for node, idx in path:
                slots = before.setdefault(id(node), (node, {}))[1]
                if idx not in slots:
                    slots[idx] = self.child_field(node.children.get(idx))
            node, idx = path[-1]
            if value is None:
                if isinstance(end, Leaf) and end.key == key:
                    del node.children[idx]
                    self.size -= 1
                    self.journal.leaves[key] = None
                    result.deleted += 1
                else:
                    result.absent += 1
                continue
            if end is None:
                node.children[idx] = Leaf(key, value)
                self.size += 1
                result.inserted += 1
            elif end.key == key:
                if end.value == value:
                    result.unchanged += 1
                    continue
                end.value, end._field = value, None
                result.updated += 1
            else:
                prefix = node.prefix * self.scheme.width + idx
                node.children[idx] = self._split(end, Leaf(key, value), node.depth + 1, prefix, created)
                self.size += 1
                result.inserted += 1
            self.journal.leaves[key] = value
        shown.close()
        fresh = {id(n) for n in created}
        touched = [n for n, _ in before.values()] + created
        shown = bar(len(touched), "recommitting nodes", "node", enabled=progress)
        for node in sorted(touched, key=lambda n: -n.depth):
            shown.update()
            if node is not self.root and len(node.children) < 2 and not self._keeps(node):
                self._collapse(node, fresh)
                continue
            if id(node) in fresh:
                self._commit_node(node)
            else:
                slots = before[id(node)][1]
                deltas = {i: self.child_field(node.children.get(i)) - old for i, old in slots.items()}
                deltas = {i: d % self.scheme.field.modulus for i, d in deltas.items()}
                if any(deltas.values()):
                    moved = self.scheme.commit_sparse(deltas)
                    self._set_point(node, self.scheme.curve.add(self.point(node), moved))
            result.nodes += 1
        shown.close()
        return result

    def _check_stored(self, nodes: Iterable[Node]) -> None:
        """For a tree read from a file: check that these nodes' stored commitments commit to the slots
        stored under them, all at once by a random linear combination (one MSM over the nodes, one
        over the basis; a wrong one passes with probability about 2**-128). Without it, a change to a
        damaged file would move a wrong commitment and write a wrong root."""
        if self.root._source is None:
            return
        unique = {id(n): n for n in nodes}
        if not unique:
            return
        p = self.scheme.field.modulus
        draw = secrets.SystemRandom()
        points, weights, combined = [], [], {}
        try:
            for node in unique.values():
                r = draw.getrandbits(128) | 1
                points.append(self.point(node))
                weights.append(r)
                for idx, child in node.children.items():
                    combined[idx] = (combined.get(idx, 0) + r * self.child_field(child)) % p
        except ValueError as exc:  # a stored commitment that is not a point
            raise InconsistentTree(f"a stored node commitment does not decode ({exc})") from None
        curve = self.scheme.curve
        if curve.encode(curve.msm(points, weights)) != curve.encode(self.scheme.commit_sparse(combined)):
            raise InconsistentTree(
                f"the stored commitments of the {len(unique):,} nodes this change reads do not commit to "
                "the slots stored under them"
            )

    @staticmethod
    def _keeps(node: Node) -> bool:
        """A node with one child stays when that child is a node (two keys or more still share it)."""
        return len(node.children) == 1 and isinstance(next(iter(node.children.values())), Node)

    def _collapse(self, node: Node, fresh: set[int]) -> None:
        """Remove a node left with one leaf (which moves up into its slot) or none."""
        parent = self._node_at(node.depth - 1, node.prefix // self.scheme.width)
        slot = node.prefix % self.scheme.width
        if node.children:
            (parent.children[slot],) = node.children.values()
        else:
            del parent.children[slot]
        if id(node) not in fresh:
            self.journal.nodes[(node.depth, node.prefix)] = None

    def _node_at(self, depth: int, prefix: int) -> Node:
        node = self.root
        for d in range(depth):
            child = node.children[(prefix >> ((depth - 1 - d) * self.layout.bits)) & (self.scheme.width - 1)]
            assert isinstance(child, Node)
            node = child
        return node

    # ------------------------------------------------------------ bulk build

    @classmethod
    def build(
        cls,
        scheme: KZG,
        items: Iterable[tuple[bytes, bytes]],
        *,
        workers: int | None = None,
        progress: bool | None = None,
        label: str = "building",
    ) -> VerkleTree:
        """Build from scratch: shape first (pure Python), then one MSM per node, bottom-up, with the
        root's subtrees spread over worker processes. Later pairs win over earlier ones. A progress bar
        named ``label`` counts the root's subtrees on a terminal's stderr (never with ``progress=False``)."""
        tree = cls(scheme)
        contents = {check_key(k): check_value(v) for k, v in items}
        tree._shape_from(contents)
        tree._commit_all(workers, progress is not False, label)
        tree.journal.leaves.update(contents)
        return tree

    def _shape_from(self, contents: dict[bytes, bytes]) -> None:
        lay = self.layout
        entries = sorted((lay.padded(k), k, v) for k, v in contents.items())
        padded = [e[0] for e in entries]
        leaves = [Leaf(k, v) for _, k, v in entries]
        self.root = self._shape(padded, leaves, 0, len(entries), 0, 0)
        self.size = len(entries)

    def _shape(
        self, padded: list[int], leaves: list[Leaf], lo: int, hi: int, depth: int, prefix: int
    ) -> Node:
        lay = self.layout
        node = Node(depth, prefix)
        shift = (lay.levels - 1 - depth) * lay.bits
        while lo < hi:
            idx = (padded[lo] >> shift) & (self.scheme.width - 1)
            end = bisect_left(padded, ((prefix * self.scheme.width + idx + 1) << shift), lo, hi)
            node.children[idx] = (
                leaves[lo]
                if end - lo == 1
                else self._shape(padded, leaves, lo, end, depth + 1, prefix * self.scheme.width + idx)
            )
            lo = end
        return node

    def _commit_all(self, workers: int | None, progress: bool, label: str) -> None:
        tops = sorted(i for i, c in self.root.children.items() if isinstance(c, Node))
        workers = workers or os.cpu_count() or 1
        chunks = (
            [tops[i :: max(1, min(len(tops), 64))] for i in range(max(1, min(len(tops), 64)))] if tops else []
        )
        with bar(len(tops), label, "subtree", enabled=progress) as shown:
            if workers > 1 and self.size >= 4096 and "fork" in multiprocessing.get_all_start_methods():
                global _BUILDING
                _BUILDING = self
                try:
                    with multiprocessing.get_context("fork").Pool(workers) as pool:
                        for chunk, encodings in pool.imap_unordered(_commit_chunk, chunks):
                            for top, encs in zip(chunk, encodings):
                                self._assign(self.root.children[top], iter(encs))
                            shown.update(len(chunk))
                finally:
                    _BUILDING = None
            else:
                for chunk in chunks:
                    for top in chunk:
                        self._commit_subtree(self.root.children[top], [])
                    shown.update(len(chunk))
        self._commit_node(self.root)
        self.journal.nodes.clear()
        for node in self.nodes():
            self.journal.nodes[(node.depth, node.prefix)] = node.encoded

    def _commit_subtree(self, node: Node, out: list[bytes]) -> list[bytes]:
        """Post-order commitments of a subtree; `out` collects the encodings in that order."""
        for idx in sorted(node.children):
            child = node.children[idx]
            if isinstance(child, Node):
                self._commit_subtree(child, out)
        self._commit_node(node)
        out.append(node.encoded)
        return out

    def _assign(self, node: Node, encodings: Iterator[bytes]) -> None:
        for idx in sorted(node.children):
            child = node.children[idx]
            if isinstance(child, Node):
                self._assign(child, encodings)
        node.encoded = next(encodings)
        node._point = None
        node._field = None


_BUILDING: VerkleTree | None = None


def _commit_chunk(chunk: list[int]) -> tuple[list[int], list[list[bytes]]]:
    tree = _BUILDING
    assert tree is not None
    return chunk, [tree._commit_subtree(tree.root.children[top], []) for top in chunk]


def shaped(scheme: KZG, contents: dict[bytes, bytes], encodings: Callable[[int, int], bytes]) -> VerkleTree:
    """A tree with the shape of `contents` and node commitments read back from storage."""
    tree = VerkleTree(scheme)
    tree._shape_from(contents)
    for node in tree.nodes():
        node.encoded = encodings(node.depth, node.prefix)
    tree.journal.clear()
    return tree
