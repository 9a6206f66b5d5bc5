"""Proof documents and claims from outside: size and nesting refused before parsing, the version
checked, keys and values of exactly 32 bytes in every API, and nothing but MalformedProof escaping."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verkle.jsonlimits import JSONLimitError, loads_limited, nesting_within
from verkle.offchain import verify
from verkle.paths import plan_openings
from verkle.proof import (
    MAX_DOCUMENT_BYTES,
    MAX_NESTING,
    OTHER,
    PRESENT,
    MalformedProof,
    PathInfo,
    Proof,
    ProofDocument,
    read_document,
)
from verkle.prover import prove_multi, prove_single
from verkle.slots import KeyLayout, value_hash

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@settings(max_examples=300)
@given(JSON_VALUES)
def test_nesting_check_measures_what_the_parser_would(value):
    text = json.dumps(value)
    depth = depth_of(value)
    assert nesting_within(text, depth)
    assert depth == 0 or not nesting_within(text, depth - 1)


def test_deep_and_large_json_is_refused_before_parsing():
    with pytest.raises(JSONLimitError, match="nests deeper than 8"):
        loads_limited("[" * 100_000, 10**6, 8)
    assert loads_limited('["[[[[[[[[[[", {"a": "\\"]]]]"}]', 100, 2) == ["[[[[[[[[[[", {"a": '"]]]]'}]
    with pytest.raises(JSONLimitError, match="100-byte maximum"):
        loads_limited(" " * 101, 100, 8)
    with pytest.raises(JSONLimitError, match="not JSON"):
        loads_limited("1" * 5000, 10**6, 8)  # int() refuses over 4,300 digits: still our error


@pytest.fixture(scope="module")
def doc16(tree16):
    tree, contents = tree16
    return prove_multi(tree, sorted(contents)[:3] + [bytes(32)])


def test_documents_over_the_limits_are_malformed(doc16, tmp_path):
    with pytest.raises(MalformedProof, match="nests deeper than 8"):
        ProofDocument.from_json_text("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
    padded = doc16.to_json_text() + " " * MAX_DOCUMENT_BYTES
    with pytest.raises(MalformedProof, match=f"{MAX_DOCUMENT_BYTES:,}-byte maximum"):
        ProofDocument.from_json_text(padded)
    big = tmp_path / "big.json"
    big.write_text(padded)
    with pytest.raises(MalformedProof, match="maximum"):
        read_document(big)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(MalformedProof, match="UTF-8"):
        read_document(tmp_path / "bin.json")
    (tmp_path / "ok.json").write_text(doc16.to_json_text())
    assert read_document(tmp_path / "ok.json") == doc16


@pytest.mark.parametrize("version", ["missing", 0, 2, "1", True, 1.0, None])
def test_document_version_must_be_ours(doc16, version):
    doc = json.loads(doc16.to_json_text())
    if version == "missing":
        del doc["version"]
    else:
        doc["version"] = version
    with pytest.raises(MalformedProof, match="version"):
        ProofDocument.from_json_text(json.dumps(doc))


@settings(max_examples=300)
@given(st.data())
def test_any_field_replaced_gives_a_document_or_malformed(doc16, data):
    """Whatever JSON value lands in whatever field, parsing raises MalformedProof or nothing."""
    doc = json.loads(doc16.to_json_text())
    holder = data.draw(st.sampled_from([doc, doc["proof"], doc["proof"]["paths"][0]]))
    field = data.draw(st.sampled_from(sorted(holder)))
    holder[field] = data.draw(JSON_VALUES)
    with contextlib.suppress(MalformedProof):
        ProofDocument.from_json_text(json.dumps(doc))


def test_depth_true_is_not_depth_one(doc16):
    doc = json.loads(doc16.to_json_text())
    doc["proof"]["paths"][0]["depth"] = True
    del doc["proof_bytes"]
    with pytest.raises(MalformedProof, match="depth"):
        ProofDocument.from_json_text(json.dumps(doc))


def test_a_33_byte_key_is_not_proven_absent_by_its_own_leaf(tree16):
    """0x07 || K walks K's slots, but from node (0, 7), not the root (0, 0): the proof lists that
    node's commitment itself. With K's root listed there and an 'other leaf' ending at K's own leaf,
    0x07 || K used to verify as absent, with K present, and as well under any other root."""
    tree, contents = tree16
    key = sorted(contents)[5]
    doc = prove_single(tree, key)
    (path,) = doc.proof.paths
    assert path.kind == PRESENT
    other = PathInfo(path.depth, OTHER, key, value_hash(contents[key]))
    forged = Proof(
        doc.proof.type,
        doc.proof.scheme,
        doc.proof.width,
        (other,),
        (doc.root,) + doc.proof.commitments,
        doc.proof.openings,
    )
    unrelated = tree.scheme.curve.encode(tree.scheme.curve.generator())
    for root in (doc.root, unrelated):
        with pytest.raises(MalformedProof, match="a key is 32 bytes, got 33"):
            verify(tree.scheme, root, [b"\x07" + key], [None], forged)


def test_keys_and_values_are_32_bytes_in_every_api(tree16, doc16):
    tree, contents = tree16
    key = sorted(contents)[0]
    for bad_key in (key + b"\x00", key[:31], key.hex()):
        with pytest.raises(MalformedProof, match="a key is 32 bytes"):
            verify(tree.scheme, doc16.root, [bad_key] + list(doc16.keys[1:]), doc16.values, doc16.proof)
        with pytest.raises(MalformedProof, match="a key is 32 bytes"):
            plan_openings(
                tree.scheme.field,
                KeyLayout(16),
                doc16.root,
                [bad_key],
                [None],
                [PathInfo(1, 1)],
                lambda _: b"",
            )
        for call in (
            tree.get,
            tree.delete,
            lambda k: tree.insert(k, bytes(32)),
            lambda k: prove_multi(tree, [k]),
            lambda k: prove_single(tree, k),
        ):
            with pytest.raises(ValueError, match="a key is 32 bytes"):
                call(bad_key)
    for bad_value in (bytes(31), bytes(33)):
        values = (bad_value,) + doc16.values[1:]
        with pytest.raises(MalformedProof, match="a value is 32 bytes"):
            verify(tree.scheme, doc16.root, doc16.keys, values, doc16.proof)
        with pytest.raises(ValueError, match="a value is 32 bytes"):
            tree.insert(key, bad_value)
    text = doc16.to_json_text().replace(doc16.keys[0].hex(), "07" + doc16.keys[0].hex())
    with pytest.raises(MalformedProof, match="key must be 32 bytes"):
        ProofDocument.from_json_text(text)


def test_paths_are_checked_as_they_are_built():
    for bad in (
        lambda: PathInfo(0, PRESENT),
        lambda: PathInfo(65, PRESENT),
        lambda: PathInfo(1, 3),
        lambda: PathInfo(1, OTHER, bytes(31), bytes(32)),
        lambda: PathInfo(1, PRESENT, bytes(32), bytes(32)),
        lambda: PathInfo(True, PRESENT),
    ):
        with pytest.raises(MalformedProof):
            bad()


def test_a_path_deeper_than_the_tree_is_malformed(tree16):
    tree, contents = tree16
    doc = prove_single(tree, sorted(contents)[0])
    data = bytearray(doc.proof.to_bytes())
    assert Proof.from_bytes(bytes(data)) == doc.proof
    # a width-256 proof whose path claims 33 levels (a width-256 tree has 32)
    data[1] = (data[1] & 0xF0) | 8
    data[4] = (data[4] & 0xC0) | 32
    with pytest.raises(MalformedProof, match="beyond the 32 levels"):
        Proof.from_bytes(bytes(data))


def test_a_proof_asking_for_too_much_work_is_malformed(tree16, monkeypatch):
    """The document size limit bounds bytes, not work: the openings a proof asks for are bounded too."""
    from verkle import offchain

    tree, pairs = tree16
    keys = sorted(pairs)[:6]
    doc = prove_multi(tree, keys)
    openings = sum(p.depth for p in doc.proof.paths)
    verify(tree.scheme, doc.root, doc.keys, doc.values, doc.proof)  # within the limit
    monkeypatch.setattr(offchain, "MAX_OPENINGS", openings - 1)
    with pytest.raises(MalformedProof, match=f"ask for {openings:,} openings, over the {openings - 1:,}"):
        verify(tree.scheme, doc.root, doc.keys, doc.values, doc.proof)
