"""`verkle demo`: a tree, a multiproof with members and non-members, checked off-chain and by the
generated verifiers on the embedded chain, beside the Merkle twin; then a tampered proof, refused."""

from __future__ import annotations

import random
import time

from evmkit import chain
from evmkit.forks import Fork
from evmkit.table import format_table

from . import gasmodel
from .merkle import MerkleTree
from .offchain import verify_document
from .onchain import deploy_merkle, deploy_verifier, merkle_multi, merkle_single
from .proof import SINGLE, InvalidProof, ProofDocument
from .prover import prove_multi, prove_single
from .schemes import SCHEMES, load_scheme
from .tree import VerkleTree
from .verifier_paths import paths_for


def run_demo(
    size: int = 4096, width: int = 256, keys: int = 12, seed: int = 5, fork: str | Fork | None = None
) -> None:
    """The demo under ``fork``'s rules (default Osaka; BLS12-381 needs Prague or later)."""
    rules = SCHEMES["kzg-bls12-381"].check_fork(fork)
    rng = random.Random(seed)
    pairs = [(rng.randbytes(32), rng.randbytes(32)) for _ in range(size)]
    scheme = load_scheme("kzg-bls12-381", width)
    start = time.perf_counter()
    tree = VerkleTree.build(scheme, pairs, progress=False)
    print(
        f"verkle demo: {size:,} random keys, width {width}, Ethereum KZG ceremony (BLS12-381); "
        f"built in {time.perf_counter() - start:.2f} s, root {tree.root_commitment.hex()[:24]}..."
    )
    members = rng.sample(pairs, keys)
    absent = [rng.randbytes(32) for _ in range(2)]
    doc = prove_multi(tree, [k for k, _ in members] + absent)
    verify_document(scheme, doc)
    print(
        f"multiproof for {len(doc.keys)} keys ({keys} present, {len(absent)} absent): "
        f"{len(doc.proof.to_bytes()):,} bytes, valid off-chain"
    )

    session = chain.embedded(block_gas_limit=60_000_000, fork=rules)
    verifier = deploy_verifier(tree, chain=session)
    merkle = MerkleTree(pairs)
    merkle_contract, _ = deploy_merkle(session, merkle)
    single = prove_single(tree, members[0][0])
    rows = []
    for path in paths_for(scheme.name):
        d = single if path.proof_type == SINGLE else doc
        result = verifier.verify(d, path.name)
        model = gasmodel.estimate(gasmodel.shape_of(d, path.name), fork=rules).total
        what = f"{len(d.keys)} keys" if len(d.keys) > 1 else "1 key"
        rows.append(
            [
                f"Verkle {path.name}",
                what,
                "valid" if result.valid else "INVALID",
                f"{result.gas:,}",
                f"{model:,}",
                f"{result.calldata_bytes:,}",
            ]
        )
    for label, result, shape in (
        (
            "Merkle single (OpenZeppelin rules)",
            merkle_single(session, merkle_contract, merkle, *members[0]),
            gasmodel.merkle_shape_single(merkle, *members[0]),
        ),
        (
            "Merkle multiproof (OpenZeppelin rules)",
            merkle_multi(session, merkle_contract, merkle, members),
            gasmodel.merkle_shape_multi(merkle, members),
        ),
    ):
        rows.append(
            [
                label,
                f"{shape.leaves} keys" if shape.leaves > 1 else "1 key",
                "valid" if result.valid else "INVALID",
                f"{result.gas:,}",
                f"{gasmodel.merkle_estimate(shape, fork=rules).total:,}",
                f"{result.calldata_bytes:,}",
            ]
        )
    print(
        f"verifier deployed on the embedded py-evm chain, {rules.title} rules "
        f"({verifier.receipt.gas_used:,} gas); every check is a transaction:"
    )
    print(format_table(rows, ["verification", "proves", "result", "gas", "model", "calldata bytes"]))
    print("(Merkle cannot prove absence: its multiproof covers the present keys only.)")

    values = list(doc.values)
    i = next(j for j, v in enumerate(values) if v is not None)
    values[i] = bytes(32)
    forged = ProofDocument(doc.proof, doc.root, doc.keys, tuple(values))
    try:
        verify_document(scheme, forged)
        offchain = "ACCEPTED"
    except InvalidProof as exc:
        offchain = f"refused ({exc})"
    onchain = verifier.verify(forged, gas=False)
    print(
        f"the same proof with one value changed: off-chain {offchain}; "
        f"on-chain {'ACCEPTED' if onchain.valid else 'refused (false)'}"
    )
