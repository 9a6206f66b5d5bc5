"""Verification gas, predicted per fork: its schedule where it is exact, fitted costs where it is not.

Exact (from the EIPs, per fork of `evmkit.forks`): the transaction's 21,000 and calldata with the
EIP-7623 floor (Prague on), the precompiles (EIP-2537 G1MSM with its discount table, G1ADD, pairing;
EIP-4844 point evaluation; MODEXP by EIP-2565 before Osaka and EIP-7883 in it; EIP-196/197 ecMul, ecAdd,
ecPairing; SHA-256), cold SLOADs of the stored root, and memory expansion.
Fitted (`python -m verkle.calibrate`, least squares over receipts on anvil under each fork's rules,
stored per fork in `gas_costs.json`, since the bytecode differs: Osaka's verifiers use CLZ): the
verifier's own opcodes, as a cost per key, per opening, per listed commitment, per key kind and per
node-id step, plus a constant. Say it plainly: those are calibrated, not derived.
The paths' precompile calls and fitted features come from their records (`verifier_paths`), the memory
layout from the scheme's (`schemes`). Pure: no chain, no web3; the calldata is ABI-encoded with the
compiled contract's ABI exactly as web3 would send it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evmkit import gas as g
from evmkit.forks import FORKS, Fork, get_fork
from evmkit.gas import CostsFileError, Estimate

from .calldata import encode_call
from .contract import WALK_STATE_BYTES, call_data, merkle_abi, multiproof_memory_base, table_bytes
from .merkle import MerkleTree, multi_proof_args
from .proof import MULTI, OTHER, PRESENT, PathInfo, ProofDocument
from .schemes import SCHEMES
from .slots import KeyLayout
from .verifier_paths import PATHS, WARM_CALL_GAS

__all__ = [
    "COSTS_FILE",
    "Estimate",
    "costs_fork",
    "FEATURES",
    "MerkleShape",
    "Shape",
    "coefficients",
    "estimate",
    "features",
    "fitted",
    "fixed_terms",
    "memory_words",
    "merkle_estimate",
    "merkle_shape_multi",
    "merkle_shape_single",
    "modexp_gas",
    "shape_of",
]

COSTS_FILE = Path(__file__).with_name("gas_costs.json")
MERKLE_PATHS = ("merkle-single", "merkle-multi")


def costs_fork(fork: str | Fork | None = None, calibrated: Sequence[str] | None = None) -> str:
    """The fork whose fitted costs price ``fork``'s verifications: its own where calibrated, else the
    nearest older calibrated one (else the nearest newer). Cancun uses Prague's: the BN254 verifier and
    the Merkle baseline compile to the same bytecode for both (a test holds it), and the BLS12-381
    verifier does not run there."""
    name = get_fork(fork).name
    have = list(calibrated if calibrated is not None else g.load_costs(COSTS_FILE))
    names = list(FORKS)
    if name in have:
        return name
    known = [n for n in names if n in have]
    if not known:
        raise CostsFileError(f"{COSTS_FILE} holds no fork's costs: fit them (python -m verkle.calibrate)")
    older = [n for n in known if names.index(n) < names.index(name)]
    return older[-1] if older else known[0]


def fitted(fork: str | Fork | None = None) -> Mapping[str, Any]:
    """The fitted opcode costs (`python -m verkle.calibrate`) for ``fork`` (default Osaka; see
    :func:`costs_fork`): per path and width, and the Merkle baseline's; read once, read-only,
    CostsFileError when missing or incomplete."""
    section = g.load_costs(COSTS_FILE)[costs_fork(fork)]
    missing = [key for key in (*PATHS, *MERKLE_PATHS) if key not in section]
    if missing:
        raise CostsFileError(
            f"{COSTS_FILE} lacks {', '.join(missing)} for {costs_fork(fork)}: fit it again "
            "(python -m verkle.calibrate)"
        )
    return section


@dataclass(frozen=True)
class Shape:
    """What a verification costs depends on: its path and these counts (the proof's depth profile)."""

    path: str
    scheme: str
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


FEATURES = (
    "const",
    "keys",
    "openings",
    "listed",
    "present",
    "other",
    "id_steps",
    "data_words",
    "table_words",
    "bits_set",
    "level_bits",
    "levels",
    "shared_levels",
)


def features(shape: Shape) -> dict[str, float]:
    """The counts the verifier's opcode gas is linear in, for this shape's path."""
    every = _all_features(shape)
    return {name: every[name] for name in PATHS[shape.path].features}


def _all_features(shape: Shape) -> dict[str, float]:
    lay = KeyLayout(shape.width)
    return {
        "const": 1,
        "keys": shape.keys,
        "openings": shape.openings,
        "listed": shape.listed,
        "present": shape.present,
        "other": shape.other,
        "id_steps": shape.id_steps,
        "data_words": g.words(len(shape.data)),
        "table_words": table_bytes(shape.width) // 32,
        "bits_set": shape.bits_set,
        "level_bits": shape.openings * lay.bits,
        "levels": lay.levels,
        "shared_levels": shape.shared_levels,
    }


def memory_words(shape: Shape) -> int:
    """Peak memory of the multiproof verifiers, word for word as multiproof_core.yul.j2 lays it out
    from its fixed base: scratch, inputs and state (WALK_STATE_BYTES), the previous path's node ids, node
    records sized for the most commitments the proof's length allows, the transcript, the MSM input
    with the path's extra terms, and the prefix products of the one inversion."""
    lay = KeyLayout(shape.width)
    mem = SCHEMES[shape.scheme].layout
    extra = PATHS[shape.path].msm_extra
    path_len = shape.keys + 64 * shape.other
    body_len = path_len + mem.point * (shape.listed + 1)
    nodes = multiproof_memory_base(shape.width) + WALK_STATE_BYTES + 32 * (lay.levels + 1)
    transcript = nodes + 96 * (body_len // mem.point + 1)
    transcript_len = mem.header_len + 65 * shape.keys + path_len + 32 * shape.listed
    msm = -(-(transcript + transcript_len) // 32) * 32
    return g.words(msm + mem.term * (shape.listed + extra) + 32 * (shape.listed + 1))


def modexp_gas(scheme: str, fork: str | Fork | None = None) -> int:
    """The multiproof's one inversion: MODEXP of 32-byte words to the scalar field's p - 2, at ``fork``'s
    price (EIP-2565 before Osaka, EIP-7883 in it). The verifier forwards the EIP-7883 bound for a
    255-bit exponent (evmkit.gas.MODEXP_32_GAS_BOUND); the precompile charges only its price."""
    p = SCHEMES[scheme].curve.field.modulus
    return get_fork(fork).modexp_gas(32, p - 2, 32, 32)


def fixed_terms(shape: Shape, fork: str | Fork | None = None) -> dict[str, int]:
    """The exactly known parts of execution gas under ``fork``'s rules (default Osaka): precompiles,
    root SLOADs, memory. A fork without the scheme's precompiles is refused (ForkUnsupported)."""
    SCHEMES[shape.scheme].check_fork(fork)
    path = PATHS[shape.path]
    multi = path.proof_type == MULTI
    terms: dict[str, int] = {}
    if multi:
        terms["modexp: one inversion"] = modexp_gas(shape.scheme, fork) + WARM_CALL_GAS
    terms.update(path.precompile_terms(shape.listed + path.msm_extra, shape.openings))
    root_slots = SCHEMES[shape.scheme].layout.point // 32  # the stored root, x || y
    terms[f"root SLOADs ({root_slots} cold)"] = root_slots * g.COLD_SLOAD_COST
    if multi:
        terms["memory"] = g.memory_cost(memory_words(shape))
    return terms


def coefficients(
    path: str, width: int, costs: Mapping[str, Any] | None = None, fork: str | Fork | None = None
) -> Mapping[str, float]:
    """Fitted per (fork, path, width): the w^index tables and the level count change the constant part
    and, slightly, the per-key part. A width that was not calibrated uses the nearest one that was.
    ``costs``: one fork's section instead of the shipped file's for ``fork``."""
    by_width = (costs or fitted(fork))[path]
    nearest = min(by_width, key=lambda w: abs(int(w).bit_length() - width.bit_length()))
    return by_width[nearest]


def _fitted_gas(coef: Mapping[str, float], counts: Mapping[str, float], what: str) -> int:
    missing = [name for name in counts if name not in coef]
    if missing:
        raise CostsFileError(
            f"{COSTS_FILE} has no cost for {', '.join(missing)} ({what}): "
            "fit it again (python -m verkle.calibrate)"
        )
    return round(sum(coef[name] * value for name, value in counts.items()))


def estimate(
    shape: Shape, costs: Mapping[str, Any] | None = None, fork: str | Fork | None = None
) -> Estimate:
    """The receipt gas of the verification under ``fork``'s rules (default Osaka): exact terms, the
    fitted opcode gas and the transaction's own (`costs`: one fork's fitted section instead of the
    shipped file's; calibration checks a fit before writing it)."""
    rules = get_fork(fork)
    terms = fixed_terms(shape, rules)
    coef = coefficients(shape.path, shape.width, costs, rules)
    what = f"{shape.path}, width {shape.width}, {rules.name}"
    terms["verifier opcodes (fitted)"] = _fitted_gas(coef, features(shape), what)
    return g.estimate_transaction(shape.data, terms, calldata_floor=rules.calldata_floor)


def shape_of(doc: ProofDocument, path: str) -> Shape:
    """The shape of checking `doc` along `path` (its calldata included)."""
    paths = doc.proof.paths
    lay = KeyLayout(doc.proof.width)
    bits_set = sum(bin(i).count("1") for key, p in zip(doc.keys, paths) for i in lay.indices(key, p.depth))
    return Shape(
        path=path,
        scheme=doc.proof.scheme,
        width=doc.proof.width,
        keys=len(paths),
        openings=sum(p.depth for p in paths),
        listed=len(doc.proof.commitments),
        present=sum(p.kind == PRESENT for p in paths),
        other=sum(p.kind == OTHER for p in paths),
        id_steps=sum(p.depth - 1 for p in paths),
        bits_set=bits_set,
        shared_levels=_shared_levels(lay, doc.keys, paths),
        data=call_data(doc, path),
    )


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
    """What a Merkle baseline verification costs depends on."""

    path: str  # "merkle-single" or "merkle-multi"
    leaves: int
    proof_hashes: int
    flags: int
    data: bytes


def merkle_shape_single(tree: MerkleTree, key: bytes, value: bytes) -> MerkleShape:
    """The shape of `verify(proof, key, value)` on the Merkle baseline."""
    proof = tree.prove(key, value)
    data = encode_call(merkle_abi(), "verify", [proof, key, value])
    return MerkleShape("merkle-single", 1, len(proof), 0, data)


def merkle_shape_multi(tree: MerkleTree, pairs: Sequence[tuple[bytes, bytes]]) -> MerkleShape:
    """The shape of `multiProofVerify` on the Merkle baseline."""
    args = multi_proof_args(tree, pairs)
    return MerkleShape(
        "merkle-multi",
        len(args[2]),
        len(args[0]),
        len(args[1]),
        encode_call(merkle_abi(), "multiProofVerify", args),
    )


MERKLE_FEATURES = ("const", "leaves", "proof_hashes", "flags", "data_words")


def merkle_features(shape: MerkleShape) -> dict[str, float]:
    """The counts the Merkle verifier's opcode gas is linear in."""
    return {
        "const": 1,
        "leaves": shape.leaves,
        "proof_hashes": shape.proof_hashes,
        "flags": shape.flags,
        "data_words": g.words(len(shape.data)),
    }


def merkle_estimate_fixed(shape: MerkleShape) -> dict[str, int]:
    """The exactly known parts of the Merkle verification's execution gas."""
    terms = {"root SLOAD (cold)": g.COLD_SLOAD_COST}
    if shape.path == "merkle-multi":
        # leaves[] and hashes[] arrays, and 5 words per leaf that abi.encode / bytes.concat allocate
        # in leafHash (measured from traces: 7 + 6 per leaf + 1 per flag)
        words = 7 + 6 * shape.leaves + shape.flags
        terms["memory (quadratic part)"] = words * words // 512
    return terms


def merkle_estimate(
    shape: MerkleShape, costs: Mapping[str, Any] | None = None, fork: str | Fork | None = None
) -> Estimate:
    """The receipt gas of a Merkle baseline verification under ``fork``'s rules (default Osaka)."""
    rules = get_fork(fork)
    terms = merkle_estimate_fixed(shape)
    terms["verifier opcodes (fitted)"] = _fitted_gas(
        (costs or fitted(rules))[shape.path], merkle_features(shape), shape.path
    )
    return g.estimate_transaction(shape.data, terms, calldata_floor=rules.calldata_floor)
