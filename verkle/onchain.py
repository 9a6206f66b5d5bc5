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
from evmkit import gas as g
from evmkit import precompiles as pc
from evmkit.chain import ChainSession, TxResult
from evmkit.errors import ChainError
from evmkit.forks import Fork
from evmkit.precompiles import Precompile, probe
from evmkit.solc import Artifact, Compiler

from . import gasmodel
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
    "deployment_estimate",
    "session_fork",
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


def session_fork(session: ChainSession, fork: str | Fork | None = None) -> Fork:
    """The rules verifiers on ``session`` are compiled for and priced with: ``fork`` when given (a chain
    that runs other rules is refused: evmkit.chain.ForkMismatch), else the chain's own; a node older
    than every known fork is taken at the oldest one's rules (Cancun's: BN254 verifiers and the Merkle
    baseline cost the same on any chain since Berlin)."""
    return session.require_fork(fork) if fork is not None else session.pricing_fork


# the constructor's own work besides its precompile probes, the stored words and the code: the
# ownership and root events, the root check's memory and the Solidity around them (measured at
# 7-9k on every scheme and width; a bound, since this is only for refusing what cannot fit)
_CONSTRUCTOR_OPCODES_GAS = 15_000


def deployment_estimate(artifact: Artifact, init: bytes, scheme: str, fork: str | Fork | None = None) -> int:
    """About what deploying a verifier costs (an upper bound within a few percent): the creation
    transaction for ``init`` (init code and constructor arguments), the code deposit, the constructor's
    precompile probes (the gas each forwards), the root's check, owner and root slots, and the rest."""
    record = SCHEMES[scheme]
    rules = record.check_fork(fork)
    probes = sum(pc.registry()[name].gas for name in record.precompiles)
    root_check = g.g1msm_gas(1) if record.point_size == 48 else g.ECMUL_GAS
    slots = 1 + record.layout.point // 32  # owner, and the root's x || y words
    execution = (
        probes
        + root_check
        + slots * (g.SSTORE_SET_GAS + g.COLD_SLOAD_COST)
        + g.CODE_DEPOSIT_COST_PER_BYTE * len(artifact.deployed_bytecode)
        + _CONSTRUCTOR_OPCODES_GAS
    )
    return g.transaction_gas(init, execution, create=True, calldata_floor=rules.calldata_floor)


def deploy_contract(
    session: ChainSession,
    scheme: KZG,
    root: bytes,
    compiler: Compiler | None = None,
    fork: str | Fork | None = None,
) -> tuple[Any, TxResult]:
    """Deploy a verifier holding `root`, compiled for ``fork``'s rules (default: the chain's; a fork the
    chain does not run is refused), after checking the root and the chain's precompiles here, so that
    both refusals come as a clear message rather than a bare revert of the constructor; a deployment
    that cannot fit the chain's gas cap (EIP-7825's 2**24 under Osaka, or the block) is refused before
    anything is sent, with its estimate. Returns the web3 contract and the deployment's receipt."""
    root = check_root(scheme.name, root)
    rules = session_fork(session, fork)
    missing = probe(session.w3, SCHEMES[scheme.name].precompiles, session.probe_fields())
    if missing:
        raise MissingPrecompile(scheme.name, missing, schemes_available(session))
    artifact = compile_verifier(scheme, compiler, rules)
    init = artifact.bytecode + _constructor_args(xy(root))
    what = f"deploying the {scheme.name} width-{scheme.width} verifier"
    estimate = (what, deployment_estimate(artifact, init, scheme.name, rules))
    return session.deploy(artifact, xy(root), estimate=estimate)


def _constructor_args(root_xy: bytes) -> bytes:
    """The constructor's ABI-encoded argument, as web3 appends it to the init code."""
    from eth_abi import encode

    return encode(["bytes"], [root_xy])


def _measure(
    session: ChainSession,
    contract: Any,
    function: str,
    args: Sequence[Any],
    gas: bool,
    estimate: tuple[str, int] | None = None,
) -> OnchainResult:
    data = bytes.fromhex(contract.encode_abi(function, args=list(args)).removeprefix("0x"))
    if gas and estimate is not None:  # refused before even the call: the transaction could not run
        session.check_fits(*estimate)
    valid = bool(session.call(contract, function, *args))
    used = session.send(contract.address, data, abi=contract.abi).gas_used if gas else 0  # fit checked above
    return OnchainResult(valid, used, len(data))


