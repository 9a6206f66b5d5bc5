"""Fixed-point encoding and the integer sigmoid: range, accuracy, no reverts."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml2sc.fixed import FixedFormat, FormatOverflow, exp_neg, sigmoid

FORMATS = [FixedFormat(60, 128), FixedFormat(32, 64), FixedFormat(16, 32)]
# The largest |sigmoid error| each format is held to over [-60, 60] (measured margins: the
# truncation error of the exp polynomial is < 2**-(F+1); the rest is rounding in the shifts).
SIGMOID_TOLERANCE = {60: 1e-15, 32: 2e-9, 16: 1e-4}


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_sigmoid_error_bound(fmt: FixedFormat) -> None:
    worst = 0.0
    for k in range(-6000, 6001):
        x = k / 100
        got = sigmoid(fmt, fmt.encode(x)) / fmt.one
        worst = max(worst, abs(got - 1 / (1 + math.exp(-x))))
    assert worst < SIGMOID_TOLERANCE[fmt.frac_bits]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_exp_neg_accuracy(fmt: FixedFormat) -> None:
    for k in range(0, 4000):
        a = k / 100
        got = exp_neg(fmt, fmt.encode(a)) / fmt.one
        assert abs(got - math.exp(-a)) < 4 * SIGMOID_TOLERANCE[fmt.frac_bits]


@given(st.integers(min_value=-(2**200), max_value=2**200))
def test_sigmoid_total_monotone_bounded(x: int) -> None:
    fmt = FixedFormat()
    s = sigmoid(fmt, x)
    assert 0 <= s <= fmt.one
    assert sigmoid(fmt, x + fmt.one) >= s


def test_encode_rounds_and_refuses_overflow() -> None:
    fmt = FixedFormat(8, 16)
    assert fmt.encode(1.5) == 384
    assert fmt.encode(-0.00390625) == -1
    assert fmt.decode(fmt.encode(3.25)) == 3.25
    with pytest.raises(FormatOverflow, match="does not fit Q7.8"):
        fmt.encode(200.0, "weight fc[0, 0]")
    with pytest.raises(FormatOverflow, match="not a finite number"):
        fmt.encode(float("nan"))


def test_format_validation() -> None:
    with pytest.raises(ValueError):
        FixedFormat(0, 128)
    with pytest.raises(ValueError):
        FixedFormat(130, 128)
    with pytest.raises(ValueError):
        FixedFormat(60, 200)
