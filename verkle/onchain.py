"""Verifier contracts on a chain: deploy one holding a root, check proofs with it and report the gas.

Validity comes from an eth_call; gas from a transaction of the same call (its receipt), so the figure
is what a contract calling the verifier in a transaction pays, intrinsic gas and calldata included.
The contract's source, artifact and calldata come from the pure modules (`contract`, `calldata`,
`verifier_paths`); this one holds what needs a chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evmkit import chain as evmchain
from evmkit.chain import ChainSession, TxResult
from evmkit.errors import ChainError
from evmkit.precompiles import Precompile, probe
from evmkit.solc import Compiler

from .calldata import xy
from .contract import compile_merkle, compile_verifier
from .errors import MalformedProof
from .kzg import KZG
from .merkle import MerkleTree, multi_proof_args
from .proof import ProofDocument
from .roots import check_root
from .schemes import SCHEMES
from .tree import VerkleTree
from .verifier_paths import paths_for, verifier_args

__all__ = [
    "DeployedVerifier",
    "MissingPrecompile",
    "OnchainResult",
    "deploy_contract",
    "deploy_merkle",
    "deploy_verifier",
    "merkle_multi",
    "merkle_single",
    "schemes_available",
    "verify_onchain",
]


class MissingPrecompile(ChainError):
    """The chain lacks a precompile the verifier calls: name it, and what would work there."""

    def __init__(self, scheme: str, missing: Sequence[Precompile], available: Sequence[str]) -> None:
        names = ", ".join(p.label for p in missing)
        paths = "; ".join(f"--scheme {s} ({', '.join(p.name for p in paths_for(s))})" for s in available)
        hint = f"this chain can run {paths}" if available else "no verifier scheme runs on this chain"
        super().__init__(
            f"this chain lacks {names}, which {scheme} verifiers call: deployment refused; {hint}"
        )
        self.missing = tuple(missing)


@dataclass(frozen=True)
class OnchainResult:
    """A verification on a chain: the verifier's answer, the transaction's gas and its calldata size."""

    valid: bool
    gas: int
    calldata_bytes: int


def schemes_available(session: ChainSession) -> list[str]:
    """The schemes whose verifiers this chain can run: every precompile they call answers."""
    return [s.name for s in SCHEMES.values() if not probe(session.w3, s.precompiles, session.probe_fields())]


def deploy_contract(
    session: ChainSession, scheme: KZG, root: bytes, compiler: Compiler | None = None
) -> tuple[Any, TxResult]:
    """Deploy a verifier holding `root`, after checking the root and the chain's precompiles here, so
    that both refusals come as a clear message rather than a bare revert of the constructor. Returns
    the web3 contract and the deployment's receipt."""
    root = check_root(scheme.name, root)
    missing = probe(session.w3, SCHEMES[scheme.name].precompiles, session.probe_fields())
    if missing:
        raise MissingPrecompile(scheme.name, missing, schemes_available(session))
    return session.deploy(compile_verifier(scheme, compiler), xy(root))


def _measure(
    session: ChainSession, contract: Any, function: str, args: Sequence[Any], gas: bool
) -> OnchainResult:
    data = bytes.fromhex(contract.encode_abi(function, args=list(args)).removeprefix("0x"))
    valid = bool(session.call(contract, function, *args))
    used = session.send(contract.address, data, abi=contract.abi).gas_used if gas else 0
    return OnchainResult(valid, used, len(data))


def verify_onchain(
    session: ChainSession, contract: Any, doc: ProofDocument, path: str | None = None, gas: bool = True
) -> OnchainResult:
    """Check `doc` with a deployed verifier along `path` (default: the document's default path);
    without `gas` only the eth_call is made."""
    function, args = verifier_args(doc, path)
    return _measure(session, contract, function, args, gas)


@dataclass(frozen=True)
class DeployedVerifier:
    """A verifier contract on a chain, holding a root: `verify` checks proof documents with it."""

    session: ChainSession
    contract: Any  # the web3 contract
    scheme: KZG
    receipt: TxResult  # the deployment's

    @property
    def address(self) -> str:
        """The contract's address."""
        return str(self.contract.address)

    def root(self) -> bytes:
        """The root the contract holds, in this package's encoding (as `tree.root_commitment`)."""
        return bytes(self.session.call(self.contract, "root"))

    def verify(self, doc: ProofDocument, path: str | None = None, gas: bool = True) -> OnchainResult:
        """Check `doc` on-chain along `path` (default: the document's default path); the gas is a
        transaction's, which `gas=False` skips. The contract checks against the root it holds, never the
        document's: a proof for another root comes back `valid=False`. A document no call to this
        verifier can carry (a proof for another scheme or width, a point that does not decode) raises
        MalformedProof, before anything is sent: neither valid nor invalid, as `verkle verify --onchain`
        exits 2 for it."""
        if not isinstance(doc, ProofDocument):
            raise TypeError(f"doc must be a verkle.ProofDocument, got {type(doc).__name__}")
        proof, scheme = doc.proof, self.scheme
        if (proof.scheme, proof.width) != (scheme.name, scheme.width):
            raise MalformedProof(
                f"the proof is for {proof.scheme} width {proof.width}, this verifier checks {scheme.name} "
                f"width {scheme.width}: it would revert"
            )
        return verify_onchain(self.session, self.contract, doc, path, gas)


def deploy_verifier(
    scheme_or_tree: KZG | VerkleTree,
    root: bytes | None = None,
    chain: ChainSession | None = None,
    compiler: Compiler | None = None,
) -> DeployedVerifier:
    """Deploy the verifier for a scheme (or a tree's scheme) holding `root` (default: the tree's root)
    on `chain` (default: a fresh embedded py-evm chain, gone with this process)."""
    tree = scheme_or_tree if isinstance(scheme_or_tree, VerkleTree) else None
    scheme = tree.scheme if tree is not None else scheme_or_tree
    if root is None:
        if tree is None:
            raise ValueError("deploy_verifier needs the root the verifier holds (or a tree to take it from)")
        root = tree.root_commitment
    session = chain if chain is not None else evmchain.embedded()
    contract, receipt = deploy_contract(session, scheme, root, compiler)
    return DeployedVerifier(session, contract, scheme, receipt)


# ---------------------------------------------------------------- the Merkle baseline


def deploy_merkle(
    session: ChainSession, tree: MerkleTree, compiler: Compiler | None = None
) -> tuple[Any, TxResult]:
    """Deploy the keccak Merkle baseline holding `tree`'s root."""
    return session.deploy(compile_merkle(compiler), tree.root)


def merkle_single(
    session: ChainSession, contract: Any, tree: MerkleTree, key: bytes, value: bytes, gas: bool = True
) -> OnchainResult:
    """Check one key's Merkle proof on-chain."""
    return _measure(session, contract, "verify", [tree.prove(key, value), key, value], gas)


def merkle_multi(
    session: ChainSession,
    contract: Any,
    tree: MerkleTree,
    pairs: Sequence[tuple[bytes, bytes]],
    gas: bool = True,
) -> OnchainResult:
    """Check a Merkle multiproof of `pairs` on-chain."""
    return _measure(session, contract, "multiProofVerify", multi_proof_args(tree, pairs), gas)
