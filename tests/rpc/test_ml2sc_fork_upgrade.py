"""A deployment outlives its node's upgrade: a manifest made under Prague is used on the same chain state
after the node moves to Osaka (anvil's state dumped and loaded), under the node's rules; the other way
round, a node older than the manifest's fork is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from evmkit import chain
from evmkit.anvil import start_anvil
from ml2sc import api, workflow
from ml2sc.cli import main

pytestmark = pytest.mark.rpc


def test_a_prague_manifest_works_on_the_node_after_its_osaka_upgrade(tmp_path, monkeypatch, capsys) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    torch.save(model, tmp_path / "net.pt")
    rows = np.random.default_rng(0).normal(size=(5, 4))
    np.save(tmp_path / "rows.npy", rows)
    with start_anvil(gas_limit=60_000_000, hardfork="prague") as before:
        session = chain.rpc(before.url, key=before.private_keys[0], fork="prague")
        t = workflow.translate(tmp_path / "net.pt", workflow.Settings(layout="storage"), fork="prague")
        manifest, _ = workflow.deploy(session, t, tmp_path / "net.deployment.json")
        state = session.w3.provider.make_request("anvil_dumpState", [])["result"]
        key = before.private_keys[0]
    with start_anvil(gas_limit=60_000_000, hardfork="osaka") as after:
        upgraded = chain.rpc(after.url, key=key)
        assert upgraded.w3.provider.make_request("anvil_loadState", [state])["result"] is True
        record = json.loads((tmp_path / "net.deployment.json").read_text())
        record["chain"]["rpc_url"] = after.url
        (tmp_path / "net.deployment.json").write_text(json.dumps(record))
        deployment = api.attach(tmp_path / "net.deployment.json", upgraded)
        assert deployment.fork.name == "prague" and upgraded.gas_cap == 2**24  # the node's cap sizes calls
        result = deployment.predict(rows)
        assert all(result.emulator_agrees) and result.gas_used > 0
        monkeypatch.setenv(chain.PRIVATE_KEY_ENV, key)
        assert (
            main(["predict", str(tmp_path / "net.deployment.json"), "--input", str(tmp_path / "rows.npy")])
            == 0
        )
        assert "5/5" in capsys.readouterr().out
    refused = (
        r"runs Cancun rules, older than Prague's that the deployment was made under \(no EIP-2537's "
        r"BLS12-381 precompiles\): use a node that runs prague or a later fork$"
    )
    with start_anvil(gas_limit=60_000_000, hardfork="cancun") as older:
        downgraded = chain.rpc(older.url, key=older.private_keys[0])
        assert downgraded.w3.provider.make_request("anvil_loadState", [state])["result"] is True
        with pytest.raises(chain.ForkMismatch, match=refused):
            api.attach(tmp_path / "net.deployment.json", downgraded)
        capsys.readouterr()
        manifest = str(tmp_path / "net.deployment.json")
        assert main(["verify", manifest, str(tmp_path / "net.pt"), "--rpc-url", older.url]) == 1
        out = capsys.readouterr().out
        assert "chain rules: node vs the manifest's fork" in out and "older than Prague's" in out
