"""``evmkit.chain.rpc(url, key=...)`` with the key given in code, against anvil: the library deploys
and predicts through it with the same gas as on the embedded chain, and never shows the key."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eth_account import Account
from torch import nn

import ml2sc
from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import MissingKey

pytestmark = pytest.mark.rpc


@pytest.fixture(scope="module")
def anvil():
    with start_anvil() as node:
        yield node


def test_a_key_given_in_code_signs(anvil, monkeypatch) -> None:
    monkeypatch.delenv(chain.PRIVATE_KEY_ENV, raising=False)  # not read when key= is given
    key = anvil.private_keys[2]
    session = chain.rpc(anvil.url, key=key)
    assert session.default_sender.address == Account.from_key(key).address
    assert session.rpc_url == anvil.url and len(session.signers) == 1
    both = chain.rpc(anvil.url, key=bytes.fromhex(key.removeprefix("0x")), extra_keys=[anvil.private_keys[1]])
    expected = [Account.from_key(k).address for k in (anvil.private_keys[2], anvil.private_keys[1])]
    assert [s.address for s in both.signers] == expected
    account = Account.from_key(anvil.private_keys[0])
    assert chain.rpc(anvil.url, key=account).default_sender is account


def test_deploy_attach_and_verify_through_a_node(anvil, tmp_path) -> None:
    torch.manual_seed(6)
    model_file = tmp_path / "net.pt"
    torch.save(nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3)), model_file)
    t = ml2sc.translate(model_file, layout="storage")
    rows = np.random.default_rng(2).normal(size=(4, 5))
    session = chain.rpc(anvil.url, key=anvil.private_keys[0])
    on_node = ml2sc.deploy(t, session, manifest=tmp_path / "net.deployment.json")
    embedded = ml2sc.deploy(t)
    chain_id = session.w3.eth.chain_id
    assert on_node.manifest.chain == {"kind": "rpc", "rpc_url": anvil.url, "chain_id": chain_id}
    assert [(r.label, r.gas_used) for r in on_node.manifest.transactions] == [
        (r.label, r.gas_used) for r in embedded.manifest.transactions
    ]
    node_result, embedded_result = on_node.predict(rows), embedded.predict(rows)
    assert node_result.classes == embedded_result.classes and all(node_result.emulator_agrees)
    assert node_result.gas_per_call == embedded_result.gas_per_call
    attached = ml2sc.attach(tmp_path / "net.deployment.json", session)
    assert attached.address == on_node.address and attached.predict(rows).classes == node_result.classes
    checked = ml2sc.verify(tmp_path / "net.deployment.json", model_file)  # a read-only session on the node
    assert checked.ok and checked.model_hash == t.compiled.commitment.model_hash
    assert ml2sc.verify(on_node).ok
    with pytest.raises(ml2sc.ManifestError, match="embedded-chain deployment, gone with its process"):
        ml2sc.attach(embedded.manifest)


def test_a_bad_key_in_code_is_a_clear_error_without_the_key(anvil) -> None:
    with pytest.raises(MissingKey, match="key= does not hold a valid hex private key") as info:
        chain.rpc(anvil.url, key="0x1234")
    assert "1234" not in str(info.value)
    with pytest.raises(MissingKey, match=r"extra_keys\[0\] does not hold a valid hex private key"):
        chain.rpc(anvil.url, key=anvil.private_keys[0], extra_keys=["not a key"])
