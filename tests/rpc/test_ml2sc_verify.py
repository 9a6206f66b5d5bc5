"""`ml2sc verify` names what differs between a model file and a deployment (anvil, Prague, a fork other
than the default: every translation says fork="prague"): the review's MATCH-for-another-model cases,
each refused now with its name."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.solc import compile_sources, default_settings
from ml2sc import workflow
from ml2sc.fixed import FixedFormat
from ml2sc.manifest import Manifest

pytestmark = pytest.mark.rpc
FORK = "prague"


@pytest.fixture(scope="module")
def session():
    with start_anvil(gas_limit=60_000_000, hardfork=FORK) as node:
        os.environ["ML2SC_VERIFY_KEY"] = node.private_keys[0]
        yield chain.rpc(node.url, "ML2SC_VERIFY_KEY", fork=FORK)


def _save(model: nn.Module, path: Path) -> Path:
    torch.save(model, path)
    return path


def _twins(tmp_path: Path) -> tuple[Path, Path]:
    """The same weights under ReLU and under Tanh."""
    torch.manual_seed(4)
    first = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    second = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2))
    second.load_state_dict(first.state_dict())
    return _save(first, tmp_path / "net.pt"), _save(second, tmp_path / "tanh" / "net.pt")


def _deploy(session, model: Path, layout: str, tmp_path: Path) -> Manifest:
    t = workflow.translate(model, workflow.Settings(layout=layout), fork=FORK)
    manifest, _ = workflow.deploy(session, t, tmp_path / f"{layout}.json")  # the chain: the session's own
    assert manifest.chain == {
        "kind": "rpc",
        "rpc_url": session.w3.provider.endpoint_uri,
        "chain_id": session.w3.eth.chain_id,
    }
    return manifest


def _verify(session, manifest: Manifest, model: Path) -> workflow.Verification:
    settings = workflow.Settings.from_json(manifest.number_format, manifest.layout)
    t = workflow.translate(model, settings, source_name=Path(manifest.model_path).name, fork=manifest.fork)
    return workflow.verify(session, manifest, t)


@pytest.mark.parametrize("layout", ["storage", "packed", "code", "inline"])
def test_the_same_weights_under_another_activation_differ_by_name(session, tmp_path, layout):
    (tmp_path / "tanh").mkdir()
    relu, tanh = _twins(tmp_path)
    manifest = _deploy(session, relu, layout, tmp_path)
    assert _verify(session, manifest, relu).ok
    result = _verify(session, manifest, tanh)
    assert not result.ok
    assert "activation of layer 1 differs (tanh vs relu)" in result.differences
    assert {"model hash differs", "bytecode differs"} <= set(result.differences)
    assert not any("weights differ" in d for d in result.differences)  # the weights are the same


def test_two_shapes_with_one_blob_are_told_apart(session, tmp_path):
    """Linear(5,1)+Sigmoid and Linear(2,2)+ReLU can share a blob (11 numbers): not a model hash."""
    a = nn.Sequential(nn.Linear(5, 1), nn.Sigmoid())
    b = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    numbers = torch.linspace(-0.5, 0.5, 6)
    with torch.no_grad():
        a[0].weight.copy_(numbers[:5].reshape(1, 5))
        a[0].bias.copy_(numbers[5:])
        b[0].weight.copy_(numbers[:4].reshape(2, 2))
        b[0].bias.copy_(numbers[4:])
    pa, pb = _save(a, tmp_path / "a.pt"), _save(b, tmp_path / "b.pt")
    ta = workflow.translate(pa, workflow.Settings(layout="inline"), fork=FORK)
    tb = workflow.translate(pb, workflow.Settings(layout="inline"), fork=FORK)
    assert ta.compiled.commitment.model_hash != tb.compiled.commitment.model_hash
    manifest = _deploy(session, pa, "inline", tmp_path)
    result = _verify(session, manifest, pb)
    assert "shape of layer 1 differs (2x2 vs 5x1)" in result.differences


def test_an_edited_inline_blob_behind_the_honest_constants_is_caught(session, tmp_path):
    torch.manual_seed(6)
    model = _save(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), tmp_path / "m.pt")
    t = workflow.translate(model, workflow.Settings(layout="inline"), fork=FORK)
    blob_hex = t.compiled.blob.data.hex()
    edited = blob_hex[:-2] + ("00" if blob_hex[-2:] != "00" else "01")
    source = t.compiled.source.replace(f'hex"{blob_hex}"', f'hex"{edited}"')
    assert source != t.compiled.source
    forged = compile_sources(
        {f"{t.compiled.contract_name}.sol": source}, t.compiled.contract_name, settings=default_settings(FORK)
    )
    contract, _ = session.deploy(forged)
    manifest = _deploy(session, model, "inline", tmp_path)
    manifest = dataclasses.replace(manifest, address=contract.address)
    result = _verify(session, manifest, model)
    # its modelHash() and weightsHash() are honest: the code and what it computes are not
    assert result.differences[0] == "bytecode differs" and set(result.differences) <= {
        "bytecode differs",
        "predictions differ",
    }


def test_code_layout_reads_its_data_contracts_from_chain(session, tmp_path):
    torch.manual_seed(7)
    model = _save(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)), tmp_path / "c.pt")
    manifest = _deploy(session, model, "code", tmp_path)
    other = _deploy(
        session,
        _save(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)), tmp_path / "d.pt"),
        "code",
        tmp_path / "..",
    )
    lying = dataclasses.replace(manifest, data_contracts=other.data_contracts)
    result = _verify(session, lying, model)
    assert result.differences == ["data contracts differ from the manifest's"]
    checks = {c.what: c.outcome for c in result.checks}
    assert checks["weights read back from chain"] == "match"  # read from dataContracts(), not the manifest


def test_an_unfinished_upload_is_an_incomplete_deployment(session, tmp_path):
    torch.manual_seed(8)
    model = _save(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)), tmp_path / "s.pt")
    t = workflow.translate(model, workflow.Settings(layout="storage"), fork=FORK)

    class Stop(Exception):
        pass

    def stop_at_finalize(label, tx):
        if label.startswith("upload"):
            raise Stop

    with pytest.raises(Stop):
        workflow.deploy(session, t, tmp_path / "s.json", on_tx=stop_at_finalize)
    result = _verify(session, Manifest.load(tmp_path / "s.json"), model)
    assert result.status == "incomplete" and not result.differences and not result.ok
    assert "weights not finalized on chain (weightsHash() is 0)" in result.incomplete
    assert "finalize (seals the weights hash)" in result.incomplete


def test_fixed_format_differences_are_named(session, tmp_path):
    torch.manual_seed(9)
    model = _save(nn.Sequential(nn.Linear(3, 2)), tmp_path / "f.pt")
    t = workflow.translate(model, workflow.Settings(fmt=FixedFormat(20), layout="inline"), fork=FORK)
    manifest, _ = workflow.deploy(session, t, tmp_path / "f.json")
    other = dataclasses.replace(manifest, number_format={**manifest.number_format, "frac_bits": 24})
    result = _verify(session, other, model)
    assert "fixed-point format differs (fractional or weight bits)" in result.differences


def test_unfinished_or_addressless_manifests_and_other_chains_are_named(session, tmp_path):
    torch.manual_seed(10)
    model = _save(nn.Sequential(nn.Linear(4, 2)), tmp_path / "u.pt")
    manifest = _deploy(session, model, "inline", tmp_path)
    assert _verify(session, manifest, model).ok
    no_address = dataclasses.replace(manifest, address=None, complete=False)
    result = _verify(session, no_address, model)
    assert result.status == "incomplete" and result.incomplete == ["model contract not deployed"]
    other_chain = dataclasses.replace(manifest, chain={**manifest.chain, "chain_id": 999})
    assert (
        "chain differs (the manifest says chain 999, the node is chain 31337)"
        in _verify(session, other_chain, model).differences
    )


@pytest.fixture(scope="module")
def deployed_manifest(tmp_path_factory) -> tuple[Path, Path]:
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("edited")
    torch.manual_seed(11)
    model = _save(nn.Sequential(nn.Linear(1, 2)), folder / "e.pt")
    manifest = folder / "e.json"
    assert (
        subprocess.run(
            [sys.executable, "-m", "ml2sc.cli", "deploy", str(model), "-o", str(manifest)],
            capture_output=True,
            timeout=300,
        ).returncode
        == 0
    )
    return model, manifest


@pytest.mark.parametrize(
    "field,value",
    [
        ("transactions", [{"foo": 1}]),
        ("transactions", "abc"),
        ("number_format", "fixed"),
        ("number_format", {"kind": "fixed"}),
        ("number_format", {"kind": "int8"}),
        ("number_format", {"kind": "int8", "scales": [1, 2]}),
        ("number_format", {"kind": "int8", "scales": {"inputs": [0.0], "hidden": []}}),
        ("descriptor", "x"),
        ("descriptor", {"layers": 5}),
        ("descriptor", {"layers": ["a"]}),
        ("chain", []),
        ("chain", {"kind": "rpc"}),
        ("model_path", 5),
    ],
)
def test_a_hand_edited_manifest_is_one_clear_line(deployed_manifest, tmp_path, field, value):
    import json
    import subprocess
    import sys

    model, original = deployed_manifest
    manifest = tmp_path / "e.json"
    data = json.loads(original.read_text())
    data[field] = value
    manifest.write_text(json.dumps(data))
    for command in (["verify", str(manifest), str(model)], ["predict", str(manifest), "--input", str(model)]):
        result = subprocess.run(
            [sys.executable, "-m", "ml2sc.cli", *command], capture_output=True, text=True, timeout=300
        )
        assert result.returncode != 0 and "Traceback" not in result.stderr, (command, result.stderr[-400:])
        assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("ml2sc: error: "), (
            result.stderr
        )
