"""Bad numbers on the command line are refused by argparse in one line (exit 2) before anything runs;
a gas limit that passes the check but is too small for the work ends in one error line (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import ml2sc.cli
import verkle.cli
from evmkit.cliargs import INTRINSIC_GAS, gas_limit_type, positive_int


def _refused(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]  # argparse prints its usage, then the one error line


@pytest.fixture
def model(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "net.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), path)
    (tmp_path / "rows.csv").write_text("1,2,3\n4,5,6\n")
    return path


@pytest.mark.parametrize("value", ["0", "-3"])
def test_batch_must_be_positive(model: Path, value: str, capsys) -> None:
    argv = ["predict", str(model), "--input", str(model.parent / "rows.csv"), "--batch", value]
    line = _refused(ml2sc.cli.main, argv, capsys)
    assert line == f"ml2sc predict: error: argument --batch: must be a positive integer, got {value}"


def test_batch_must_be_an_integer(model: Path, capsys) -> None:
    argv = ["predict", str(model), "--input", str(model.parent / "rows.csv"), "--batch", "ten"]
    assert _refused(ml2sc.cli.main, argv, capsys).endswith("argument --batch: 'ten' is not an integer")


@pytest.mark.parametrize("command", ["deploy", "predict", "verify", "verify-weights"])
def test_every_ml2sc_chain_command_checks_the_gas_limit(model: Path, command: str, capsys) -> None:
    rows = str(model.parent / "rows.csv")
    positional = {"deploy": [str(model)], "predict": [str(model), "--input", rows]}.get(
        command,
        [rows, str(model)],  # verify: MANIFEST MODEL (never read: argparse refuses first)
    )
    line = _refused(ml2sc.cli.main, [command, *positional, "--gas-limit", "20999"], capsys)
    assert line.endswith(
        "argument --gas-limit: must be at least 21,000, the gas of the cheapest transaction, got 20,999"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "proof.json", "--gas-limit", "100"],
        ["deploy-verifier", "tree.db", "--gas-limit", "0"],
    ],
)
def test_verkle_chain_commands_check_the_gas_limit(argv: list[str], capsys) -> None:
    line = _refused(verkle.cli.main, argv, capsys)
    assert line.startswith("verkle ") and "argument --gas-limit: must be at least 21,000" in line


@pytest.mark.parametrize(
    "argv, option",
    [
        (["demo", "--size", "0"], "--size"),
        (["build", "data.csv", "-o", "t.db", "--workers", "0"], "--workers"),
    ],
)
def test_verkle_counts_must_be_positive(argv: list[str], option: str, capsys) -> None:
    line = _refused(verkle.cli.main, argv, capsys)
    assert line.endswith(f"argument {option}: must be a positive integer, got 0")


def test_the_types_accept_what_they_should() -> None:
    assert positive_int("1") == 1 and positive_int("1,000") == 1000
    assert gas_limit_type(str(INTRINSIC_GAS)) == INTRINSIC_GAS and gas_limit_type("30_000_000") == 30_000_000


@pytest.mark.parametrize("gas_limit", ["21000", "100000"])
def test_a_gas_limit_too_small_for_the_deployment_is_one_line(model: Path, gas_limit: str, capsys) -> None:
    """Accepted by argparse, but the contract does not fit such a block: one error line, exit 1."""
    code = ml2sc.cli.main(
        ["deploy", str(model), "--gas-limit", gas_limit, "-o", str(model.parent / f"m{gas_limit}.json")]
    )
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 1 and "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("ml2sc: error: ")
