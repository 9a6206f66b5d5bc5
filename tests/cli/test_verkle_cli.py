"""`verkle` end to end: files in, files out, exit codes as documented."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.verkle_data import make_ptau
from verkle.cli import main
from verkle.proof import ProofDocument


def run(*args: str) -> int:
    return main([str(a) for a in args])


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, list[tuple[str, str]]]:
    rng = random.Random(3)
    pairs = [(rng.randbytes(32).hex(), rng.randbytes(32).hex()) for _ in range(300)]
    path = tmp_path / "data.csv"
    path.write_text("key,value\n" + "".join(f"0x{k},{v}\n" for k, v in pairs))
    return path, pairs


def test_build_root_prove_verify(tmp_path, data, capsys):
    path, pairs = data
    tree = tmp_path / "t.db"
    assert run("build", path, "-o", tree, "-q") == 0
    root = capsys.readouterr().out.split("root ")[1].strip()
    assert run("root", tree) == 0 and capsys.readouterr().out.strip() == root
    absent = "ab" * 32
    proof = tmp_path / "p.json"
    assert run("prove", tree, pairs[0][0], pairs[5][0], absent, "-o", proof) == 0
    assert "2 present, 1 absent" in capsys.readouterr().out
    assert run("verify", proof, "--root", root) == 0
    assert "valid: 3 keys" in capsys.readouterr().out
    single = tmp_path / "s.json"
    assert run("prove", tree, pairs[7][0], "--single", "-o", single) == 0
    assert run("verify", single) == 0
    assert run("get", tree, pairs[7][0]) == 0 and pairs[7][1] in capsys.readouterr().out
    assert run("get", tree, absent) == 1


def test_insert_delete_persist_and_old_proofs_fail(tmp_path, data, capsys):
    path, pairs = data
    tree = tmp_path / "t.db"
    run("build", path, "-o", tree, "-q")
    proof = tmp_path / "p.json"
    run("prove", tree, pairs[1][0], "-o", proof)
    old_root = json.loads(proof.read_text())["root"]
    assert run("insert", tree, "cd" * 32, "ef" * 32) == 0
    assert "inserted" in capsys.readouterr().out
    assert run("insert", tree, pairs[1][0], "00" * 32) == 0
    assert "updated" in capsys.readouterr().out
    assert run("get", tree, "cd" * 32) == 0 and "ef" * 32 in capsys.readouterr().out
    capsys.readouterr()
    run("root", tree)
    new_root = capsys.readouterr().out.strip()
    assert new_root != old_root
    assert run("verify", proof, "--root", new_root) == 1  # proof for the old root
    assert "another root" in capsys.readouterr().out
    assert run("delete", tree, "cd" * 32) == 0
    assert run("delete", tree, "cd" * 32) == 1
    # the old value comes back: same root as the first build plus the one update
    run("insert", tree, pairs[1][0], pairs[1][1])
    run("root", tree)
    assert capsys.readouterr().out.strip().endswith(old_root)


def test_verify_exit_codes(tmp_path, data, capsys):
    path, pairs = data
    tree = tmp_path / "t.db"
    run("build", path, "-o", tree, "-q")
    proof = tmp_path / "p.json"
    run("prove", tree, pairs[2][0], pairs[3][0], "-o", proof)
    doc = json.loads(proof.read_text())
    # invalid: a claimed value changed
    doc["values"][0] = "11" * 32
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    capsys.readouterr()
    assert run("verify", bad) == 1
    assert capsys.readouterr().out.startswith("invalid:")
    # invalid: a commitment replaced by another valid point (the generator)
    doc = json.loads(proof.read_text())
    doc["proof"]["d"] = (
        "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
    )
    del doc["proof_bytes"]
    bad.write_text(json.dumps(doc))
    assert run("verify", bad) == 1
    assert "pairing check fails" in capsys.readouterr().out
    # malformed: not JSON, wrong hex, wrong length, missing file
    for text in (
        "{not json",
        json.dumps({"format": "verkle-proof", "proof": {}}),
        proof.read_text().replace('"d": "', '"d": "zz'),
    ):
        bad.write_text(text)
        assert run("verify", bad) == 2
        assert capsys.readouterr().out.startswith("malformed:")
    assert run("verify", tmp_path / "missing.json") == 2


def test_bad_inputs_give_clear_errors(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("00,11\n")
    assert run("build", bad, "-o", tmp_path / "t.db") == 2
    assert "bad.csv line 1: key must be 32 bytes" in capsys.readouterr().err
    assert run("root", tmp_path / "none.db") == 2
    assert "no tree file" in capsys.readouterr().err
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"key": "01" * 32, "value": "02" * 32}) + "\n")
    assert run("build", good, "-o", tmp_path / "t.db", "--width", "100") == 2
    assert "power of two" in capsys.readouterr().err
    assert run("build", good, "-o", tmp_path / "t.db", "--scheme", "kzg-bn254") == 2
    assert "--ptau" in capsys.readouterr().err
    assert not (tmp_path / "t.db").exists()  # nothing half-written


def test_bn254_with_snarkjs_ptau_and_insecure_flag(tmp_path, capsys):
    ptau = make_ptau(tmp_path, 5)
    data = tmp_path / "d.jsonl"
    rng = random.Random(4)
    data.write_text(
        "".join(
            json.dumps({"key": rng.randbytes(32).hex(), "value": rng.randbytes(32).hex()}) + "\n"
            for _ in range(12)
        )
    )
    tree = tmp_path / "bn.db"
    assert run("build", data, "-o", tree, "--scheme", "kzg-bn254", "--width", "16", "--ptau", ptau, "-q") == 0
    key = json.loads(data.read_text().splitlines()[0])["key"]
    proof = tmp_path / "p.json"
    assert run("prove", tree, key, "-o", proof, "--ptau", ptau) == 0
    assert run("verify", proof, "--ptau", ptau) == 0
    assert run("verify", proof) == 2  # BN254 needs its setup
    assert run("prove", tree, key, "-o", proof, "--insecure-dev-setup") == 2  # another setup than the tree's
    assert "another setup" in capsys.readouterr().err
    dev = tmp_path / "dev.db"
    assert (
        run("build", data, "-o", dev, "--scheme", "kzg-bn254", "--width", "16", "--insecure-dev-setup", "-q")
        == 0
    )
    assert "WARNING" in capsys.readouterr().err


def test_console_script_help_and_bench(tmp_path):
    exe = Path(sys.executable).with_name("verkle")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("build", "insert", "root", "prove", "verify", "bench"):
        assert command in out
    result = subprocess.run(
        [str(exe), "bench", "--quick", "-o", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "verkle_over_merkle" in result.stdout
    rows = (tmp_path / "verkle_bench_multiproofs.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and (tmp_path / "verkle_bench_sizes.md").exists()


def test_bench_measures_exactly_the_selected_work_and_resumes(tmp_path, capsys):
    from evmkit.rowlog import read_rows

    assert run("bench", "--keys", "1,4", "--sizes", "8", "-o", tmp_path) == 0
    sizes = read_rows(tmp_path / "verkle_bench_sizes.csv")
    multis = read_rows(tmp_path / "verkle_bench_multiproofs.csv")
    assert [(r["leaves"], r["width"]) for r in sizes] == [(256, 256)]
    assert [(r["leaves"], r["width"], r["keys"]) for r in multis] == [(256, 256, 1), (256, 256, 4)]
    # --quick's choices yield to explicit options
    assert run("bench", "--quick", "--keys", "2", "--widths", "16", "-o", tmp_path / "q") == 0
    multis = read_rows(tmp_path / "q" / "verkle_bench_multiproofs.csv")
    assert [(r["leaves"], r["width"], r["keys"]) for r in multis] == [(256, 16, 2), (1024, 16, 2)]
    # a resume with everything measured builds nothing and re-tabulates
    capsys.readouterr()
    assert run("bench", "--keys", "1,4", "--sizes", "8", "--resume", "-o", tmp_path) == 0
    out = capsys.readouterr()
    assert "kept from the earlier run" in out.err and "3 (3 kept)" in out.out
    assert len(read_rows(tmp_path / "verkle_bench_multiproofs.csv")) == 2


def test_bench_dry_run_plans_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    args = ["bench", "--onchain", "--sizes", "20", "--widths", "4096", "--keys", "1,128", "--dry-run"]
    assert run(*args, "-o", out) == 0
    text = capsys.readouterr()
    assert "2^20" in text.out and "1,128" in text.out and "expected duration: about" in text.out
    assert "kzg-bn254      16     2^10" in text.out and "WARNING" not in text.err  # its own size
    assert not out.exists()
    assert run(*args, "--bn254-size", "16", "-o", out) == 0
    assert "WARNING: the BN254 tree has 2^16 leaves" in capsys.readouterr().err


def test_bench_refuses_options_that_would_do_nothing(tmp_path, capsys):
    for extra, message in (
        (["--fork", "prague"], "--fork applies to --onchain only"),
        (["--bn254-size", "8"], "--bn254-size applies to --onchain only"),
        (["--no-bn254"], "--no-bn254 applies to --onchain only"),
        (["--widths", "100"], "power of two"),
        (["--sizes", "8,x"], "'x' is not an integer"),
    ):
        assert run("bench", *extra, "--dry-run", "-o", tmp_path) == 2
        assert message in capsys.readouterr().err


def test_verifier_estimate_and_onchain_verify(tmp_path, data, capsys):
    import functools

    import eth.precompiles.point_evaluation as pe

    path, pairs = data
    tree = tmp_path / "t.db"
    run("build", path, "-o", tree, "-q")
    out = tmp_path / "V.sol"
    assert run("verifier", "--width", "256", "-o", out) == 0
    source = out.read_text()
    assert "contract VerkleVerifierBLSW256" in source and "verifyMultiPairing" in source
    proof = tmp_path / "p.json"
    run("prove", tree, pairs[0][0], pairs[1][0], "ee" * 32, "-o", proof)
    capsys.readouterr()
    assert run("estimate", proof, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fork"] == {"name": "osaka", "evm_version": "osaka", "tx_gas_cap": 2**24}
    report = out["paths"]
    assert set(report) == {"msm-point-evaluation", "msm-pairing"}
    assert report["msm-point-evaluation"]["total"] == sum(report["msm-point-evaluation"]["terms"].values())
    assert report["msm-point-evaluation"]["terms"]["modexp: one inversion"] == 4064 + 100  # EIP-7883
    assert run("estimate", proof, "--json", "--fork", "prague") == 0
    prague = json.loads(capsys.readouterr().out)
    assert prague["fork"]["name"] == "prague" and prague["fork"]["tx_gas_cap"] is None
    assert prague["paths"]["msm-point-evaluation"]["terms"]["modexp: one inversion"] == 1354 + 100  # EIP-2565
    assert run("estimate", proof, "--fork", "cancun") == 2
    assert "cancun rules lack" in capsys.readouterr().err
    with pytest.MonkeyPatch.context() as mp:  # py-evm's 0x0a reloads the ceremony file per call
        mp.setattr(pe, "load_trusted_setup", functools.lru_cache(maxsize=1)(pe.load_trusted_setup))
        mp.delenv("ETH_RPC_URL", raising=False)
        assert run("verify", proof, "--onchain") == 0
        line = capsys.readouterr().out
        assert line.startswith("valid on-chain (msm-point-evaluation") and "osaka rules): gas" in line
        assert run("verify", proof, "--onchain", "--fork", "prague") == 0
        assert "prague rules): gas" in capsys.readouterr().out
        doc = json.loads(proof.read_text())
        i = next(j for j, v in enumerate(doc["values"]) if v is not None)
        doc["values"][i] = "12" * 32
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(doc))
        assert run("verify", bad, "--onchain", "--path", "msm-pairing") == 1
        assert "invalid on-chain" in capsys.readouterr().out
        assert run("verify", proof, "--onchain", "--path", "point-evaluation") == 2  # a multiproof


@pytest.mark.slow
def test_demo_verifies_every_path_and_refuses_a_forgery(capsys):
    import functools

    import eth.precompiles.point_evaluation as pe

    with pytest.MonkeyPatch.context() as mp:  # py-evm's 0x0a reloads the ceremony file per call
        mp.setattr(pe, "load_trusted_setup", functools.lru_cache(maxsize=1)(pe.load_trusted_setup))
        assert run("demo", "--size", "600") == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("Verkle ", "Merkle "))]
    assert len(rows) == 5 and all(" valid " in row for row in rows)
    assert "INVALID" not in out and "ACCEPTED" not in out
    assert "off-chain refused" in out and "on-chain refused" in out


def _verkle(*args: object) -> subprocess.CompletedProcess:
    """The console script in its own process: a crash shows as its signal (rc 139 for SIGSEGV)."""
    exe = Path(sys.executable).with_name("verkle")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_hostile_json_is_malformed_not_a_crash(tmp_path):
    """py_ecc raises the recursion limit to 100,000: the JSON decoder used to overflow the C stack."""
    cases = {
        "brackets.json": "[" * 100_000,
        "objects.json": '{"a":' * 100_000,
        "big.json": '{"format": "verkle-proof"' + " " * (8 * 2**20) + "}",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        result = _verkle("verify", tmp_path / name)
        assert result.returncode == 2, (name, result.returncode, result.stderr[-500:])
        assert result.stdout.startswith("malformed: ") and result.stdout.count("\n") == 1, result.stdout
        assert ("nests deeper than 8" if name != "big.json" else "8,388,608-byte maximum") in result.stdout


def test_a_hostile_data_line_is_a_clear_error_not_a_crash(tmp_path):
    """The same C-stack overflow, through `verkle build`'s JSON lines."""
    (tmp_path / "deep.jsonl").write_text('{"a":' * 100_000 + "\n")
    result = _verkle("build", tmp_path / "deep.jsonl", "-o", tmp_path / "t.db")
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    assert "deep.jsonl line 1: expected" in result.stderr and not (tmp_path / "t.db").exists()


