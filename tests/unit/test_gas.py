"""The Prague schedule terms (EIP-2028, EIP-3860, EIP-7623, memory expansion)."""

from evmkit import gas as G


def test_calldata_floor_eip7623() -> None:
    data = b"\x00" * 10 + b"\x01" * 10  # 10 + 40 tokens
    assert G.calldata_tokens(data) == 50
    assert G.intrinsic_gas(data) == 21_000 + 4 * 50
    assert G.floor_gas(data) == 21_000 + 10 * 50
    assert G.transaction_gas(data, execution=100) == 21_000 + 500  # the floor wins
    assert G.transaction_gas(data, execution=10_000) == 21_000 + 200 + 10_000


def test_memory_cost_is_quadratic() -> None:
    assert G.memory_cost(1) == 3
    assert G.memory_cost(1024) == 3 * 1024 + 2048
    assert G.memory_expansion(1024, 1024) == 0
