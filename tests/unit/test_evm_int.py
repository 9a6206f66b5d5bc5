"""The emulator's integer operations follow Solidity's int256 semantics."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml2sc import evm_int as E

int256 = st.integers(min_value=E.INT256_MIN, max_value=E.INT256_MAX)


@given(int256, int256.filter(lambda b: b != 0))
def test_sdiv_truncates_toward_zero(a: int, b: int) -> None:
    if a == E.INT256_MIN and b == -1:
        with pytest.raises(E.EvmPanic):
            E.sdiv(a, b)
        return
    q = E.sdiv(a, b)
    assert abs(q) == abs(a) // abs(b)
    assert q == 0 or (q > 0) == ((a > 0) == (b > 0))
    assert abs(a - q * b) < abs(b)


@given(int256, st.integers(min_value=0, max_value=300))
def test_sar_floors(a: int, shift: int) -> None:
    assert E.sar(a, shift) == a // (2**shift)


@given(int256, st.integers(min_value=0, max_value=255))
def test_shl_wraps_to_int256(a: int, shift: int) -> None:
    result = E.shl(a, shift)
    assert E.INT256_MIN <= result <= E.INT256_MAX
    assert (result - a * 2**shift) % 2**256 == 0


def test_checked_ops_panic_on_overflow() -> None:
    with pytest.raises(E.EvmPanic) as info:
        E.mul(2**200, 2**60)
    assert info.value.code == 0x11
    with pytest.raises(E.EvmPanic):
        E.add(E.INT256_MAX, 1)
    with pytest.raises(E.EvmPanic):
        E.neg(E.INT256_MIN)
    with pytest.raises(E.EvmPanic) as info:
        E.sdiv(1, 0)
    assert info.value.code == 0x12