@pytest.fixture
def proved(tmp_path, data, capsys) -> tuple[Path, str]:
    """A multiproof file (a present and an absent key) and its tree's root."""
    path, pairs = data
    tree = tmp_path / "t.db"
    run("build", path, "-o", tree, "-q")
    root = capsys.readouterr().out.split("root ")[1].strip()
    proof = tmp_path / "p.json"
    run("prove", tree, pairs[4][0], "ab" * 32, "-o", proof)
    capsys.readouterr()
    return proof, root


def _lines(capsys) -> list[str]:
    captured = capsys.readouterr()
    return captured.out.splitlines() + captured.err.splitlines()


def test_bad_roots_and_versions_are_malformed_in_one_line(proved, tmp_path, capsys):
    proof, root = proved
    bad = tmp_path / "bad.json"
    infinity = "invalid root: non-canonical encoding of the BLS12-381 point at infinity"
    for field, value, words in (
        ("root", "ff" * 48, infinity),
        ("root", "00" * 48, "invalid root: not a compressed BLS12-381 G1 point"),
        ("root", "c0" + "00" * 46 + "01", "invalid root:"),
        ("version", 2, "unsupported document version 2"),
        ("version", None, "unsupported document version"),
    ):
        doc = json.loads(proof.read_text())
        if value is None:
            del doc[field]
        else:
            doc[field] = value
        bad.write_text(json.dumps(doc))
        assert run("verify", bad) == 2
        lines = _lines(capsys)
        assert len(lines) == 1 and lines[0].startswith("malformed: ") and words in lines[0], lines
        assert "Rust" not in lines[0]
    for pin in ("ff" * 48, "00" * 48, "zz"):
        assert run("verify", proof, "--root", pin) == 2
        lines = _lines(capsys)
        assert len(lines) == 1 and lines[0].startswith("malformed: "), lines


