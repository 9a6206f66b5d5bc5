"""Signed binary fixed-point numbers and the integer algorithms for non-linear functions.

A value ``x`` is stored as the integer ``round(x * 2**F)``. The default ``F = 60`` is close
to PRBMath SD59x18's precision (1e18 ~ 2**59.8). Weights and biases must fit a signed
``weight_bits`` integer; activations are int256 with Solidity's checked arithmetic.

Non-linear functions use only integer operations that the contract template reproduces:
``exp(-a)`` is ``2**(-t)`` with ``t = a * log2(e)``, split into an integer part (a shift)
and a fraction (a Taylor polynomial of ``2**-r`` evaluated by Horner's rule). Its degree is
chosen so that the truncation error stays below ``2**-(F+1)``. SiLU is ``x * sigmoid(x)``;
GELU's erf form is ``x * Phi(x)`` with Phi from erf by Abramowitz & Stegun 7.1.26 (one exp, one
division, a degree-5 polynomial; |error of erf| <= 1.5e-7), its tanh form ``x * sigmoid(2 k (x +
0.044715 x**3))`` (``0.5 (1 + tanh y) = sigmoid(2 y)``). Both return ``x`` or ``0`` from a
cut-off on ``|x|`` past which their exp would round to 0 anyway, so no cube or square overflows.
"""

from __future__ import annotations

import math
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


def _sqrt(value: Fraction) -> Fraction:
    with localcontext() as ctx:
        ctx.prec = 80
        return Fraction((Decimal(value.numerator) / Decimal(value.denominator)).sqrt())


# Abramowitz & Stegun 7.1.26: erf(z) = 1 - t (a1 + t (a2 + ... + t a5)) exp(-z**2), t = 1 / (1 + p z)
ERF_P = Fraction("0.3275911")
ERF_A = tuple(
    Fraction(a) for a in ("0.254829592", "-0.284496736", "1.421413741", "-1.453152027", "1.061405429")
)
GELU_TANH_C = Fraction("0.044715")  # PyTorch's approximate="tanh": tanh(sqrt(2/pi) (x + 0.044715 x**3))
_PI = Fraction(Decimal("3.14159265358979323846264338327950288419716939937510582097494459"))


def _first_at_least(f, target: int, hi: int) -> int:
    """The smallest a in [0, hi] with f(a) >= target, for f non-decreasing (f(hi) >= target)."""
    lo = 0
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if f(mid) < target else (lo, mid)
    return lo


