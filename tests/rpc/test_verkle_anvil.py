"""Verkle verifiers on a real node (anvil from npm): hundreds of tampered proofs, none accepted; the same
gas as the embedded chain; the CLI's --rpc-url path with a deployed verifier."""

from __future__ import annotations

import json
import random

import pytest
from py_arkworks_bls12381 import G1Point
from web3.exceptions import ContractLogicError

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.errors import TransactionReverted
from helpers.steptrace import peak_memory_words  # noqa: E402
from helpers.verkle_data import clustered_pairs, path_names, random_pairs
from verkle import gasmodel, store
from verkle.calldata import xy
from verkle.cli import main as verkle_main
from verkle.curves import BLS12_381_Q as BLS_Q
from verkle.onchain import deploy_contract
from verkle.proof import OTHER, PRESENT
from verkle.prover import prove_multi, prove_single
from verkle.schemes import load_scheme
from verkle.tree import VerkleTree
from verkle.verifier_paths import verifier_args

pytestmark = pytest.mark.rpc


@pytest.fixture(scope="module")
def node():
    with start_anvil(gas_limit=100_000_000) as anvil:
        yield anvil


@pytest.fixture(scope="module")
def session(node, request):
    mp = pytest.MonkeyPatch()
    mp.setenv("VERKLE_TEST_KEY", node.private_keys[0])
    request.addfinalizer(mp.undo)
    return chain.rpc(node.url, "VERKLE_TEST_KEY")


def accepted(session, contract, function, args) -> bool:
    try:
        return bool(session.call(contract, function, *args))
    except (TransactionReverted, ContractLogicError):
        return False


def tampered_args(rng: random.Random, function: str, args: list) -> list:
    """One random tampering: a byte of the proof, a value, a key, a presence bit."""
    args = list(args)
    choice = rng.randrange(4)
    if choice == 0 or function == "verifySingle" and choice == 3:
        proof = bytearray(args[-1])
        proof[rng.randrange(len(proof))] ^= rng.randrange(1, 256)
        args[-1] = bytes(proof)
    elif function == "verifySingle":
        key, value, present, proof = args
        if choice == 1:
            args = [bytes([key[0] ^ 0x80]) + key[1:], value, present, proof]
        else:  # another value claimed (an absent key's value is ignored: claim it present)
            args = [key, bytes(32) if value != bytes(32) else b"\x01" * 32, True, proof]
    else:
        keys, values, absent, proof = args
        i = rng.randrange(len(keys))
        if choice == 1:  # a claimed value changes (for an absent key the value is ignored: claim it present)
            values = values[:i] + [rng.randbytes(32)] + values[i + 1 :]
            absent = bytes(b & ~(0x80 >> (i & 7)) & 0xFF if j == i >> 3 else b for j, b in enumerate(absent))
        elif choice == 2:
            keys = keys[:i] + [keys[i][:1] + bytes([keys[i][1] ^ 1]) + keys[i][2:]] + keys[i + 1 :]
        else:
            absent = bytes([b ^ 0xFF for b in absent])
        args = [keys, values, absent, proof]
    return args


def test_hundreds_of_tampered_proofs_rejected_on_anvil(session):
    scheme = load_scheme("kzg-bls12-381", 256)
    rng = random.Random(11)
    pairs = random_pairs(2000, 61) + clustered_pairs(30, 62)
    tree = VerkleTree.build(scheme, pairs, workers=1)
    contract, _ = deploy_contract(session, scheme, tree.root_commitment)
    keys = [k for k, _ in pairs]
    docs = [
        prove_multi(
            tree, rng.sample(keys, 12) + [rng.randbytes(32), keys[5][:-1] + bytes([keys[5][-1] ^ 1])]
        ),
        prove_single(tree, keys[3]),
        prove_single(tree, rng.randbytes(32)),
    ]
    rejected = 0
    for doc in docs:
        for path in path_names("kzg-bls12-381"):
            if (path == "point-evaluation") != (doc.proof.type == 1):
                continue
            function, args = verifier_args(doc, path)
            assert accepted(session, contract, function, args)
            for _ in range(80):
                bad = tampered_args(rng, function, args)
                if bad == args:
                    continue
                assert not accepted(session, contract, function, bad), (path, bad)
                rejected += 1
    # a proof under another root
    session.transact(contract, "setRoot", xy(VerkleTree.build(scheme, random_pairs(5, 63)).root_commitment))
    for doc in docs:
        function, args = verifier_args(
            doc, "point-evaluation" if doc.proof.type == 1 else "msm-point-evaluation"
        )
        assert not accepted(session, contract, function, args)
        rejected += 1
    assert rejected >= 300