def test_verify_says_which_root_it_trusted(proved, tmp_path, capsys):
    proof, root = proved
    note = f"trusted root {root} from the proof document itself (pass --root HEX to pin the root you trust)"
    assert run("verify", proof) == 0
    assert _lines(capsys)[1:] == [note]
    assert run("verify", proof, "--root", root) == 0
    assert not any("trusted root" in line for line in _lines(capsys))
    doc = json.loads(proof.read_text())
    doc["values"] = [v and "11" * 32 for v in doc["values"]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert run("verify", bad) == 1
    lines = _lines(capsys)
    assert lines[0].startswith("invalid: ") and lines[1:] == [note]


def test_onchain_verify_names_the_verifier_and_its_root(proved, tmp_path, capsys, monkeypatch):
    import functools
    import re

    import eth.precompiles.point_evaluation as pe

    import verkle.cli
    from evmkit import chain

    proof, root = proved
    session = chain.embedded(60_000_000)
    monkeypatch.setattr(verkle.cli, "session_from_args", lambda args: session)  # one chain for every command
    monkeypatch.setattr(pe, "load_trusted_setup", functools.lru_cache(maxsize=1)(pe.load_trusted_setup))
    monkeypatch.delenv("ETH_RPC_URL", raising=False)
    assert run("verify", proof, "--onchain") == 0
    lines = _lines(capsys)
    assert lines[0].startswith("valid on-chain")
    assert re.fullmatch(
        f"verifier 0x[0-9a-fA-F]{{40}} deployed holding root {root} from the proof document itself "
        r"\(pass --root HEX to pin the root you trust\)",
        lines[1],
    ), lines
    assert run("verify", proof, "--onchain", "--root", root) == 0
    assert re.fullmatch(f"verifier 0x[0-9a-fA-F]{{40}} deployed holding root {root}", _lines(capsys)[1])
    deployed = re.search(r"deployed at (0x[0-9a-fA-F]{40})", _deploy(tmp_path, capsys)).group(1)
    assert run("verify", proof, "--onchain", "--verifier", deployed) == 0
    assert _lines(capsys)[1] == f"verifier {deployed} holds root {root} (the proof is checked against it)"
    other = tmp_path / "other.json"
    run("prove", tmp_path / "t.db", "cd" * 32, "-o", other)  # after an insert: another root
    capsys.readouterr()
    assert run("verify", other, "--onchain", "--verifier", deployed) == 1
    lines = _lines(capsys)
    assert lines[0] == f"invalid: the verifier at {deployed} holds another root"
    assert lines[1].startswith(f"verifier {deployed} holds root {root}; the proof is for ")
    # a D point that does not decompress (compression flag cleared): no call can carry it
    doc = ProofDocument.from_json_text(proof.read_text())
    d, pi = doc.proof.openings
    broken = replace(doc, proof=replace(doc.proof, openings=(bytes([d[0] & 0x7F]) + d[1:], pi)))
    bad = tmp_path / "bad_point.json"
    bad.write_text(broken.to_json_text())
    assert run("verify", bad, "--onchain", "--verifier", deployed) == 2
    lines = _lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(
        "malformed: a BLS12-381 point in the proof does not decode"
    )
    assert "Rust" not in lines[0]


def _deploy(tmp_path: Path, capsys) -> str:
    """Deploy a verifier for the tree, then change the tree so later proofs are for another root."""
    assert run("deploy-verifier", tmp_path / "t.db") == 0
    out = capsys.readouterr().out
    assert run("insert", tmp_path / "t.db", "cd" * 32, "ef" * 32) == 0
    capsys.readouterr()
    return out


def test_update_applies_a_changes_file_in_one_batch(tmp_path, data, capsys):
    path, pairs = data
    tree = tmp_path / "t.db"
    assert run("build", path, "-o", tree, "-q", "--workers", "2") == 0
    rng = random.Random(8)
    new = [(rng.randbytes(32).hex(), rng.randbytes(32).hex()) for _ in range(40)]
    changes = tmp_path / "changes.csv"
    lines = ["key,value"] + [f"{k}," for k, _ in pairs[:30]] + [f"{k},{v}" for k, v in new]
    lines += [f"0x{pairs[40][0]},{'11' * 32}", '{"key": "' + pairs[41][0] + '", "value": null}']
    changes.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert run("update", tree, changes) == 0
    out = capsys.readouterr().out
    assert "40 inserted, 1 updated, 31 deleted" in out
    final = dict(pairs[30:]) | dict(new) | {pairs[40][0]: "11" * 32}
    final.pop(pairs[41][0])
    fresh_data = tmp_path / "final.csv"
    fresh_data.write_text("".join(f"{k},{v}\n" for k, v in final.items()))
    assert run("build", fresh_data, "-o", tmp_path / "fresh.db", "-q") == 0
    fresh_root = capsys.readouterr().out.split("root ")[1].strip()
    assert out.split("root ")[1].strip() == fresh_root
    assert run("check", tree) == 0 and f"{len(final):,} keys" in capsys.readouterr().out
    # a bad line refuses the whole batch: the file is left as it was
    changes.write_text(f"{new[0][0]},zz\n")
    assert run("update", tree, changes) == 2
    assert "changes.csv line 1: value is not hex" in capsys.readouterr().err
    assert run("root", tree) == 0 and capsys.readouterr().out.strip() == fresh_root


def test_build_cluster_options_are_checked_first(tmp_path, data, capsys):
    path, _ = data
    for args, message in (
        (["--cluster", "local:0"], "expected local:N with N >= 1"),
        (["--cluster", "local:2", "--workers", "2"], "--workers sets a local pool"),
    ):
        assert run("build", path, "-o", tmp_path / "t.db", *args) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "t.db").exists()
    assert run("build", tmp_path / "missing.csv", "-o", tmp_path / "t.db") == 2
    assert "no such file" in capsys.readouterr().err


