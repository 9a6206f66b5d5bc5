"""The tree behaves like a dict, and its commitments never depend on how it got its contents."""

from __future__ import annotations

import dataclasses
import random
import sqlite3

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from helpers.verkle_data import clustered_pairs, random_pairs
from verkle import store
from verkle.kzg import KZG
from verkle.schemes import load_scheme
from verkle.store import StoreError
from verkle.tree import Leaf, Node, VerkleTree

SCHEME16 = load_scheme("kzg-bls12-381", 16)

# a small key pool whose keys share prefixes of 0 to 31 bytes: inserts split leaves, deletes collapse nodes
_rng = random.Random(11)
_base = _rng.randbytes(32)
KEY_POOL = [_base[:cut] + _rng.randbytes(32 - cut) for cut in (0, 0, 0, 1, 1, 2, 8, 16, 30, 31, 31, 31)]
VALUES = [bytes([i]) * 32 for i in range(4)] + [bytes(32)]


class TreeVersusDict(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tree = VerkleTree(SCHEME16)
        self.model: dict[bytes, bytes] = {}

    @rule(key=st.sampled_from(KEY_POOL), value=st.sampled_from(VALUES))
    def insert(self, key, value):
        self.tree.insert(key, value)
        self.model[key] = value

    @rule(key=st.sampled_from(KEY_POOL))
    def delete(self, key):
        assert self.tree.delete(key) == (key in self.model)
        self.model.pop(key, None)

    @rule(key=st.sampled_from(KEY_POOL))
    def get(self, key):
        assert self.tree.get(key) == self.model.get(key)

    @invariant()
    def same_contents_same_root(self):
        assert len(self.tree) == len(self.model)
        assert list(self.tree.items()) == sorted(self.model.items())
        fresh = VerkleTree.build(SCHEME16, self.model.items(), workers=1)
        assert self.tree.root_commitment == fresh.root_commitment
        _check_shape(self.tree.root)


def _check_shape(node: Node, top: bool = True) -> int:
    """Every node below the root holds at least two keys; returns the number of keys below."""
    total = sum(1 if isinstance(c, Leaf) else _check_shape(c, False) for c in node.children.values())
    assert top or total >= 2
    return total


TestTreeVersusDict = TreeVersusDict.TestCase
TestTreeVersusDict.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_incremental_equals_bulk_and_parallel_build(bls256):
    pairs = random_pairs(5000, 21) + clustered_pairs(50, 22)
    serial = VerkleTree.build(bls256, pairs, workers=1)
    parallel = VerkleTree.build(bls256, pairs, workers=2)
    assert serial.root_commitment == parallel.root_commitment
    incremental = VerkleTree(bls256)
    for k, v in pairs[:300] + pairs[-50:]:
        incremental.insert(k, v)
    assert incremental.root_commitment == VerkleTree.build(bls256, pairs[:300] + pairs[-50:]).root_commitment
    # every node's commitment equals a fresh commitment to its slots
    for node in list(parallel.nodes())[:40]:
        assert bls256.curve.encode(bls256.commit(parallel.node_values(node))) == node.encoded


def test_update_is_homomorphic_not_recommit(bls256):
    """An update costs one delta * L_i per level: no multi-term MSM anywhere on the way up."""
    calls: list[int] = []

    def counting_msm(points, scalars):
        calls.append(len(points))
        return bls256.curve.msm(points, scalars)

    counting = KZG(
        dataclasses.replace(bls256.setup, curve=dataclasses.replace(bls256.curve, msm=counting_msm))
    )
    tree = VerkleTree.build(counting, random_pairs(500, 23), workers=1)
    key = next(iter(tree.items()))[0]
    calls.clear()
    tree.insert(key, bytes(range(32)))
    assert tree.get(key) == bytes(range(32))
    assert calls == []


def test_bad_keys_and_values(bls16):
    tree = VerkleTree(bls16)
    with pytest.raises(ValueError, match="32 bytes, got 31"):
        tree.insert(bytes(31), bytes(32))
    with pytest.raises(ValueError, match="value is 32 bytes"):
        tree.insert(bytes(32), b"short")
    with pytest.raises(ValueError, match="str"):
        tree.get("00" * 32)


def test_store_round_trip_and_updates(tmp_path, bls16):
    pairs = random_pairs(150, 31) + clustered_pairs(20, 32)
    tree = VerkleTree.build(bls16, pairs, workers=1)
    path = tmp_path / "t.db"
    store.save(tree, path)
    again = store.load(path, lambda info: bls16)
    assert again.root_commitment == tree.root_commitment and list(again.items()) == list(tree.items())
    extra = random_pairs(5, 33)
    for k, v in extra:
        again.insert(k, v)
    for k, _ in pairs[:60]:
        again.delete(k)
    store.commit(again, path)
    third = store.load(path, lambda info: bls16)
    expected = dict(pairs[60:] + extra)
    assert dict(third.items()) == expected
    assert third.root_commitment == VerkleTree.build(bls16, expected.items()).root_commitment
    assert store.read_info(path).size == len(expected)


def test_store_refuses_foreign_or_broken_files(tmp_path, bls16, bls256):
    path = tmp_path / "t.db"
    store.save(VerkleTree.build(bls16, random_pairs(40, 41)), path)
    with pytest.raises(StoreError, match="width-16"):
        store.load(path, lambda info: bls256)
    db = sqlite3.connect(path)
    with db:
        (prefix,) = db.execute("SELECT prefix FROM nodes WHERE depth = 1 LIMIT 1").fetchone()
        db.execute("DELETE FROM nodes WHERE depth = 1 AND prefix = ?", (prefix,))
    db.close()
    with pytest.raises(StoreError, match="inconsistent"):
        store.load(path, lambda info: bls16)
    junk = tmp_path / "junk.db"
    junk.write_text("hello")
    with pytest.raises(StoreError):
        store.read_info(junk)
    with pytest.raises(StoreError, match="no tree file"):
        store.read_info(tmp_path / "missing.db")
