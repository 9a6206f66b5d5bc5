"""KZG Verkle trees with generated on-chain verifiers.

    import verkle
    scheme = verkle.load_scheme("kzg-bls12-381", 256)     # the Ethereum KZG ceremony
    tree = verkle.VerkleTree.build(scheme, pairs)          # pairs: (32-byte key, 32-byte value)
    doc = verkle.prove(tree, [key_a, key_b])               # a multiproof: members and non-members
    verkle.verify(doc, tree.root_commitment)               # off-chain, against the root you trust
    verifier = verkle.deploy_verifier(tree)                # on a fresh embedded chain by default
    result = verifier.verify(doc)                          # .valid, .gas, .calldata_bytes
    verkle.deploy_verifier(tree, fork="prague")            # any fork by name (default Osaka, or the chain's)

Trees on disk, for any size (nodes and leaves are read as walks reach them):

    verkle.build_tree_file(pairs, "tree.db", width=256, cluster="local:4")   # or workers=N
    tree = verkle.open_tree("tree.db")                     # reads nothing yet
    verkle.update_tree_file("tree.db", [(key, value), (gone, None)])   # one batch, one transaction

`deploy_verifier` (and the on-chain types) load web3 when first used, so that `import verkle` and the
pure modules (`contract`, `calldata`, `gasmodel`) stay free of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import store
from .diskbuild import BuildReport, build_file
from .errors import InvalidProof, InvalidRoot, MalformedProof, UnknownName
from .kzg import KZG
from .offchain import verify_document
from .proof import ProofDocument, read_document
from .prover import prove_multi, prove_single
from .schemes import SCHEMES, Scheme, load_scheme
from .subtrees import SchemeSpec
from .tree import BatchResult, VerkleTree
from .verifier_paths import PATHS, VerifierPath

if TYPE_CHECKING:
    from .onchain import DeployedVerifier, OnchainResult, deploy_verifier

__all__ = [
    "BatchResult",
    "BuildReport",
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
    "build_tree_file",
    "deploy_verifier",
    "load_scheme",
    "open_tree",
    "prove",
    "read_document",
    "update_tree_file",
    "verify",
]

_ON_CHAIN = ("DeployedVerifier", "OnchainResult", "deploy_verifier")


def prove(tree: VerkleTree, keys: bytes | Iterable[bytes], *, single: bool = False) -> ProofDocument:
    """A proof document for one key (32 bytes) or many, present or absent: one multiproof by default,
    which every scheme's verifier checks; with `single`, one key's opening per level (BLS12-381's
    point-evaluation path)."""
    if not isinstance(tree, VerkleTree):
        raise TypeError(f"tree must be a verkle.VerkleTree, got {type(tree).__name__}")
    key_list = _keys(keys)
    if single:
        if len(key_list) != 1:
            raise ValueError(f"a single proof covers one key, not {len(key_list)} (leave single=False)")
        return prove_single(tree, key_list[0])
    if not key_list:
        raise ValueError("prove needs at least one key")
    return prove_multi(tree, key_list)


def _keys(keys: object) -> list[bytes]:
    """`prove`'s keys as a list: one bytes key, or an iterable of them (a str is neither: hex is the
    CLI's business, and iterating one would give characters)."""
    if isinstance(keys, (bytes, bytearray)):
        return [bytes(keys)]
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise TypeError(
            f"keys must be one 32-byte bytes key or an iterable of them, got {type(keys).__name__}"
        )
    key_list = list(keys)
    for i, key in enumerate(key_list):
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"keys[{i}] must be 32 bytes, got {type(key).__name__}")
    return key_list


def verify(doc: ProofDocument, root: bytes | None, *, scheme: KZG | None = None) -> None:
    """Check `doc` off-chain; return quietly when valid, raise InvalidProof when not (MalformedProof
    for what no verifier takes). `root` is the root you trust (e.g. `tree.root_commitment`, or what a
    verifier contract holds): the document must be for it. It is required because a document names
    its own root: pass `None` explicitly to check the document against that root, which shows only
    that it is consistent with itself, not that its claims hold in any tree you know. `scheme`
    defaults to the document's with its standard setup: pass it (e.g. `tree.scheme`) for kzg-bn254,
    whose setup is a .ptau file."""
    if not isinstance(doc, ProofDocument):
        raise TypeError(
            f"doc must be a verkle.ProofDocument (see verkle.read_document), got {type(doc).__name__}"
        )
    if scheme is not None and not isinstance(scheme, KZG):
        raise TypeError(
            f"scheme must be a verkle.KZG (from verkle.load_scheme) or None, got {type(scheme).__name__}"
        )
    verify_document(scheme or load_scheme(doc.proof.scheme, doc.proof.width), doc, root)


def build_tree_file(
    pairs: Iterable[tuple[bytes, bytes]],
    path: str | Path,
    *,
    scheme: str = "kzg-bls12-381",
    width: int = 256,
    workers: int | None = None,
    cluster: str | None = None,
    ptau: str | Path | None = None,
    insecure_dev_setup_ok: bool = False,
    progress: bool = False,
) -> BuildReport:
    """Build the tree of `pairs` (streamed: any iterable, any size; a later pair wins) into a new file
    at `path`, replaced atomically: an interrupted build leaves the previous file or none. The root's
    subtrees run on `workers` local processes (default every core), or on a Dask cluster: `cluster`
    is "local:N" (N worker processes here) or a scheduler's address ("tcp://host:8786")."""
    kzg = load_scheme(scheme, width, ptau=ptau, insecure_dev_setup_ok=insecure_dev_setup_ok)
    spec = SchemeSpec(scheme, width, str(Path(ptau).resolve()) if ptau else None, insecure_dev_setup_ok)
    return build_file(kzg, spec, pairs, path, workers=workers, cluster=cluster, progress=progress)


def open_tree(
    path: str | Path, *, ptau: str | Path | None = None, insecure_dev_setup_ok: bool = False
) -> VerkleTree:
    """A tree file opened without reading it: nodes and leaves are read as `get`, `prove`, `insert`
    or `update` reach them, so a tree of any size opens at once. `tree.release()` forgets what was
    read (the working set stays bounded in a long-lived process); `verkle.store.commit(tree, path)`
    writes changes in one transaction."""

    def scheme_for(info: store.TreeInfo) -> KZG:
        return load_scheme(info.scheme, info.width, ptau=ptau, insecure_dev_setup_ok=insecure_dev_setup_ok)

    return store.open_tree(path, scheme_for)


def update_tree_file(
    path: str | Path,
    changes: Iterable[tuple[bytes, bytes | None]],
    *,
    ptau: str | Path | None = None,
    insecure_dev_setup_ok: bool = False,
) -> BatchResult:
    """Apply `changes` to the tree file at `path` in one batch: (key, value) sets a key, (key, None)
    deletes it, the last change of a key wins; every touched node is recommitted once, and the file
    changes in one transaction (it holds the old tree or the new one)."""
    tree = open_tree(path, ptau=ptau, insecure_dev_setup_ok=insecure_dev_setup_ok)
    try:
        result = tree.update(changes)
        store.commit(tree, path)
    finally:
        tree.close()
    return result


def __getattr__(name: str) -> Any:
    """The on-chain names, imported (with web3) when first asked for."""
    if name in _ON_CHAIN:
        from . import onchain

        return getattr(onchain, name)
    raise AttributeError(f"module 'verkle' has no attribute {name!r}")