def test_scale_bench_measures_build_update_and_cold_proof(tmp_path, capsys):
    from evmkit.rowlog import read_rows

    assert run("bench", "--scale", "--sizes", "8", "--changes", "50", "-o", tmp_path) == 0
    (row,) = read_rows(tmp_path / "verkle_scale.csv")
    assert (row["leaves"], row["width"], row["update_changes"]) == (256, 256, 50)
    assert row["build_keys_per_s"] > 0 and row["peak_rss_mib"] > 0 and 0 < row["cold_open_proof_ms"] < 1000
    assert "projection to 1e+09 keys on 64 cores" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("scale-trees-")]  # trees removed


def test_a_damaged_tree_file_is_caught_by_check_and_by_prove(tmp_path, data, capsys):
    import sqlite3

    path, pairs = data
    good = tmp_path / "good.db"
    assert run("build", path, "-o", good, "-q") == 0
    key = pairs[3][0]
    damages = {
        "value": ("UPDATE leaves SET value = ? WHERE key = ?", (b"\x01" * 32, bytes.fromhex(key))),
        "node": (
            "DELETE FROM nodes WHERE depth = 1 AND prefix IN "
            "(SELECT prefix FROM nodes WHERE depth = 1 LIMIT 1)",
            (),
        ),
        "commitment": (
            "UPDATE nodes SET commitment = (SELECT commitment FROM nodes WHERE depth = 0) WHERE depth = 1",
            (),
        ),
        "stray": ("INSERT INTO leaves VALUES (?, ?)", (b"\x42" * 32, b"\x42" * 32)),
    }
    for name, (sql, params) in damages.items():
        bad = tmp_path / f"{name}.db"
        bad.write_bytes(good.read_bytes())
        db = sqlite3.connect(bad)
        with db:
            db.execute(sql, params)
        db.close()
        capsys.readouterr()
        assert run("check", bad) == 2, name
        assert "is inconsistent" in capsys.readouterr().err, name
    # a change through a damaged node is refused before anything is written, as one key or a batch
    changes = tmp_path / "changes.csv"
    changes.write_text(f"{key},{'22' * 32}\n")
    for name in ("value", "commitment"):
        before = (tmp_path / f"{name}.db").read_bytes()
        assert run("update", tmp_path / f"{name}.db", changes) == 2, name
        assert "is damaged" in capsys.readouterr().err and (tmp_path / f"{name}.db").read_bytes() == before
        assert run("insert", tmp_path / f"{name}.db", key, "22" * 32) == 2, name
        assert "nothing was changed" in capsys.readouterr().err
        assert (tmp_path / f"{name}.db").read_bytes() == before
    # a proof through the damaged leaf's path is refused, and nothing is written
    assert run("prove", tmp_path / "value.db", key, "-o", tmp_path / "p.json") == 2
    assert "does not verify against its root" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()
    assert run("check", good) == 0
