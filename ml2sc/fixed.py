"""Signed binary fixed-point numbers and the integer algorithms for non-linear functions.

A value ``x`` is stored as the integer ``round(x * 2**F)``. The default ``F = 60`` is close
to PRBMath SD59x18's precision (1e18 ~ 2**59.8). Weights and biases must fit a signed
``weight_bits`` integer; activations are int256 with Solidity's checked arithmetic.

Non-linear functions use only integer operations that the contract template reproduces:
``exp(-a)`` is ``2**(-t)`` with ``t = a * log2(e)``, split into an integer part (a shift)
and a fraction (a Taylor polynomial of ``2**-r`` evaluated by Horner's rule). Its degree is
chosen so that the truncation error stays below ``2**-(F+1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import cached_property

from . import evm_int as E

DEFAULT_FRAC_BITS = 60
DEFAULT_WEIGHT_BITS = 128


class FormatOverflow(ValueError):
    """A number does not fit the fixed-point format."""


def _ln2() -> Fraction:
    with localcontext() as ctx:
        ctx.prec = 80
        return Fraction(Decimal(2).ln())


@dataclass(frozen=True)
class FixedFormat:
    """Q-format: ``frac_bits`` fractional bits; weights stored as ``weight_bits``-bit ints."""

    frac_bits: int = DEFAULT_FRAC_BITS
    weight_bits: int = DEFAULT_WEIGHT_BITS

    def __post_init__(self) -> None:
        if not 1 <= self.frac_bits <= 120:
            raise ValueError(f"frac_bits must be in 1..120, got {self.frac_bits}")
        if not 8 <= self.weight_bits <= 256 or self.weight_bits % 8:
            raise ValueError(f"weight_bits must be a multiple of 8 in 8..256, got {self.weight_bits}")
        if self.weight_bits + self.frac_bits > 256:
            raise ValueError("weight_bits + frac_bits must be <= 256 (the bias is shifted left by F)")

    @property
    def name(self) -> str:
        return f"Q{self.weight_bits - 1 - self.frac_bits}.{self.frac_bits} (int{self.weight_bits})"

    @property
    def one(self) -> int:
        return 1 << self.frac_bits

    @property
    def max_int(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def max_value(self) -> float:
        return self.max_int / self.one

    def encode(self, value: float, what: str = "value") -> int:
        """Round to the nearest representable number; raise if it does not fit."""
        if value != value or value in (float("inf"), float("-inf")):
            raise FormatOverflow(f"{what} is {value}, not a finite number")
        scaled = round(float(value) * float(self.one))
        if scaled > self.max_int or scaled < -self.max_int - 1:
            raise FormatOverflow(
                f"{what} = {value:.6g} does not fit {self.name}: the largest magnitude is "
                f"{self.max_value:.6g}; use fewer --frac-bits or more --weight-bits"
            )
        return scaled

    def decode(self, scaled: int) -> float:
        return scaled / self.one

    # -- constants of the integer algorithms ---------------------------------------------
    @cached_property
    def log2e(self) -> int:
        """round(log2(e) * 2**F)."""
        return round(self.one / _ln2())

    @cached_property
    def exp2_coefficients(self) -> tuple[int, ...]:
        """Taylor coefficients of 2**-r = sum (-ln2 r)^k / k!, scaled by 2**F."""
        ln2 = _ln2()
        bound = Fraction(1, 2 ** (self.frac_bits + 1))
        coefficients: list[int] = []
        term = Fraction(1)
        k = 0
        while True:
            coefficients.append(round(term * self.one))
            k += 1
            term = term * (-ln2) / k
            if abs(term) < bound:  # remainder of an alternating series < next term
                break
        return tuple(coefficients)

    @property
    def exp_cutoff(self) -> int:
        """exp(-a) is below 2**-(F+1) for a >= this, so it rounds to 0."""
        return (self.frac_bits + 2) << self.frac_bits


def exp_neg(fmt: FixedFormat, a: int) -> int:
    """exp(-a / 2**F) * 2**F for a >= 0, as the contract computes it."""
    if a >= fmt.exp_cutoff:
        return 0
    f = fmt.frac_bits
    t = E.sar(E.mul(a, fmt.log2e), f)
    k = E.sar(t, f)
    r = t & (fmt.one - 1)
    coefficients = fmt.exp2_coefficients
    acc = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        acc = E.add(E.sar(E.mul(acc, r), f), c)
    return E.sar(acc, k)


def sigmoid(fmt: FixedFormat, x: int) -> int:
    """1 / (1 + exp(-x)) in fixed point; never reverts for large |x| (unlike PRBMath's exp)."""
    one = fmt.one
    if x >= 0:
        e = exp_neg(fmt, x)
        return E.sdiv(E.mul(one, one), E.add(one, e))
    e = exp_neg(fmt, E.neg(x))
    return E.sdiv(E.mul(e, one), E.add(one, e))


def relu(x: int) -> int:
    return x if x > 0 else 0


def tanh(fmt: FixedFormat, x: int) -> int:
    """tanh(x) = (1 - e) / (1 + e) with e = exp(-2|x|), odd-symmetric."""
    one = fmt.one
    if x < 0:
        return E.neg(tanh(fmt, E.neg(x)))
    e = exp_neg(fmt, E.add(x, x))
    return E.sdiv(E.mul(E.sub(one, e), one), E.add(one, e))


def leaky_relu(fmt: FixedFormat, x: int, slope: int) -> int:
    """x for x >= 0, else (x * slope) >> F with ``slope`` in the same fixed-point format."""
    return x if x >= 0 else E.sar(E.mul(x, slope), fmt.frac_bits)


def softmax(fmt: FixedFormat, xs: list[int]) -> list[int]:
    """exp(x_j - max) / sum, each term by :func:`exp_neg`; the largest term is exactly 1."""
    top = max(xs)
    exps = [exp_neg(fmt, E.sub(top, x)) for x in xs]
    total = 0
    for e in exps:
        total = E.add(total, e)
    return [E.sdiv(E.mul(e, fmt.one), total) for e in exps]
