"""Verification gas, predicted: the Prague schedule where it is exact, fitted costs where it is not.

Exact (from the EIPs): the transaction's 21,000 and calldata with the EIP-7623 floor, the precompiles
(EIP-2537 G1MSM with its discount table, G1ADD, pairing; EIP-4844 point evaluation; EIP-2565 modexp;
EIP-196/197 ecMul, ecAdd, ecPairing; SHA-256), cold SLOADs of the stored root, and memory expansion.
Fitted (`python -m verkle.calibrate`, least squares over receipts on anvil, stored in
`gas_costs.json`): the verifier's own opcodes, as a cost per key, per opening, per listed commitment,
per key kind and per node-id step, plus a constant. Say it plainly: those are calibrated, not derived.
Pure: no chain; the calldata is ABI-encoded here exactly as web3 would send it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Sequence

from eth_abi import encode

from evmkit import gas as g
from evmkit.precompiles import (BLS12_G1ADD_GAS, ECADD_GAS, ECMUL_GAS, POINT_EVALUATION_PRECOMPILE_GAS,
                                bls_pairing_gas, bn_pairing_gas, g1msm_gas, modexp_gas, sha256_gas)

from .merkle import MerkleTree, leaf_hash
from .proof import OTHER, PRESENT, PathInfo, ProofDocument
from .slots import KeyLayout
from .solidity import WALK_STATE_BYTES, multiproof_memory_base, table_bytes

# EIP-2929: a call to a precompile (always warm)
WARM_CALL_GAS = g.WARM_STORAGE_READ_COST

FUNCTION_SELECTORS = {
    "verifySingle": ("bytes32", "bytes32", "bool", "bytes"),
    "verifyMulti": ("bytes32[]", "bytes32[]", "bytes", "bytes"),
    "verifyMultiPairing": ("bytes32[]", "bytes32[]", "bytes", "bytes"),
    "verify": ("bytes32[]", "bytes32", "bytes32"),
    "multiProofVerify": ("bytes32[]", "bool[]", "bytes32[]", "bytes32[]"),
}


def calldata(function: str, args: Sequence[object]) -> bytes:
    from eth_utils import keccak
    types = FUNCTION_SELECTORS[function]
    selector = keccak(text=f"{function}({','.join(types)})")[:4]
    return selector + encode(list(types), list(args))


@dataclass(frozen=True)
class Shape:
    """What a verification costs depends on: its path and these counts (the proof's depth profile)."""

    path: str
    width: int
    keys: int
    openings: int  # sum of depths
    listed: int  # distinct commitments below the root
    present: int
    other: int
    id_steps: int  # node-id assignments walked: sum over keys of depth - 1
    bits_set: int  # set bits over all slot indices (the single path multiplies w^(2^k) per set bit)
    shared_levels: int  # nodes below the root each key shares with the previous key's path, summed
    data: bytes  # the transaction's calldata


@dataclass(frozen=True)
class Estimate:
    total: int
    terms: dict[str, int]


@lru_cache(maxsize=1)
def fitted() -> dict[str, dict[str, float]]:
    return json.loads((resources.files("verkle") / "gas_costs.json").read_text())


FEATURES = ("const", "keys", "openings", "listed", "present", "other", "id_steps", "data_words", "table_words",
            "bits_set", "level_bits", "levels", "shared_levels")


PATH_FEATURES = {
    "point-evaluation": ("const", "openings", "present", "other", "data_words", "bits_set", "level_bits"),
    **{p: ("const", "keys", "openings", "listed", "present", "other", "id_steps", "shared_levels")
       for p in ("msm-point-evaluation", "msm-pairing", "ecmul-pairing")},
}


def features(shape: Shape) -> dict[str, float]:
    """The counts the verifier's opcode gas is linear in, for this shape's path."""
    every = _all_features(shape)
    return {name: every[name] for name in PATH_FEATURES[shape.path]}


def _all_features(shape: Shape) -> dict[str, float]:
    bits = KeyLayout(shape.width).bits
    return {"const": 1, "keys": shape.keys, "openings": shape.openings, "listed": shape.listed,
            "present": shape.present, "other": shape.other, "id_steps": shape.id_steps,
            "data_words": g.words(len(shape.data)),
            "table_words": table_bytes(shape.width) // 32,
            "bits_set": shape.bits_set, "level_bits": shape.openings * bits, "levels": KeyLayout(shape.width).levels, "shared_levels": shape.shared_levels}


def memory_words(shape: Shape) -> int:
    """Peak memory of the multiproof verifiers, word for word as multiproof_core.yul.j2 lays it out
    from its fixed base: scratch, inputs and state (WALK_STATE_BYTES), the previous path's node ids, node
    records sized for the most commitments the proof's length allows, the transcript, the MSM input
    with the curve's extra terms, and the prefix products of the one inversion."""
    lay = KeyLayout(shape.width)
    bn = shape.path == "ecmul-pairing"
    point = 64 if bn else 96  # bytes per point in the proof body
    term = 96 if bn else 160  # bytes per MSM term
    extra = 4 if shape.path in ("ecmul-pairing", "msm-pairing") else 1
    path_len = shape.keys + 64 * shape.other
    body_len = path_len + point * (shape.listed + 1)
    nodes = multiproof_memory_base(shape.width) + WALK_STATE_BYTES + 32 * (lay.levels + 1)
    transcript = nodes + 96 * (body_len // point + 1)
    transcript_len = (88 if bn else 72) + 65 * shape.keys + path_len + 32 * shape.listed
    msm = -(-(transcript + transcript_len) // 32) * 32
    return g.words(msm + term * (shape.listed + extra) + 32 * (shape.listed + 1))


def fixed_terms(shape: Shape) -> dict[str, int]:
    """The exactly known parts of execution gas (precompiles, root SLOADs, memory)."""
    p = shape.path
    terms: dict[str, int] = {}
    if p == "point-evaluation":
        terms["point evaluation (0x0a) x depth"] = shape.openings * (POINT_EVALUATION_PRECOMPILE_GAS
                                                                    + sha256_gas(48) + 2 * WARM_CALL_GAS)
        terms["root SLOADs (3 cold)"] = 3 * g.COLD_SLOAD_COST
        return terms
    inverse = modexp_gas(32, (1 << 255) - 1, 32, 32)
    terms["modexp: one inversion"] = inverse + WARM_CALL_GAS
    if p == "msm-point-evaluation":
        terms[f"G1MSM over {shape.listed + 1} points"] = g1msm_gas(shape.listed + 1) + WARM_CALL_GAS
        terms["G1ADD (E - D)"] = BLS12_G1ADD_GAS + WARM_CALL_GAS
        terms["point evaluation (0x0a)"] = POINT_EVALUATION_PRECOMPILE_GAS + sha256_gas(48) + 2 * WARM_CALL_GAS
        terms["root SLOADs (3 cold)"] = 3 * g.COLD_SLOAD_COST
    elif p == "msm-pairing":
        terms[f"G1MSM over {shape.listed + 4} points"] = g1msm_gas(shape.listed + 4) + WARM_CALL_GAS
        terms["pairing check (2 pairs)"] = bls_pairing_gas(2) + WARM_CALL_GAS
        terms["root SLOADs (3 cold)"] = 3 * g.COLD_SLOAD_COST
    elif p == "ecmul-pairing":
        terms[f"ecMul + ecAdd x {shape.listed + 4}"] = (shape.listed + 4) * (ECMUL_GAS + ECADD_GAS + 2 * WARM_CALL_GAS)
        terms["ecPairing (2 pairs)"] = bn_pairing_gas(2) + WARM_CALL_GAS
        terms["root SLOADs (2 cold)"] = 2 * g.COLD_SLOAD_COST
    else:
        raise ValueError(f"no gas model for path {p!r}")
    terms["memory"] = g.memory_cost(memory_words(shape))
    return terms


def coefficients(path: str, width: int) -> dict[str, float]:
    """Fitted per (path, width): the w^index tables and the level count change the constant part and,
    slightly, the per-key part. A width that was not calibrated uses the nearest one that was."""
    by_width = fitted()[path]
    nearest = min(by_width, key=lambda w: abs(int(w).bit_length() - width.bit_length()))
    return by_width[nearest]


def estimate(shape: Shape) -> Estimate:
    terms = fixed_terms(shape)
    coef = coefficients(shape.path, shape.width)
    terms["verifier opcodes (fitted)"] = round(sum(coef.get(k, 0.0) * v for k, v in features(shape).items()))
    return _transaction(shape.data, terms)


def _transaction(data: bytes, execution_terms: dict[str, int]) -> Estimate:
    """Execution terms -> the receipt's gas: 21,000 and calldata, or the EIP-7623 floor if higher."""
    execution = sum(execution_terms.values())
    total = g.transaction_gas(data, execution)
    terms = {"transaction base": g.TX_BASE_COST, "calldata (EIP-2028)": g.calldata_cost(data), **execution_terms}
    if total > g.intrinsic_gas(data) + execution:
        terms["EIP-7623 calldata floor top-up"] = total - g.intrinsic_gas(data) - execution
    return Estimate(total, terms)


def shape_of(doc: ProofDocument, path: str, function: str, args: Sequence[object]) -> Shape:
    paths = doc.proof.paths
    lay = KeyLayout(doc.proof.width)
    bits_set = sum(bin(i).count("1") for key, p in zip(doc.keys, paths) for i in lay.indices(key, p.depth))
    return Shape(shared_levels=_shared_levels(lay, doc.keys, paths),
        path=path, width=doc.proof.width, keys=len(paths), openings=sum(p.depth for p in paths),
        listed=len(doc.proof.commitments), present=sum(p.kind == PRESENT for p in paths),
        other=sum(p.kind == OTHER for p in paths), id_steps=sum(p.depth - 1 for p in paths),
        bits_set=bits_set, data=calldata(function, args))


def _shared_levels(lay: KeyLayout, keys: Sequence[bytes], paths: Sequence[PathInfo]) -> int:
    """The verifier's walk steps down the previous key's path while both keys agree chunk by chunk
    (and that path goes deeper): one loop step per shared node below the root."""
    total = 0
    for i in range(1, len(keys)):
        a, b = lay.indices(keys[i], lay.levels), lay.indices(keys[i - 1], lay.levels)
        s = 0
        while s + 1 < paths[i - 1].depth and a[s] == b[s]:
            s += 1
        total += s
    return total


# ---------------------------------------------------------------- the Merkle baseline

@dataclass(frozen=True)
class MerkleShape:
    path: str  # "merkle-single" or "merkle-multi"
    leaves: int
    proof_hashes: int
    flags: int
    data: bytes


def merkle_shape_single(tree: MerkleTree, key: bytes, value: bytes) -> MerkleShape:
    proof = tree.prove(key, value)
    return MerkleShape("merkle-single", 1, len(proof), 0, calldata("verify", [proof, key, value]))


def merkle_shape_multi(tree: MerkleTree, pairs: Sequence[tuple[bytes, bytes]]) -> MerkleShape:
    mp = tree.prove_multi(pairs)
    by_hash = {leaf_hash(k, v): (k, v) for k, v in pairs}
    ordered = [by_hash[h] for h in mp.leaves]
    args = [list(mp.proof), list(mp.flags), [k for k, _ in ordered], [v for _, v in ordered]]
    return MerkleShape("merkle-multi", len(ordered), len(mp.proof), len(mp.flags), calldata("multiProofVerify", args))


MERKLE_FEATURES = ("const", "leaves", "proof_hashes", "flags", "data_words")


def merkle_features(shape: MerkleShape) -> dict[str, float]:
    return {"const": 1, "leaves": shape.leaves, "proof_hashes": shape.proof_hashes, "flags": shape.flags,
            "data_words": g.words(len(shape.data))}


def merkle_estimate_fixed(shape: MerkleShape) -> dict[str, int]:
    terms = {"root SLOAD (cold)": g.COLD_SLOAD_COST}
    if shape.path == "merkle-multi":
        # leaves[] and hashes[] arrays, and 5 words per leaf that abi.encode / bytes.concat allocate
        # in leafHash (measured from traces: 7 + 6 per leaf + 1 per flag)
        words = 7 + 6 * shape.leaves + shape.flags
        terms["memory (quadratic part)"] = words * words // 512
    return terms


def merkle_estimate(shape: MerkleShape) -> Estimate:
    coef = fitted()[shape.path]
    terms = merkle_estimate_fixed(shape)
    terms["verifier opcodes (fitted)"] = round(sum(coef.get(k, 0.0) * v for k, v in merkle_features(shape).items()))
    return _transaction(shape.data, terms)
