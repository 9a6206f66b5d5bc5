"""One root subtree of a Verkle tree, shaped and committed on its own: the unit of work that a bulk
build hands to a worker process or a cluster node.

The cut is the tree's own: the keys under root slot s form the subtree rooted at (depth 1, prefix s),
independent of every other slot, and the root commitment is one MSM over the W slots' field elements.
A task carries plain data (a scheme description and sorted pairs) and returns plain data (node
encodings), so any engine that can pickle a function call can run it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from .kzg import KZG
from .tree import Leaf, VerkleTree


@dataclass(frozen=True)
class SchemeSpec:
    """How a worker loads the scheme: by name and width (BLS12-381: the ceremony that ships with
    py-evm), with a .ptau path every worker can read, or the insecure development setup."""

    name: str
    width: int
    ptau: str | None = None
    insecure_dev_setup: bool = False

    def load(self) -> KZG:
        return _load(self)


@lru_cache(maxsize=4)
def _load(spec: SchemeSpec) -> KZG:
    from .schemes import load_scheme

    return load_scheme(spec.name, spec.width, ptau=spec.ptau, insecure_dev_setup_ok=spec.insecure_dev_setup)


@dataclass(frozen=True)
class SubtreeResult:
    slot: int
    nodes: list[tuple[int, int, bytes]]  # (depth, prefix, encoded commitment), the subtree's top last
    seconds: float  # shaping and committing, on the worker
    fingerprint: str  # of the worker's setup: a cluster node with another .ptau file is caught


def commit_subtree(spec: SchemeSpec, slot: int, pairs: list[tuple[bytes, bytes]]) -> SubtreeResult:
    """Shape and commit the subtree under root slot `slot` from its (key, value) pairs, sorted by key,
    two or more, all with that first slot index."""
    from .store import setup_fingerprint

    started = time.perf_counter()
    scheme = spec.load()
    tree = VerkleTree(scheme)
    lay = tree.layout
    padded = [lay.padded(k) for k, _ in pairs]
    leaves = [Leaf(k, v) for k, v in pairs]
    top = tree._shape(padded, leaves, 0, len(leaves), 1, slot)
    tree._commit_subtree(top, [])
    nodes: list[tuple[int, int, bytes]] = []
    stack = [top]
    while stack:
        node = stack.pop()
        nodes.append((node.depth, node.prefix, node.encoded))
        stack.extend(c for c in node.children.values() if not isinstance(c, Leaf))
    nodes.reverse()  # the top last
    return SubtreeResult(slot, nodes, time.perf_counter() - started, setup_fingerprint(scheme))
