"""A Verkle verification over the node's gas cap is refused before it is sent, with the model's estimate
(issue 14): on anvil under Osaka, whose block gas limit is lowered after the verifier is deployed."""

from __future__ import annotations

import os
import random

import pytest

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import GasLimitExceeded
from helpers.verkle_data import random_pairs
from verkle import gasmodel
from verkle.onchain import deploy_verifier
from verkle.prover import prove_multi
from verkle.schemes import load_scheme
from verkle.tree import VerkleTree

pytestmark = pytest.mark.rpc


def test_a_verification_over_the_cap_is_refused_with_its_estimate():
    scheme = load_scheme("kzg-bls12-381", 16)
    pairs = random_pairs(300, 91)
    tree = VerkleTree.build(scheme, pairs, workers=1)
    with start_anvil(gas_limit=60_000_000) as node:
        os.environ["VERKLE_CAP_KEY"] = node.private_keys[0]
        session = chain.rpc(node.url, "VERKLE_CAP_KEY", fork="osaka")
        assert session.gas_cap == 2**24  # EIP-7825 under a 60M block
        verifier = deploy_verifier(tree, chain=session)
        doc = prove_multi(tree, [k for k, _ in random.Random(2).sample(pairs, 40)])
        estimate = gasmodel.estimate(gasmodel.shape_of(doc, "msm-point-evaluation")).total
        assert verifier.verify(doc).valid  # fits a 60M block
        session.w3.provider.make_request("evm_setBlockGasLimit", [hex(estimate - 1)])
        session.w3.provider.make_request("evm_mine", [])
        assert session.gas_cap == estimate - 1
        sent = session.w3.eth.block_number
        with pytest.raises(
            GasLimitExceeded, match=rf"verifying 40 keys \(msm-point-evaluation\) needs about {estimate:,}"
        ):
            verifier.verify(doc)
        assert session.w3.eth.block_number == sent
