"""Trees past memory: nodes read on demand from the tree file, batch updates in one pass, bulk builds
straight to a file (in this process, a local pool, or a Dask cluster): each equal to what the
in-memory tree gives for the same contents, commitments and file rows included."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verkle
from verkle import store
from verkle.diskbuild import build_file
from verkle.prover import prove_multi, prove_single
from verkle.runners import ClusterError, DaskRunner, SerialRunner, check_cluster_address
from verkle.subtrees import SchemeSpec
from verkle.tree import VerkleTree

EDGE_KEYS = [b"\x00" * 32, b"\xff" * 32, b"\xff" * 31 + b"\xfe", b"\x00" * 31 + b"\x01"]


def _key(rng: random.Random) -> bytes:
    """Keys that share prefixes often, so splits, chains and collapses happen."""
    return (bytes([rng.choice([0, 1, 255])]) * rng.randint(0, 3) + rng.randbytes(32))[:32]


def _rows(path: Path) -> tuple[list, list, list]:
    db = sqlite3.connect(path)
    try:
        return tuple(sorted(db.execute(f"SELECT * FROM {t}")) for t in ("leaves", "nodes", "meta"))
    finally:
        db.close()


def _nodes(tree: VerkleTree) -> dict[tuple[int, int], bytes]:
    return {(n.depth, n.prefix): n.encoded for n in tree.nodes()}


@settings(max_examples=25)
@given(st.integers(0, 2**32), st.sampled_from([0, 1, 2, 9, 120]), st.integers(1, 80))
def test_a_batch_gives_the_tree_a_fresh_build_of_the_final_contents_gives(bls16, seed, size, count):
    rng = random.Random(seed)
    pairs = [(_key(rng), rng.randbytes(32)) for _ in range(size)]
    tree = VerkleTree.build(bls16, pairs, workers=1, progress=False)
    final = dict(pairs)
    changes: list[tuple[bytes, bytes | None]] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.35 and final:
            changes.append((rng.choice(list(final)), None))
        elif roll < 0.55 and final:
            changes.append((rng.choice(list(final)), rng.randbytes(32)))
        elif roll < 0.6:
            changes.append((_key(rng), None))  # absent
        else:
            changes.append((_key(rng), rng.randbytes(32)))
        key, value = changes[-1]
        if value is None:
            final.pop(key, None)
        else:
            final[key] = value
    result = tree.update(changes)
    fresh = VerkleTree.build(bls16, list(final.items()), workers=1, progress=False)
    assert tree.root_commitment == fresh.root_commitment and len(tree) == len(fresh)
    assert _nodes(tree) == _nodes(fresh)
    assert result.inserted + result.updated + result.deleted + result.unchanged + result.absent == len(
        {k for k, _ in changes}
    )


def test_a_batch_recommits_each_touched_node_once(bls256):
    rng = random.Random(5)
    pairs = [(rng.randbytes(32), rng.randbytes(32)) for _ in range(3000)]
    tree = VerkleTree.build(bls256, pairs, workers=1, progress=False)
    changes = [(k, rng.randbytes(32)) for k, _ in pairs[:500]]
    touched = {(0, 0)} | {(n.depth, n.prefix) for k, _ in changes for n, _ in tree.path(k)[0]}
    result = tree.update(changes)
    assert result.updated == 500 and result.nodes == len(touched)


def test_a_tree_file_is_read_as_walks_reach_it(tmp_path, bls16):
    rng = random.Random(2)
    pairs = [(_key(rng), rng.randbytes(32)) for _ in range(3000)] + [
        (k, rng.randbytes(32)) for k in EDGE_KEYS
    ]
    tree = VerkleTree.build(bls16, pairs, workers=1, progress=False)
    path = tmp_path / "t.db"
    store.save(tree, path)
    lazy = store.open_tree(path, lambda _: bls16)
    source = lazy.root._source
    assert source.loaded == 0 and len(lazy) == len(tree)
    keys = [EDGE_KEYS[1], pairs[7][0], rng.randbytes(32)]
    assert prove_multi(lazy, keys).proof.to_bytes() == prove_multi(tree, keys).proof.to_bytes()
    assert prove_single(lazy, keys[0]).proof.to_bytes() == prove_single(tree, keys[0]).proof.to_bytes()
    depth = max(n.depth for n in tree.nodes())
    assert 0 < source.loaded <= 3 * (depth + 1)  # the paths of three keys, not the tree
    assert lazy.get(pairs[100][0]) == dict(pairs)[pairs[100][0]]
    lazy.release()
    assert not lazy.root.loaded
    assert _nodes(lazy) == _nodes(tree) and list(lazy.items()) == list(tree.items())
    lazy.insert(rng.randbytes(32), rng.randbytes(32))
    with pytest.raises(ValueError, match="unsaved changes"):
        lazy.release()
    lazy.close()


def test_updating_a_tree_file_equals_building_the_final_contents(tmp_path, bls256):
    rng = random.Random(3)
    pairs = [(_key(rng), rng.randbytes(32)) for _ in range(2000)] + [
        (k, rng.randbytes(32)) for k in EDGE_KEYS
    ]
    path = tmp_path / "t.db"
    verkle.build_tree_file(pairs, path, width=256, workers=1)
    changes = [(k, None) for k, _ in pairs[::3]] + [(_key(rng), rng.randbytes(32)) for _ in range(300)]
    changes += [(k, rng.randbytes(32)) for k, _ in pairs[1::7]]
    result = verkle.update_tree_file(path, changes)
    assert result.deleted and result.inserted and result.updated
    final = dict(pairs)
    for key, value in changes:
        final.pop(key, None) if value is None else final.__setitem__(key, value)
    verkle.build_tree_file(final.items(), tmp_path / "fresh.db", width=256, workers=1)
    assert _rows(path) == _rows(tmp_path / "fresh.db")
    assert store.load(path, lambda _: bls256).root_commitment == store.read_info(path).root


@pytest.mark.parametrize("width", [16, 256, 4096])
def test_a_build_to_a_file_writes_what_saving_the_built_tree_writes(tmp_path, width):
    scheme = verkle.load_scheme("kzg-bls12-381", width)
    rng = random.Random(width)
    for n in (0, 1, 2, 60, 5000 if width != 4096 else 1500):
        pairs = [(_key(rng), rng.randbytes(32)) for _ in range(n)] + [
            (k, b"\x07" * 32) for k in EDGE_KEYS[: n % 5]
        ]
        pairs += [(k, rng.randbytes(32)) for k, _ in pairs[: n // 10]]  # repeated keys: the later wins
        saved, built = tmp_path / f"s{n}.db", tmp_path / f"b{n}.db"
        store.save(VerkleTree.build(scheme, pairs, progress=False), saved)
        report = build_file(scheme, SchemeSpec("kzg-bls12-381", width), iter(pairs), built, progress=False)
        assert _rows(saved) == _rows(built), n
        assert report.size == len(dict(pairs)) and not (tmp_path / f"b{n}.db.tmp").exists()


def test_a_build_on_a_local_dask_cluster_is_identical(tmp_path, bls256):
    rng = random.Random(9)
    pairs = [(rng.randbytes(32), rng.randbytes(32)) for _ in range(6000)]
    single = build_file(
        bls256, SchemeSpec("kzg-bls12-381", 256), pairs, tmp_path / "a.db", runner=SerialRunner()
    )
    spread = build_file(bls256, SchemeSpec("kzg-bls12-381", 256), pairs, tmp_path / "b.db", cluster="local:2")
    assert spread.runner.startswith("Dask cluster local:2 (2 workers)") and spread.subtrees == single.subtrees
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")


def test_an_interrupted_build_leaves_the_previous_tree_or_none(tmp_path, bls16):
    spec = SchemeSpec("kzg-bls12-381", 16)
    rng = random.Random(4)
    pairs = [(rng.randbytes(32), rng.randbytes(32)) for _ in range(500)]

    def interrupted(after: int):
        for i, pair in enumerate(pairs):
            if i == after:
                raise KeyboardInterrupt
            yield pair

    path = tmp_path / "t.db"
    with pytest.raises(KeyboardInterrupt):
        build_file(bls16, spec, interrupted(300), path, progress=False)
    assert not path.exists() and not (tmp_path / "t.db.tmp").exists()
    build_file(bls16, spec, pairs[:100], path, progress=False)
    before = _rows(path)

    class Failing(SerialRunner):
        def map_unordered(self, fn, tasks, in_flight):
            for n, result in enumerate(super().map_unordered(fn, tasks, in_flight)):
                if n == 3:
                    raise KeyboardInterrupt  # Ctrl-C while subtrees are being written
                yield result

    with pytest.raises(KeyboardInterrupt):
        build_file(bls16, spec, pairs, path, runner=Failing(), progress=False)
    assert _rows(path) == before and not (tmp_path / "t.db.tmp").exists()
    assert store.open_tree(path, lambda _: bls16).root_commitment == store.read_info(path).root


def test_cluster_addresses_are_checked_before_anything_starts():
    for bad in ("local:0", "local:x", "local:", "tcp://a b", ""):
        with pytest.raises(ClusterError, match="expected local:N"):
            check_cluster_address(bad)
    assert check_cluster_address("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        DaskRunner("tcp://127.0.0.1:9", timeout=2)


def test_changes_and_builds_refuse_bad_arguments_by_name(tmp_path, bls16):
    tree = VerkleTree.build(bls16, [(b"\x01" * 32, b"\x02" * 32)], workers=1, progress=False)
    with pytest.raises(TypeError, match="each change must be"):
        tree.update((b"\x01" * 32, None))  # one change, not a list of them
    with pytest.raises(TypeError, match="an iterable of"):
        tree.update({b"\x01" * 32: None})
    with pytest.raises(TypeError, match="pairs must be an iterable"):
        verkle.build_tree_file(None, tmp_path / "t.db")
    with pytest.raises(ValueError, match="workers must be a positive int"):
        verkle.build_tree_file([], tmp_path / "t.db", workers=0)
    with pytest.raises(ValueError, match="workers sets a local pool"):
        verkle.build_tree_file([], tmp_path / "t.db", workers=2, cluster="local:1")
    with pytest.raises(ClusterError, match="local workers on"):
        check_cluster_address("local:100000")
    verkle.build_tree_file([(b"\x01" * 32, b"\x02" * 32)], tmp_path / "t.db")
    opened = verkle.open_tree(tmp_path / "t.db")
    opened.close()
    with pytest.raises(ValueError, match="was closed"):
        opened.get(b"\x01" * 32)
    assert [p.name for p in tmp_path.iterdir()] == ["t.db"]  # no scratch files left
