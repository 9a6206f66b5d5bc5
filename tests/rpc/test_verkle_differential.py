"""Differential fuzzing: the Python verifier (verkle.offchain.verify_call) and the deployed verifier agree
on mutated proofs, across widths, paths and both curves, on anvil.

Agreement means: True on both, False on both, or MalformedProof in Python exactly where the contract
reverts with a named error. Mutations reach every part of the calldata: path bytes (kinds, depths),
commitments, D and pi (byte flips and other valid points), keys, values, bitmap bits and raw bytes
anywhere in the proof, including its length. At least 1,000 cases a run.
"""

from __future__ import annotations

import os
import random

import pytest
from web3.exceptions import ContractLogicError

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import TransactionReverted
from helpers.verkle_data import clustered_pairs, make_ptau, path_names, random_pairs
from verkle.offchain import verify_call
from verkle.onchain import deploy_contract
from verkle.proof import MalformedProof
from verkle.prover import prove_multi, prove_single
from verkle.schemes import load_scheme
from verkle.tree import VerkleTree
from verkle.verifier_paths import verifier_args

pytestmark = pytest.mark.rpc

# (scheme, width, keys in the tree, mutations per base proof and path)
TARGETS = [
    ("kzg-bls12-381", 16, 300, 100),
    ("kzg-bls12-381", 256, 1500, 100),
    ("kzg-bls12-381", 4096, 600, 50),
    ("kzg-bn254", 16, 25, 40),
]


def _flip(data: bytes, at: int, rng: random.Random) -> bytes:
    return data[:at] + bytes([data[at] ^ rng.randrange(1, 256)]) + data[at + 1 :]


def _path_offsets(doc) -> list[int]:
    out, at = [], 0
    for p in doc.proof.paths:
        out.append(at)
        at += 1 + 64 * (p.kind == 2)
    return out


def mutate(
    rng: random.Random, function: str, args: list, doc, pt: int, other_points: list[bytes]
) -> tuple[str, list]:
    """One mutation of a valid call; returns (what, args)."""
    args = list(args)
    proof = bytes(args[-1])
    single = function == "verifySingle"
    kind = rng.choice(["kind", "depth", "commitment", "D/pi", "key", "value", "bitmap", "raw", "length"])
    if kind in ("kind", "depth"):
        at = rng.choice(_path_offsets(doc)) if not single else 0
        b = proof[at]
        b = (
            b ^ (0x40 << rng.randrange(2))
            if kind == "kind"
            else (b & 0xC0) | (((b & 63) + rng.choice((1, -1, 2))) % 64)
        )
        proof = proof[:at] + bytes([b]) + proof[at + 1 :]
    elif kind in ("commitment", "D/pi"):
        size = 48 if single else pt
        tail = (
            len(proof)
            - (48 if (single or function == "verifyMulti" and pt == 96) else pt)
            - (0 if single else pt)
        )
        start = len(doc.proof.path_bytes()) if kind == "commitment" else tail
        if start >= len(proof) - 1:
            start = tail
        at = rng.randrange(start, len(proof))
        if rng.random() < 0.5 or single:
            proof = _flip(proof, at, rng)
        else:  # a valid point of the group where another belongs
            at = start + ((at - start) // size) * size
            point = rng.choice(other_points)
            width = min(size, len(point), len(proof) - at)
            proof = proof[:at] + point[:width] + proof[at + width :]
    elif kind == "raw":
        proof = _flip(proof, rng.randrange(len(proof)), rng)
    elif kind == "length":
        proof = proof[:-1] if rng.random() < 0.5 else proof + bytes([rng.randrange(256)])
    elif single:
        key, value, present, _ = args
        if kind == "key":
            key = _flip(key, rng.randrange(32), rng)
        elif kind == "value":
            value = rng.randbytes(32)
        else:
            present = not present
        args = [key, value, present, proof]
        return kind, args
    else:
        keys, values, absent = list(args[0]), list(args[1]), bytearray(args[2])
        i = rng.randrange(len(keys))
        if kind == "key":
            keys[i] = _flip(keys[i], rng.randrange(32), rng) if rng.random() < 0.8 else keys[i - 1]
        elif kind == "value":
            values[i] = rng.randbytes(32) if rng.random() < 0.7 else bytes(32)
        else:
            bit = rng.randrange(8 * len(absent))
            absent[bit >> 3] ^= 0x80 >> (bit & 7)
        args = [keys, values, bytes(absent), proof]
        return kind, args
    args[-1] = proof
    return kind, args


def _chain(session, contract, function, args):
    try:
        return bool(session.call(contract, function, *args))
    except (TransactionReverted, ContractLogicError) as exc:
        return "revert: " + str(getattr(exc, "reason", exc))


def _python(scheme, root, function, args):
    try:
        return verify_call(scheme, root, function, args)
    except MalformedProof as exc:
        return "malformed: " + str(exc)


def test_python_and_onchain_verifiers_agree_on_mutated_proofs(tmp_path):
    rng = random.Random(2026)
    ptau = make_ptau(tmp_path, 5)
    cases, kinds, disagreements = 0, {}, []
    with start_anvil(gas_limit=60_000_000) as node:
        os.environ["VERKLE_DIFF_KEY"] = node.private_keys[0]
        session = chain.rpc(node.url, "VERKLE_DIFF_KEY")
        for name, width, size, per in TARGETS:
            scheme = load_scheme(name, width, ptau=ptau if name == "kzg-bn254" else None)
            pairs = random_pairs(size, width) + clustered_pairs(12, width + 1)
            tree = VerkleTree.build(scheme, pairs, workers=1)
            contract, _ = deploy_contract(session, scheme, tree.root_commitment)
            root = tree.root_commitment
            keys = sorted(k for k, _ in pairs)
            near = keys[3][:-1] + bytes([keys[3][-1] ^ 1])
            docs = [
                prove_multi(
                    tree, rng.sample(keys, 4) + [rng.randbytes(32)] + ([near] if near not in keys else [])
                )
            ]
            if name == "kzg-bls12-381":
                docs += [prove_single(tree, keys[11]), prove_single(tree, rng.randbytes(32))]
            pt = 96 if name == "kzg-bls12-381" else 64
            for doc in docs:
                for path in path_names(name):
                    if (path == "point-evaluation") != (doc.proof.type == 1):
                        continue
                    function, args = verifier_args(doc, path)
                    assert _python(scheme, root, function, args) is True
                    assert _chain(session, contract, function, args) is True
                    # valid points from another proof of the same tree, in the same encoding
                    other = (
                        verifier_args(prove_multi(tree, rng.sample(keys, 2)))[1][-1]
                        if path != "point-evaluation"
                        else verifier_args(prove_single(tree, keys[20]), path)[1][-1]
                    )
                    size_pt = 48 if path == "point-evaluation" else pt
                    other_points = [
                        other[i : i + size_pt]
                        for i in range(len(other) % size_pt, len(other) - size_pt + 1, size_pt)
                    ]
                    for _ in range(per):
                        what, bad = mutate(rng, function, args, doc, pt, other_points)
                        py, onchain = (
                            _python(scheme, root, function, bad),
                            _chain(session, contract, function, bad),
                        )
                        agree = py is onchain if isinstance(py, bool) else isinstance(onchain, str)
                        if not agree:
                            disagreements.append((name, width, path, what, py, onchain))
                        cases += 1
                        kinds[what] = kinds.get(what, 0) + 1
    assert not disagreements, disagreements[:5]
    assert cases >= 1000, cases
    assert set(kinds) == {"kind", "depth", "commitment", "D/pi", "key", "value", "bitmap", "raw", "length"}
