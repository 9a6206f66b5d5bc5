"""How a proof is checked on-chain: one `VerifierPath` record per way a verifier contract checks it.

BLS12-381 verifiers check a single proof with one 0x0a call per level (`point-evaluation`), or a
multiproof through G1MSM with a 0x0a (`msm-point-evaluation`) or a pairing (`msm-pairing`) final
check; BN254 verifiers a multiproof through ecMul / ecAdd / ecPairing (`ecmul-pairing`). Each record
says which schemes have it, the proof type it takes, the Solidity function (its ABI comes from the
compiled contract: `contract.verifier_abi`), how calldata is built and read back, the precompile gas
it pays for a proof's shape and the features the gas model fits its opcode gas on. The CLI, the gas
model, the benches, the demo and calibration all read these. Pure: no chain, no web3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from evmkit import gas as g

from .calldata import DecodedCall, decode_multi_call, decode_single_call, multi_call, single_call
from .proof import MULTI, SINGLE, ProofDocument
from .registry import Registry
from .schemes import SCHEMES

__all__ = ["PATHS", "VerifierPath", "default_path", "path_for_function", "paths_for", "verifier_args"]

# EIP-2929: a call to a precompile (always warm)
WARM_CALL_GAS = g.WARM_STORAGE_READ_COST
# 0x0a with its versioned hash: SHA-256 of the 48-byte commitment, then the precompile
POINT_EVALUATION_CALL_GAS = g.POINT_EVALUATION_PRECOMPILE_GAS + g.sha256_gas(48) + 2 * WARM_CALL_GAS

Terms = list[tuple[str, int]]


@dataclass(frozen=True)
class VerifierPath:
    """One way a verifier contract checks a proof."""

    name: str
    schemes: tuple[str, ...]  # the schemes whose verifiers have it
    proof_type: int  # SINGLE or MULTI
    function: str  # the Solidity function
    encode: Callable[[ProofDocument], list[Any]]  # the function's arguments for a proof document
    decode: Callable[[str, int, Sequence[Any]], DecodedCall]  # (scheme, width, arguments) -> claims and proof
    msm_extra: int  # MSM terms beyond the listed commitments (multiproofs: D, and the pairing's own)
    precompile_terms: Callable[[int, int], Terms]  # (MSM terms, openings) -> the precompile calls' gas
    features: tuple[str, ...]  # what the gas model fits the verifier's own opcode gas on

    def arguments(self, doc: ProofDocument) -> list[Any]:
        """The function's arguments for `doc`, after checking that this path takes its proofs."""
        if doc.proof.scheme not in self.schemes:
            names = ", ".join(p.name for p in paths_for(doc.proof.scheme))
            raise ValueError(f"{doc.proof.scheme} proofs are checked by {names}, not {self.name!r}")
        return self.encode(doc)


def _decode_single(scheme: str, width: int, args: Sequence[Any]) -> DecodedCall:
    return decode_single_call(*args, width=width)


def _decode_multi(scheme: str, width: int, args: Sequence[Any], pairing: bool = False) -> DecodedCall:
    return decode_multi_call(*args, scheme_name=scheme, width=width, pairing=pairing)


def _point_evaluation_terms(msm_terms: int, openings: int) -> Terms:
    return [("point evaluation (0x0a) x depth", openings * POINT_EVALUATION_CALL_GAS)]


def _msm_point_evaluation_terms(msm_terms: int, openings: int) -> Terms:
    return [
        (f"G1MSM over {msm_terms} points", g.g1msm_gas(msm_terms) + WARM_CALL_GAS),
        ("G1ADD (E - D)", g.BLS12_G1ADD_GAS + WARM_CALL_GAS),
        ("point evaluation (0x0a)", POINT_EVALUATION_CALL_GAS),
    ]


def _msm_pairing_terms(msm_terms: int, openings: int) -> Terms:
    return [
        (f"G1MSM over {msm_terms} points", g.g1msm_gas(msm_terms) + WARM_CALL_GAS),
        ("pairing check (2 pairs)", g.bls_pairing_gas(2) + WARM_CALL_GAS),
    ]


def _ecmul_pairing_terms(msm_terms: int, openings: int) -> Terms:
    return [
        (f"ecMul + ecAdd x {msm_terms}", msm_terms * (g.ECMUL_GAS + g.ECADD_GAS + 2 * WARM_CALL_GAS)),
        ("ecPairing (2 pairs)", g.bn_pairing_gas(2) + WARM_CALL_GAS),
    ]


_MULTI_FEATURES = ("const", "keys", "openings", "listed", "present", "other", "id_steps", "shared_levels")

# in the order commands list them: a scheme's first path for a proof type is its default
PATHS: Registry[VerifierPath] = Registry(
    "verifier path",
    (
        VerifierPath(
            "msm-point-evaluation",
            ("kzg-bls12-381",),
            MULTI,
            "verifyMulti",
            multi_call,
            _decode_multi,
            1,
            _msm_point_evaluation_terms,
            _MULTI_FEATURES,
        ),
        VerifierPath(
            "msm-pairing",
            ("kzg-bls12-381",),
            MULTI,
            "verifyMultiPairing",
            partial(multi_call, pairing=True),
            partial(_decode_multi, pairing=True),
            4,
            _msm_pairing_terms,
            _MULTI_FEATURES,
        ),
        VerifierPath(
            "point-evaluation",
            ("kzg-bls12-381",),
            SINGLE,
            "verifySingle",
            single_call,
            _decode_single,
            0,
            _point_evaluation_terms,
            ("const", "openings", "present", "other", "data_words", "bits_set", "level_bits"),
        ),
        VerifierPath(
            "ecmul-pairing",
            ("kzg-bn254",),
            MULTI,
            "verifyMulti",
            multi_call,
            _decode_multi,
            4,
            _ecmul_pairing_terms,
            _MULTI_FEATURES,
        ),
    ),
    doc="The verifier paths by name (`PATHS[name]`: UnknownName for one it lacks).",
)


def paths_for(scheme_name: str, proof_type: int | None = None) -> tuple[VerifierPath, ...]:
    """The paths of a scheme's verifiers (of those, the ones taking `proof_type` proofs when given)."""
    SCHEMES[scheme_name]  # an unknown scheme is an error, not an empty list
    return tuple(p for p in PATHS.values() if scheme_name in p.schemes and proof_type in (None, p.proof_type))


def default_path(doc: ProofDocument) -> VerifierPath:
    """The first path that checks this document's scheme and proof type."""
    paths = paths_for(doc.proof.scheme, doc.proof.type)
    if not paths:
        kind = "single proofs" if doc.proof.type == SINGLE else "multiproofs"
        others = ", ".join(p.name for p in paths_for(doc.proof.scheme))
        raise ValueError(f"no {doc.proof.scheme} verifier checks {kind} (its paths: {others})")
    return paths[0]


def path_for_function(scheme_name: str, function: str) -> VerifierPath:
    """The path a call of `function` on a `scheme_name` verifier takes."""
    paths = paths_for(scheme_name)
    for p in paths:
        if p.function == function:
            return p
    functions = ", ".join(p.function for p in paths)
    raise ValueError(f"the {scheme_name} verifier has no function {function!r} (functions: {functions})")


def verifier_args(doc: ProofDocument, path: str | None = None) -> tuple[str, list[Any]]:
    """The verifier function and its arguments for a proof document and a path (default: the
    document's default path)."""
    record = PATHS[path] if path is not None else default_path(doc)
    return record.function, record.arguments(doc)
