"""`verkle bench --onchain` on anvil: the options select exactly the rows measured, Ctrl-C keeps what
was measured and --resume measures only the rest."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from verkle import bench_onchain
from verkle.cli import main as verkle_main

ARGS = ["bench", "--onchain", "--keys", "1,4", "--sizes", "8", "--widths", "16", "--bn254-size", "6"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_interrupted_run_resumes_to_exactly_the_selected_rows(tmp_path, monkeypatch, capsys):
    sends = {"n": 0}
    real_send = bench_onchain._send

    def interrupted_send(*args):
        sends["n"] += 1
        if sends["n"] == 5:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the first tree
        return real_send(*args)

    monkeypatch.setattr(bench_onchain, "_send", interrupted_send)
    assert verkle_main([*ARGS, "-o", str(tmp_path)]) == 130
    assert "--resume continues" in capsys.readouterr().err
    first = _rows(tmp_path / "verkle_onchain.csv")
    assert 1 <= len(first) < 8 and all(r["status"] == "measured" for r in first)

    monkeypatch.setattr(bench_onchain, "_send", real_send)
    assert verkle_main([*ARGS, "--resume", "-o", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert f"resuming: {len(first)} rows kept" in captured.err
    rows = _rows(tmp_path / "verkle_onchain.csv")
    assert rows[: len(first)] == first  # kept, not measured again
    identities = [(r["scheme"], r["width"], r["leaves"], r["keys"], r["path"]) for r in rows]
    assert len(identities) == len(set(identities))
    assert {(r["scheme"], r["leaves"], r["keys"]) for r in rows} == {
        (scheme, leaves, keys)
        for scheme, leaves in (("kzg-bls12-381", "256"), ("keccak-merkle", "256"), ("kzg-bn254", "64"))
        for keys in ("1", "4")
    }
    assert {r["path"] for r in rows if r["keys"] == "4"} == {
        "msm-point-evaluation", "msm-pairing", "merkle-multi", "ecmul-pairing",
    }  # fmt: skip
    assert {r["width"] for r in rows if r["scheme"] != "keccak-merkle"} == {"16"}
    # the 2^8 tree is cross-checked on the embedded chain (default --embedded-max 10): the same gas
    bls = [r for r in rows if r["scheme"] == "kzg-bls12-381"]
    assert all(r["embedded_gas"] == r["gas"] for r in bls)
    assert all(abs(float(r["model_error_pct"])) < 1 for r in rows)
    assert "gas model: worst error" in captured.out
    for name in (
        "verkle_onchain.md",
        "verkle_onchain_gas_per_key.png",
        "verkle_onchain_calldata_per_key.png",
    ):
        assert (tmp_path / name).stat().st_size > 1000
    assert "verkle_bench_rates.json" in {p.name for p in tmp_path.iterdir()}

    # a resume under another seed is refused before anything runs, and the file is left as it was
    assert verkle_main([*ARGS, "--resume", "--seed", "2", "-o", str(tmp_path)]) == 2
    assert "measured with seed '1', this run uses '2'" in capsys.readouterr().err
    assert _rows(tmp_path / "verkle_onchain.csv") == rows