@dataclass(frozen=True)
class FixedFormat:
    """Q-format: ``frac_bits`` fractional bits; weights stored as ``weight_bits``-bit ints."""

    frac_bits: int = DEFAULT_FRAC_BITS
    weight_bits: int = DEFAULT_WEIGHT_BITS

    def __post_init__(self) -> None:
        for what, value in (("frac_bits", self.frac_bits), ("weight_bits", self.weight_bits)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{what} must be an int, not {type(value).__name__} ({value!r})")
        if not 1 <= self.frac_bits <= 120:
            raise ValueError(f"frac_bits must be in 1..120, got {self.frac_bits}")
        if not 8 <= self.weight_bits <= 256 or self.weight_bits % 8:
            raise ValueError(f"weight_bits must be a multiple of 8 in 8..256, got {self.weight_bits}")
        if self.weight_bits + self.frac_bits > 256:
            raise ValueError("weight_bits + frac_bits must be <= 256 (the bias is shifted left by F)")
        if self.frac_bits >= self.weight_bits:
            raise ValueError(
                f"frac_bits ({self.frac_bits}) must be below weight_bits ({self.weight_bits}): a signed "
                f"{self.weight_bits}-bit weight with {self.frac_bits} fractional bits holds at most "
                f"{((1 << (self.weight_bits - 1)) - 1) / (1 << self.frac_bits):.3g}; use fewer frac_bits "
                "or more weight_bits"
            )

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
        product = float(value) * float(self.one)  # 1e300 * 2**60 is inf in float: no round() of it
        scaled = round(product) if math.isfinite(product) else (self.max_int + 1) * (1 if value > 0 else -2)
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

    @cached_property
    def inv_sqrt2(self) -> int:
        """round(2**-0.5 * 2**F)."""
        return round(_sqrt(Fraction(1, 2)) * self.one)

    @cached_property
    def erf_p(self) -> int:
        return round(ERF_P * self.one)

    @cached_property
    def erf_coefficients(self) -> tuple[int, ...]:
        """a1..a5 of Abramowitz & Stegun 7.1.26, scaled by 2**F."""
        return tuple(round(a * self.one) for a in ERF_A)

    @cached_property
    def gelu_tanh_c(self) -> int:
        return round(GELU_TANH_C * self.one)

    @cached_property
    def gelu_tanh_k(self) -> int:
        """round(2 sqrt(2 / pi) * 2**F): sigmoid's argument is twice tanh's."""
        return round(2 * _sqrt(2 / _PI) * self.one)

    @cached_property
    def gelu_cutoff(self) -> int:
        """The smallest |x| whose exp(-z**2) (z = |x| / sqrt 2) is cut off to 0: from there GELU is
        x or 0 exactly, and the square is never taken (it could overflow)."""
        return _first_at_least(lambda a: _gelu_exp_arg(self, a), self.exp_cutoff, 64 * self.one)

    @cached_property
    def gelu_tanh_cutoff(self) -> int:
        """The smallest |x| whose sigmoid argument (either sign) is cut off: from there the tanh
        form is x or 0 exactly, and the cube is never taken."""
        cut, top = self.exp_cutoff, 64 * self.one
        return min(
            _first_at_least(lambda a: _gelu_tanh_arg(self, a), cut, top),
            _first_at_least(lambda a: -_gelu_tanh_arg(self, -a), cut, top),
        )


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


def silu(fmt: FixedFormat, x: int) -> int:
    """SiLU(x) = x * sigmoid(x); x or 0 where sigmoid's exp is cut off (its value exactly, and
    the product never overflows)."""
    if x >= fmt.exp_cutoff:
        return x
    if x <= -fmt.exp_cutoff:
        return 0
    return E.sar(E.mul(x, sigmoid(fmt, x)), fmt.frac_bits)


def _gelu_exp_arg(fmt: FixedFormat, a: int) -> int:
    """z**2 for z = a / sqrt 2 (a >= 0), as _gelu computes it."""
    f = fmt.frac_bits
    z = E.sar(E.mul(a, fmt.inv_sqrt2), f)
    return E.sar(E.mul(z, z), f)


def gelu(fmt: FixedFormat, x: int) -> int:
    """GELU, erf form: x Phi(x). With z = |x| / sqrt 2, the tail q = 1 - Phi(|x|) = erfc(z) / 2
    comes from Abramowitz & Stegun 7.1.26; GELU(x) = x - x q for x >= 0 and x q for x < 0."""
    f, one = fmt.frac_bits, fmt.one
    a = x if x >= 0 else E.neg(x)
    if a >= fmt.gelu_cutoff:
        return x if x > 0 else 0
    z = E.sar(E.mul(a, fmt.inv_sqrt2), f)
    t = E.sdiv(E.mul(one, one), E.add(one, E.sar(E.mul(z, fmt.erf_p), f)))
    coefficients = fmt.erf_coefficients
    acc = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        acc = E.add(E.sar(E.mul(acc, t), f), c)
    poly = E.sar(E.mul(acc, t), f)
    q = E.sar(E.mul(poly, exp_neg(fmt, E.sar(E.mul(z, z), f))), f + 1)
    xq = E.sar(E.mul(x, q), f)
    return xq if x < 0 else E.sub(x, xq)


def _gelu_tanh_arg(fmt: FixedFormat, x: int) -> int:
    """2 sqrt(2/pi) (x + 0.044715 x**3): the sigmoid argument of the tanh form."""
    f = fmt.frac_bits
    x2 = E.sar(E.mul(x, x), f)
    cube = E.sar(E.mul(E.sar(E.mul(x2, fmt.gelu_tanh_c), f), x), f)
    return E.sar(E.mul(E.add(x, cube), fmt.gelu_tanh_k), f)


def gelu_tanh(fmt: FixedFormat, x: int) -> int:
    """GELU, tanh form (PyTorch's approximate="tanh"): x sigmoid(2 sqrt(2/pi) (x + 0.044715 x**3))."""
    cut = fmt.gelu_tanh_cutoff
    if x >= cut:
        return x
    if x <= -cut:
        return 0
    return E.sar(E.mul(x, sigmoid(fmt, _gelu_tanh_arg(fmt, x))), fmt.frac_bits)
