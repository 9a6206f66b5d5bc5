"""The fork registry: one record per rule set, and the schedule facts that differ between them."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evmkit import gas
from evmkit.cliargs import add_fork_arg
from evmkit.forks import DEFAULT_FORK, FORKS, Fork, get_fork
from evmkit.registry import UnknownName
from evmkit.solc import default_settings

BLS_R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


def test_osaka_is_the_default_and_every_fork_is_one_record() -> None:
    assert DEFAULT_FORK == "osaka" and get_fork(None) is FORKS["osaka"] and get_fork() is get_fork("osaka")
    assert list(FORKS) == ["cancun", "prague", "osaka"]  # oldest first: detection tries newest first
    assert get_fork(FORKS["prague"]) is FORKS["prague"]
    osaka, prague, cancun = FORKS["osaka"], FORKS["prague"], FORKS["cancun"]
    assert (osaka.tx_gas_cap, prague.tx_gas_cap, cancun.tx_gas_cap) == (2**24, None, None)
    assert (osaka.clz, prague.clz, cancun.clz) == (True, False, False)
    assert (osaka.calldata_floor, prague.calldata_floor, cancun.calldata_floor) == (True, True, False)
    for fork in FORKS.values():
        assert isinstance(fork, Fork) and default_settings(fork.evm_version)["evmVersion"] == fork.name
        assert fork.vm_class().fork == fork.name  # the py-evm VM that runs these rules


def test_an_unknown_fork_is_refused_by_name() -> None:
    with pytest.raises(UnknownName, match=r"^unknown fork 'amsterdam' \(known: cancun, prague, osaka\)$"):
        get_fork("amsterdam")
    parser = argparse.ArgumentParser()
    add_fork_arg(parser)
    assert parser.parse_args([]).fork == "osaka" and parser.parse_args(["--fork", "prague"]).fork == "prague"
    with pytest.raises(SystemExit):
        parser.parse_args(["--fork", "amsterdam"])


def test_the_transaction_cap_is_osakas_only() -> None:
    assert FORKS["osaka"].gas_cap(30_000_000) == 2**24 and FORKS["osaka"].gas_cap(10_000_000) == 10_000_000
    assert FORKS["prague"].gas_cap(30_000_000) == 30_000_000


@pytest.mark.parametrize(
    ("base", "exp", "exp_len", "mod", "eip2565", "eip7883"),
    [
        (32, BLS_R - 2, 32, 32, 1_354, 4_064),  # the verifiers' inversion: 16 * 254 under EIP-7883
        (32, 0, 32, 32, 200, 500),  # minimum prices
        (1, 3, 1, 1, 200, 500),
        (64, 2**255, 32, 64, 5_440, 32_640),  # 8 words: 64 * 255 // 3, and 2 * 64 * 255
        (32, 1, 64, 32, 1_365, 8_192),  # 64-byte exponent: 16 * (8 * 32) // 3, and 16 * (16 * 32)
    ],
)
def test_modexp_prices_follow_each_eip(base, exp, exp_len, mod, eip2565, eip7883) -> None:
    assert FORKS["prague"].modexp_gas(base, exp, exp_len, mod) == eip2565
    assert FORKS["cancun"].modexp_gas(base, exp, exp_len, mod) == eip2565
    assert FORKS["osaka"].modexp_gas(base, exp, exp_len, mod) == eip7883


@given(st.integers(0, 1024), st.integers(0, 2**256 - 1), st.integers(0, 1024), st.integers(0, 1024))
def test_osaka_never_prices_modexp_below_prague(base, exp, exp_len, mod) -> None:
    assert gas.modexp_gas_eip7883(base, exp, exp_len, mod) >= gas.modexp_gas(base, exp, exp_len, mod)


def test_the_calldata_floor_is_pragues_and_osakas_only() -> None:
    data = bytes(range(1, 200))  # non-zero bytes: the EIP-7623 floor is above 16 per byte plus no execution
    floor = gas.transaction_gas(data, 0)
    assert floor == gas.floor_gas(data) > gas.intrinsic_gas(data)
    assert gas.transaction_gas(data, 0, calldata_floor=False) == gas.intrinsic_gas(data)
    plain = gas.estimate_transaction(data, {"work": 0}, calldata_floor=False)
    assert plain.total == gas.intrinsic_gas(data) and plain.term(gas.FLOOR_TOP_UP_TERM) == 0
    assert gas.estimate_transaction(data, {"work": 0}).term(gas.FLOOR_TOP_UP_TERM) == floor - plain.total