def _on_curve(x: int) -> bool:
    """Has y^2 = x^3 + 4 a root over BLS12-381's base field?"""
    return pow((x**3 + 4) % BLS_Q, (BLS_Q - 1) // 2, BLS_Q) == 1


def _bls_point(x: int) -> tuple[int, int]:
    """(x, y) on y^2 = x^3 + 4 over the base field, for an x where a root exists."""
    y = pow((x**3 + 4) % BLS_Q, (BLS_Q + 1) // 4, BLS_Q)
    assert y * y % BLS_Q == (x**3 + 4) % BLS_Q
    return x, y


def _xy(x: int, y: int) -> bytes:
    return x.to_bytes(48, "big") + y.to_bytes(48, "big")


def _compressed(x: int, y: int) -> bytes:
    return (x | (1 << 383) | ((y > (BLS_Q - 1) // 2) << 381)).to_bytes(48, "big")


def test_bad_points_and_path_bytes_rejected_on_anvil(session):
    """Points the precompiles must refuse, valid points in the wrong place, and changed path bytes, in
    every position of a multiproof with present, absent and other-leaf keys, on both final checks."""
    scheme = load_scheme("kzg-bls12-381", 256)
    rng = random.Random(3)
    pairs = random_pairs(700, 51) + clustered_pairs(30, 52)
    tree = VerkleTree.build(scheme, pairs, workers=1)
    contract, _ = deploy_contract(session, scheme, tree.root_commitment)
    keys = sorted(k for k, _ in pairs)
    other = next(k[:-1] + bytes([k[-1] ^ 1]) for k in keys if k[:-1] + bytes([k[-1] ^ 1]) not in set(keys))
    doc = prove_multi(tree, keys[::150][:3] + [other, rng.randbytes(32)])
    assert {p.kind for p in doc.proof.paths} >= {PRESENT, OTHER}
    n_paths = len(doc.proof.path_bytes())  # the path section: a byte per key, 64 more for an other leaf
    key_bytes = [
        sum(1 + 64 * (p.kind == OTHER) for p in doc.proof.paths[:i]) for i in range(len(doc.proof.paths))
    ]
    outside = _bls_point(
        next(x for x in range(1, 60) if _on_curve(x))
    )  # off the r-order subgroup (cofactor > 1)
    off_x = next(x for x in range(1, 60) if not _on_curve(x))
    g = G1Point()
    gx, gy = (
        int.from_bytes(bytes(g.to_xy_bytes_be())[:48], "big"),
        int.from_bytes(bytes(g.to_xy_bytes_be())[48:], "big"),
    )
    bad_xy = {
        "outside the subgroup": _xy(*outside),
        "off the curve": _xy(gx, (gy + 1) % BLS_Q),
        "x + q": _xy(gx + BLS_Q, gy),
        "another subgroup point": _xy(gx, gy),
    }
    bad_compressed = {
        "outside the subgroup": _compressed(*outside),
        "off the curve": _compressed(off_x, 0),
        "x + q": (int.from_bytes(_compressed(gx, gy), "big") + BLS_Q).to_bytes(48, "big"),
        "another subgroup point": _compressed(gx, gy),
    }
    checked = 0
    for path in ("msm-point-evaluation", "msm-pairing"):
        function, args = verifier_args(doc, path)
        keys, values, absent, proof = args
        assert accepted(session, contract, function, args)
        pi_len = 48 if path == "msm-point-evaluation" else 96
        d_at = len(proof) - pi_len - 96
        slots = {"commitment": (n_paths, 96), "D": (d_at, 96), "pi": (len(proof) - pi_len, pi_len)}
        for where, (at, size) in slots.items():
            for what, point in (bad_compressed if size == 48 else bad_xy).items():
                tampered = proof[:at] + point + proof[at + size :]
                assert not accepted(session, contract, function, [keys, values, absent, tampered]), (
                    path,
                    where,
                    what,
                )
                checked += 1
        # path bytes: each key one level deeper or shallower, or another kind of end
        for i in key_bytes:
            b = proof[i]
            for changed in {(b & 0xC0) | ((b & 63) + 1) % 64, (b & 0xC0) | ((b & 63) - 1) % 64, b ^ 0x40}:
                tampered = proof[:i] + bytes([changed]) + proof[i + 1 :]
                assert not accepted(session, contract, function, [keys, values, absent, tampered]), (
                    path,
                    i,
                    changed,
                )
                checked += 1
    assert checked >= 40


@pytest.mark.parametrize("fork", ["osaka", "prague"])
def test_same_gas_on_anvil_and_the_embedded_chain(session, monkeypatch, fork):
    """Under each fork's rules (the module's node runs Osaka, the default; Prague gets its own), and
    the gas model within 1% of both."""
    import contextlib
    import functools

    import eth.precompiles.point_evaluation as pe

    monkeypatch.setattr(pe, "load_trusted_setup", functools.lru_cache(maxsize=1)(pe.load_trusted_setup))
    scheme = load_scheme("kzg-bls12-381", 256)
    rng = random.Random(12)
    pairs = random_pairs(600, 64)
    tree = VerkleTree.build(scheme, pairs, workers=1)
    with contextlib.ExitStack() as stack:
        node = session
        if fork != "osaka":
            anvil = stack.enter_context(start_anvil(gas_limit=60_000_000, hardfork=fork))
            monkeypatch.setenv("VERKLE_FORK_KEY", anvil.private_keys[0])
            node = chain.rpc(anvil.url, "VERKLE_FORK_KEY", fork=fork)
        assert node.fork.name == fork
        embedded = chain.embedded(block_gas_limit=60_000_000, fork=fork)
        targets = [(s, deploy_contract(s, scheme, tree.root_commitment)[0]) for s in (node, embedded)]
        doc = prove_multi(tree, [k for k, _ in rng.sample(pairs, 6)])
        single = prove_single(tree, pairs[0][0])
        for d, path in ((doc, "msm-point-evaluation"), (doc, "msm-pairing"), (single, "point-evaluation")):
            function, args = verifier_args(d, path)
            gas = [s.transact(c, function, *args).gas_used for s, c in targets]
            assert gas[0] == gas[1], (fork, path)
            model = gasmodel.estimate(gasmodel.shape_of(d, path), fork=fork).total
            assert abs(model - gas[0]) / gas[0] < 0.01, (fork, path, model, gas[0])


def test_gas_model_memory_matches_a_step_trace():
    """gasmodel.memory_words follows the template's layout word for word (its quadratic cost is not
    fitted)."""
    rng = random.Random(21)
    cases = [
        ("kzg-bls12-381", 16, random_pairs(300, 3)),
        ("kzg-bls12-381", 256, clustered_pairs(500, 4)),
        ("kzg-bls12-381", 4096, random_pairs(3000, 5)),
        ("kzg-bn254", 16, random_pairs(40, 6)),
    ]
    with (
        start_anvil(gas_limit=100_000_000, extra_args=("--steps-tracing",)) as anvil,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("VERKLE_TRACE_KEY", anvil.private_keys[0])
        traced = chain.rpc(anvil.url, "VERKLE_TRACE_KEY")
        for name, width, pairs in cases:
            scheme = load_scheme(name, width, insecure_dev_setup_ok=True)
            tree = VerkleTree.build(scheme, pairs, workers=1)
            contract, _ = deploy_contract(traced, scheme, tree.root_commitment)
            doc = prove_multi(tree, [k for k, _ in rng.sample(pairs, 7)] + [rng.randbytes(32)])
            for path in path_names(name):
                if path == "point-evaluation":
                    continue
                function, args = verifier_args(doc, path)
                receipt = traced.transact(contract, function, *args)
                logs = traced.w3.provider.make_request(
                    "debug_traceTransaction",
                    [receipt.tx_hash, {"disableStorage": True, "disableMemory": True}],
                )["result"]["structLogs"]
                shape = gasmodel.shape_of(doc, path)
                assert gasmodel.memory_words(shape) == peak_memory_words(logs), (name, width, path)


def test_cli_deploy_verifier_then_verify_by_address(node, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VERKLE_CLI_KEY", node.private_keys[1])
    rng = random.Random(13)
    data = tmp_path / "d.csv"
    data.write_text("".join(f"{rng.randbytes(32).hex()},{rng.randbytes(32).hex()}\n" for _ in range(300)))
    tree = tmp_path / "t.db"
    assert verkle_main(["build", str(data), "-o", str(tree), "-q"]) == 0
    key = data.read_text().split(",")[0]
    proof = tmp_path / "p.json"
    assert verkle_main(["prove", str(tree), key, rng.randbytes(32).hex(), "-o", str(proof)]) == 0
    capsys.readouterr()
    chain_args = ["--rpc-url", node.url, "--private-key-env", "VERKLE_CLI_KEY"]
    assert verkle_main(["deploy-verifier", str(tree), *chain_args]) == 0
    out = capsys.readouterr().out
    address = out.split(" deployed at ")[1].split()[0]
    assert node.private_keys[1].removeprefix("0x") not in out
    assert verkle_main(["verify", str(proof), "--onchain", "--verifier", address, *chain_args]) == 0
    assert "valid on-chain" in capsys.readouterr().out
    # a check that could not run is no verdict and no malformed input: exit 3 (here: the node is not Prague)
    assert verkle_main(["verify", str(proof), "--onchain", "--fork", "prague", *chain_args]) == 3
    assert "runs Osaka rules, not Prague's" in capsys.readouterr().err
    doc = json.loads(proof.read_text())
    doc["values"][0] = "00" * 32 if doc["values"][0] else "11" * 32
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert verkle_main(["verify", str(bad), "--onchain", "--verifier", address, *chain_args]) == 1
    # a contract that answers true to everything, holding the same root, is not asked
    from evmkit.solc import compile_sources

    root_hex = json.loads(proof.read_text())["root"]
    fake_src = (
        "pragma solidity ^0.8.20; contract Fake { function root() external pure returns (bytes memory) "
        f'{{ return hex"{root_hex}"; }} function verifyMulti(bytes32[] calldata, bytes32[] calldata, '
        "bytes calldata, bytes calldata) external pure returns (bool) { return true; } }"
    )
    session = chain.rpc(node.url, "VERKLE_CLI_KEY")
    fake, _ = session.deploy(compile_sources({"Fake.sol": fake_src}, "Fake"))
    capsys.readouterr()
    assert verkle_main(["verify", str(bad), "--onchain", "--verifier", fake.address, *chain_args]) == 2
    assert "is not the verifier this tool generates" in capsys.readouterr().err
    # the tree moves on: the old verifier holds the old root
    assert verkle_main(["insert", str(tree), "ab" * 32, "cd" * 32]) == 0
    assert verkle_main(["prove", str(tree), key, "-o", str(proof)]) == 0
    capsys.readouterr()
    assert verkle_main(["verify", str(proof), "--onchain", "--verifier", address, *chain_args]) == 1
    assert "another root" in capsys.readouterr().out
    assert store.read_info(tree).size == 301