def verify_onchain(
    session: ChainSession,
    contract: Any,
    doc: ProofDocument,
    path: str | None = None,
    gas: bool = True,
    fork: str | Fork | None = None,
) -> OnchainResult:
    """Check `doc` with a deployed verifier along `path` (default: the document's default path);
    without `gas` only the eth_call is made. The transaction is priced first under ``fork``'s rules
    (default: the chain's): one that cannot fit the chain's gas cap (EIP-7825's 2**24 under Osaka, or
    the block) is refused before anything is sent, with the estimate (evmkit GasLimitExceeded)."""
    function, args = verifier_args(doc, path)
    estimate = None
    if gas:
        rules = session_fork(session, fork)
        name = path if path is not None else _default_path_name(doc)
        total = gasmodel.estimate(gasmodel.shape_of(doc, name), fork=rules).total
        keys = len(doc.keys)
        estimate = (f"verifying {keys} key{'s' if keys != 1 else ''} ({name})", total)
    return _measure(session, contract, function, args, gas, estimate)


def _default_path_name(doc: ProofDocument) -> str:
    from .verifier_paths import default_path

    return default_path(doc).name


@dataclass(frozen=True)
class DeployedVerifier:
    """A verifier contract on a chain, holding a root: `verify` checks proof documents with it."""

    session: ChainSession
    contract: Any  # the web3 contract
    scheme: KZG
    receipt: TxResult  # the deployment's
    fork: Fork  # the rules it was compiled for and its verifications are priced with

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
        return verify_onchain(self.session, self.contract, doc, path, gas, self.fork)


def deploy_verifier(
    scheme_or_tree: KZG | VerkleTree,
    root: bytes | None = None,
    chain: ChainSession | None = None,
    compiler: Compiler | None = None,
    fork: str | Fork | None = None,
) -> DeployedVerifier:
    """Deploy the verifier for a scheme (or a tree's scheme) holding `root` (default: the tree's root)
    on `chain` (default: a fresh embedded py-evm chain under ``fork``'s rules, gone with this process),
    compiled for ``fork``'s rules: default the chain's (Osaka for a fresh one); a fork that differs from
    the chain's is refused (evmkit.chain.ForkMismatch), as is one whose rules lack the scheme's
    precompiles (verkle.schemes.ForkUnsupported: BLS12-381 before Prague)."""
    tree = scheme_or_tree if isinstance(scheme_or_tree, VerkleTree) else None
    scheme = tree.scheme if tree is not None else scheme_or_tree
    if root is None:
        if tree is None:
            raise ValueError("deploy_verifier needs the root the verifier holds (or a tree to take it from)")
        root = tree.root_commitment
    if chain is None:
        SCHEMES[scheme.name].check_fork(fork)  # refused before a chain is made
    session = chain if chain is not None else evmchain.embedded(fork=fork)
    rules = session_fork(session, fork)
    contract, receipt = deploy_contract(session, scheme, root, compiler, rules)
    return DeployedVerifier(session, contract, scheme, receipt, rules)


# ---------------------------------------------------------------- the Merkle baseline


def deploy_merkle(
    session: ChainSession, tree: MerkleTree, compiler: Compiler | None = None, fork: str | Fork | None = None
) -> tuple[Any, TxResult]:
    """Deploy the keccak Merkle baseline holding `tree`'s root, compiled for ``fork`` (default: the
    chain's rules)."""
    return session.deploy(compile_merkle(compiler, session_fork(session, fork)), tree.root)


def merkle_single(
    session: ChainSession, contract: Any, tree: MerkleTree, key: bytes, value: bytes, gas: bool = True
) -> OnchainResult:
    """Check one key's Merkle proof on-chain (priced first under the chain's rules, as verify_onchain)."""
    shape = gasmodel.merkle_shape_single(tree, key, value)
    estimate = (
        "verifying 1 key (merkle-single)",
        gasmodel.merkle_estimate(shape, fork=session_fork(session)).total,
    )
    return _measure(session, contract, "verify", [tree.prove(key, value), key, value], gas, estimate)


def merkle_multi(
    session: ChainSession,
    contract: Any,
    tree: MerkleTree,
    pairs: Sequence[tuple[bytes, bytes]],
    gas: bool = True,
) -> OnchainResult:
    """Check a Merkle multiproof of `pairs` on-chain (priced first, as verify_onchain)."""
    shape = gasmodel.merkle_shape_multi(tree, pairs)
    total = gasmodel.merkle_estimate(shape, fork=session_fork(session)).total
    estimate = (f"verifying {len(pairs)} keys (merkle-multi)", total)
    return _measure(session, contract, "multiProofVerify", multi_proof_args(tree, pairs), gas, estimate)
