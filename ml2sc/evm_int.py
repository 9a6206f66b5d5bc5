"""Solidity's signed 256-bit integer semantics, in Python.

The emulator uses only these operations so that it computes exactly what the contract
computes: checked ``+ - *`` (Solidity >= 0.8 reverts with Panic(0x11) on overflow),
truncating ``/``, arithmetic (flooring) ``>>``, and unchecked ``<<`` that wraps to 256 bits.
"""

from __future__ import annotations

INT256_MIN = -(1 << 255)
INT256_MAX = (1 << 255) - 1


class EvmPanic(ArithmeticError):
    """What the contract would revert with: Panic(code)."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"panic 0x{code:02x}: {what}")
        self.code = code


def checked(value: int) -> int:
    if value < INT256_MIN or value > INT256_MAX:
        raise EvmPanic(0x11, "int256 overflow")
    return value


def add(a: int, b: int) -> int:
    return checked(a + b)


def sub(a: int, b: int) -> int:
    return checked(a - b)


def mul(a: int, b: int) -> int:
    return checked(a * b)


def neg(a: int) -> int:
    return checked(-a)


def sdiv(a: int, b: int) -> int:
    """Solidity's ``a / b`` for int256: rounds toward zero; checked."""
    if b == 0:
        raise EvmPanic(0x12, "division by zero")
    quotient = abs(a) // abs(b)
    return checked(quotient if (a >= 0) == (b >= 0) else -quotient)


def sar(a: int, shift: int) -> int:
    """Solidity's ``a >> shift`` for int256: arithmetic shift, rounds toward -infinity."""
    return a >> shift


def shl(a: int, shift: int) -> int:
    """Solidity's ``a << shift`` for int256: never checked, wraps to 256 bits."""
    wrapped = (a << shift) & ((1 << 256) - 1)
    return wrapped - (1 << 256) if wrapped >> 255 else wrapped
