"""KZG Verkle trees with generated on-chain verifiers.

    import verkle
    scheme = verkle.load_scheme("kzg-bls12-381", 256)     # the Ethereum KZG ceremony
    tree = verkle.VerkleTree.build(scheme, pairs)          # pairs: (32-byte key, 32-byte value)
    doc = verkle.prove(tree, [key_a, key_b])               # a multiproof: members and non-members
    verkle.verify(doc)                                     # off-chain; raises InvalidProof
    verifier = verkle.deploy_verifier(tree)                # on a fresh embedded chain by default
    result = verifier.verify(doc)                          # .valid, .gas, .calldata_bytes

`deploy_verifier` (and the on-chain types) load web3 when first used, so that `import verkle` and the
pure modules (`contract`, `calldata`, `gasmodel`) stay free of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import InvalidProof, InvalidRoot, MalformedProof, UnknownName
from .kzg import KZG
from .offchain import verify_document
from .proof import ProofDocument, read_document
from .prover import prove_multi, prove_single
from .schemes import SCHEMES, Scheme, load_scheme
from .tree import VerkleTree
from .verifier_paths import PATHS, VerifierPath

if TYPE_CHECKING:
    from .onchain import DeployedVerifier, OnchainResult, deploy_verifier

__all__ = [
    "DeployedVerifier",
    "InvalidProof",
    "InvalidRoot",
    "KZG",
    "MalformedProof",
    "OnchainResult",
    "PATHS",
    "ProofDocument",
    "SCHEMES",
    "Scheme",
    "UnknownName",
    "VerifierPath",
    "VerkleTree",
    "deploy_verifier",
    "load_scheme",
    "prove",
    "read_document",
    "verify",
]

_ON_CHAIN = ("DeployedVerifier", "OnchainResult", "deploy_verifier")


def prove(tree: VerkleTree, keys: bytes | Iterable[bytes], *, single: bool = False) -> ProofDocument:
    """A proof document for one key (32 bytes) or many, present or absent: one multiproof by default,
    which every scheme's verifier checks; with `single`, one key's opening per level (BLS12-381's
    point-evaluation path)."""
    key_list = [keys] if isinstance(keys, (bytes, bytearray)) else list(keys)
    if single:
        if len(key_list) != 1:
            raise ValueError(f"a single proof covers one key, not {len(key_list)} (leave single=False)")
        return prove_single(tree, key_list[0])
    if not key_list:
        raise ValueError("prove needs at least one key")
    return prove_multi(tree, key_list)


def verify(doc: ProofDocument, root: bytes | None = None, *, scheme: KZG | None = None) -> None:
    """Check `doc` off-chain; return quietly when valid, raise InvalidProof when not (MalformedProof
    for what no verifier takes). `root`, when given, must be the one the document names. `scheme`
    defaults to the document's with its standard setup: pass it (e.g. `tree.scheme`) for kzg-bn254,
    whose setup is a .ptau file."""
    verify_document(scheme or load_scheme(doc.proof.scheme, doc.proof.width), doc, root)


def __getattr__(name: str) -> Any:
    """The on-chain names, imported (with web3) when first asked for."""
    if name in _ON_CHAIN:
        from . import onchain

        return getattr(onchain, name)
    raise AttributeError(f"module 'verkle' has no attribute {name!r}")
