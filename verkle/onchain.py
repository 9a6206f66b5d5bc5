"""Verifier contracts on a chain: compile, deploy holding a root, verify a proof and report the gas.

Validity comes from an eth_call; gas from a transaction of the same call (its receipt), so the figure
is what a contract calling the verifier in a transaction pays, intrinsic gas and calldata included.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional, Sequence

from evmkit.chain import ChainSession
from evmkit.errors import ChainError
from evmkit.precompiles import SCHEME_PRECOMPILES, Precompile, probe, schemes_available
from evmkit.resources import contract_source
from evmkit.solc import Artifact, Compiler, compile_sources, default_settings

from .kzg import KZG
from .merkle import MerkleTree, MultiProof, leaf_hash
from .proof import MULTI, ProofDocument
from .roots import check_root
from .solidity import multi_call, render_verifier, single_call, verifier_name, xy

# how a proof is checked on-chain, by scheme: BLS12-381 one 0x0a call per level (single proofs), or a
# multiproof through G1MSM with a 0x0a or a pairing final check; BN254 a multiproof through
# ecMul / ecAdd / ecPairing
PATHS = {"kzg-bls12-381": ("msm-point-evaluation", "msm-pairing", "point-evaluation"),
         "kzg-bn254": ("ecmul-pairing",)}
PATH_FUNCTIONS = {"point-evaluation": "verifySingle", "msm-point-evaluation": "verifyMulti",
                  "msm-pairing": "verifyMultiPairing", "ecmul-pairing": "verifyMulti"}


class MissingPrecompile(ChainError):
    """The chain lacks a precompile the verifier calls: name it, and what would work there."""

    def __init__(self, scheme: str, missing: Sequence[Precompile], available: Sequence[str]) -> None:
        names = ", ".join(p.label for p in missing)
        paths = "; ".join(f"--scheme {s} ({', '.join(PATHS[s])})" for s in available)
        hint = f"this chain can run {paths}" if available else "no verifier scheme runs on this chain"
        super().__init__(f"this chain lacks {names}, which {scheme} verifiers call: deployment refused; {hint}")
        self.missing = tuple(missing)


@dataclass(frozen=True)
class OnchainResult:
    valid: bool
    gas: int
    calldata_bytes: int


# BN254 verifiers are for chains without Prague's precompiles, many of them older still: compiled for
# Paris they use no opcode newer than the Merge (no PUSH0, no MCOPY), so they run on any chain since
# Constantinople (SHL/SHR) that has the Byzantium precompiles. BLS12-381 verifiers need Prague anyway.
EVM_VERSIONS = {"kzg-bls12-381": "prague", "kzg-bn254": "paris"}


def _via_ir(evm_version: str = "prague") -> dict[str, Any]:
    settings = default_settings()
    settings["evmVersion"] = evm_version
    settings["viaIR"] = True  # the verifier's walk keeps more values alive than the legacy stack allows
    # tuned for calls: at 200 runs the optimizer reads the 32-byte field modulus from code with
    # CODECOPY at every use inside the loops; 20,000 keeps it a PUSH32 and still fits a width-4096
    # verifier under EIP-170's 24,576 bytes (a test checks every width)
    settings["optimizer"] = {"enabled": True, "runs": 20_000}
    return settings


def compile_verifier(scheme: KZG, compiler: Optional[Compiler] = None) -> Artifact:
    name = verifier_name(scheme)
    return _compile(name, render_verifier(scheme), compiler, EVM_VERSIONS[scheme.name])


@lru_cache(maxsize=16)
def _compile(name: str, source: str, compiler: Optional[Compiler], evm_version: str) -> Artifact:
    return compile_sources({f"{name}.sol": source}, name, compiler, _via_ir(evm_version))


@lru_cache(maxsize=2)
def compile_merkle(compiler: Optional[Compiler] = None) -> Artifact:
    return compile_sources({"MerkleVerifier.sol": contract_source("verkle", "MerkleVerifier.sol")}, "MerkleVerifier", compiler,
                           _via_ir())


def deploy_verifier(session: ChainSession, scheme: KZG, root: bytes, compiler: Optional[Compiler] = None):
    """Deploy a verifier holding `root`, after checking the root and the chain's precompiles here, so
    that both refusals come as a clear message rather than a bare revert of the constructor."""
    root = check_root(scheme.name, root)
    missing = probe(session.w3, SCHEME_PRECOMPILES[scheme.name])
    if missing:
        raise MissingPrecompile(scheme.name, missing, schemes_available(session.w3))
    return session.deploy(compile_verifier(scheme, compiler), xy(root))


def _measure(session: ChainSession, contract: Any, function: str, args: Sequence[Any], gas: bool) -> OnchainResult:
    data = bytes.fromhex(contract.encode_abi(function, args=list(args)).removeprefix("0x"))
    valid = bool(session.call(contract, function, *args))
    used = session.send(contract.address, data, abi=contract.abi).gas_used if gas else 0
    return OnchainResult(valid, used, len(data))


def verifier_args(doc: ProofDocument, path: str) -> tuple[str, list[Any]]:
    """The verifier function and its arguments for a proof document and a verification path."""
    paths = PATHS[doc.proof.scheme]
    if path not in paths:
        raise ValueError(f"{doc.proof.scheme} proofs are checked by {', '.join(paths)}, not {path!r}")
    if path == "point-evaluation":
        return PATH_FUNCTIONS[path], list(single_call(doc))
    call = multi_call(doc)
    proof = call.proof_pairing if path == "msm-pairing" else call.proof
    return PATH_FUNCTIONS[path], [call.keys, call.values, call.absent, proof]


def default_path(doc: ProofDocument) -> str:
    if doc.proof.scheme == "kzg-bn254":
        return "ecmul-pairing"
    return "msm-point-evaluation" if doc.proof.type == MULTI else "point-evaluation"


def verify_onchain(session: ChainSession, contract: Any, doc: ProofDocument, path: Optional[str] = None,
                   gas: bool = True) -> OnchainResult:
    path = path or default_path(doc)
    function, args = verifier_args(doc, path)
    return _measure(session, contract, function, args, gas)


def deploy_merkle(session: ChainSession, tree: MerkleTree, compiler: Optional[Compiler] = None):
    return session.deploy(compile_merkle(compiler), tree.root)


def merkle_single(session: ChainSession, contract: Any, tree: MerkleTree, key: bytes, value: bytes,
                  gas: bool = True) -> OnchainResult:
    return _measure(session, contract, "verify", [tree.prove(key, value), key, value], gas)


def merkle_multi(session: ChainSession, contract: Any, tree: MerkleTree, pairs: Sequence[tuple[bytes, bytes]],
                 gas: bool = True) -> OnchainResult:
    mp: MultiProof = tree.prove_multi(pairs)
    by_hash = {leaf_hash(k, v): (k, v) for k, v in pairs}
    ordered = [by_hash[h] for h in mp.leaves]
    return _measure(session, contract, "multiProofVerify",
                    [list(mp.proof), list(mp.flags), [k for k, _ in ordered], [v for _, v in ordered]], gas)
