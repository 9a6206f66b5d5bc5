"""The activation registry, and GELU / SiLU's integer algorithms against float (documented bounds)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from ml2sc import activations, emulator
from ml2sc import fixed as fx
from ml2sc.capture import UnsupportedModel, capture
from ml2sc.fixed import FixedFormat
from ml2sc.plan import FloatLayer, build_fixed_plan, build_plan, group_layers
from ml2sc.quant import build_int8_plan, calibrate

Q60 = FixedFormat()
Q16 = FixedFormat(16, 64)  # int8 mode's format for these functions
# max |integer algorithm - torch float64| over all x (README, "Number formats"): Q.60 and Q.16
BOUNDS = {
    "gelu": (2.2e-7, 9e-5),  # Abramowitz & Stegun 7.1.26 for erf: 1.5e-7 on erf
    "gelu_tanh": (1e-14, 1.3e-4),
    "silu": (1e-14, 3.3e-4),
}
TORCH = {
    "gelu": lambda t: F.gelu(t),
    "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    "silu": F.silu,
}


def test_kind_ids_are_the_rendered_ones() -> None:
    """The contracts of existing models dispatch on these numbers: they must never move."""
    assert {n: activations.get(n).kind_id for n in activations.NAMES} == {
        "none": 0,
        "relu": 1,
        "leaky_relu": 2,
        "sigmoid": 3,
        "tanh": 4,
        "softmax": 5,
        "gelu": 6,
        "gelu_tanh": 7,
        "silu": 8,
    }
    assert activations.names("squash") == ("sigmoid", "tanh")
    assert activations.names("clamp") == ("none", "relu", "leaky_relu")
    assert activations.names("rescale") == ("gelu", "gelu_tanh", "silu")


def test_an_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(activations.UnknownActivation, match=r"unknown activation 'swish'; known: none, relu"):
        activations.get("swish")
    with pytest.raises(ValueError, match="unknown int8 class"):
        activations.names("squish")


def test_float_references_are_torchs() -> None:
    x = np.linspace(-12, 12, 4001)
    t = torch.tensor(x, dtype=torch.float64)
    for name, fn in TORCH.items():
        assert np.allclose(activations.get(name).float_fn(x, 0.0), fn(t).numpy(), atol=1e-15, rtol=1e-14)


def test_capture_reads_every_spelling() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = nn.Linear(3, 4), nn.Linear(4, 4), nn.Linear(4, 2)

        def forward(self, x):
            return F.silu(self.c(F.gelu(self.b(F.gelu(self.a(x), approximate="tanh")))))

    kinds = [op.kind for op in capture(Functional()) if hasattr(op, "kind")]
    assert kinds == ["gelu_tanh", "gelu", "silu"]
    modules = nn.Sequential(
        nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 3), nn.GELU("tanh"), nn.Linear(3, 1), nn.SiLU()
    )
    assert [op.kind for op in capture(modules) if hasattr(op, "kind")] == ["gelu", "gelu_tanh", "silu"]
    scripted = torch.jit.script(modules)
    assert [op.kind for op in capture(scripted) if hasattr(op, "kind")] == ["gelu", "gelu_tanh", "silu"]


def test_gelu_with_an_unknown_approximation_is_refused() -> None:
    gelu = nn.GELU()
    gelu.approximate = "cubic"
    with pytest.raises(UnsupportedModel, match="approximate='cubic'"):
        capture(nn.Sequential(nn.Linear(2, 2), gelu))


@pytest.mark.parametrize("name", sorted(BOUNDS))
@pytest.mark.parametrize("fmt", [Q60, Q16], ids=["Q60", "Q16"])
def test_max_error_on_a_dense_grid(name, fmt) -> None:
    """The README's figures: a dense grid over [-20, 20] (past every cut-off) and [-1, 1]."""
    xs = np.concatenate([np.linspace(-20, 20, 40_001), np.linspace(-1, 1, 10_001)])
    expected = TORCH[name](torch.tensor(xs, dtype=torch.float64)).numpy()
    fn = activations.get(name).fixed_fn
    got = np.array([fn(fmt, fmt.encode(x)) / fmt.one for x in xs])
    assert np.abs(got - expected).max() <= BOUNDS[name][fmt is Q16]


@settings(max_examples=300)
@given(st.sampled_from(sorted(BOUNDS)), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([Q60, Q16]))
def test_integer_algorithms_within_the_bound_everywhere(name, x, fmt) -> None:
    fn = activations.get(name).fixed_fn
    got = fn(fmt, fmt.encode(x)) / fmt.one
    expected = float(TORCH[name](torch.tensor([fmt.decode(fmt.encode(x))], dtype=torch.float64))[0])
    # far from 0 the value is x itself (or 0): then one unit of the format, relative to |x|
    assert abs(got - expected) <= BOUNDS[name][fmt is Q16] + abs(x) * 2.0**-fmt.frac_bits


def _exact(name: str, x):
    """The function at ``x`` in 60-digit arithmetic (float64 cannot show a unit of Q.60 near 1e-16)."""
    import mpmath as mp

    if name == "silu":
        return x / (1 + mp.exp(-x))
    if name == "gelu":
        return x * mp.ncdf(x)
    return x / 2 * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3)))


@pytest.mark.parametrize(
    "frac_bits,lo,hi,silu_units",
    [(60, -44.0, -20.0, (78, 82)), (32, -24.0, -20.0, (40, 43.5))],
)
def test_beyond_twenty_units_of_the_format(frac_bits, lo, hi, silu_units) -> None:
    """The README's figures past [-20, 20]: both GELUs within a unit of the format; SiLU, which
    multiplies sigmoid's rounding (about two units) by x, up to 82 units at Q.60 (near x = -40.9)
    and 43 at Q.32 (near x = -21.5), until its exp rounds to 0."""
    import mpmath as mp

    mp.mp.dps = 60
    fmt = FixedFormat(frac_bits, 128)
    xs = [round(x * 2**frac_bits) for x in np.linspace(lo, hi, 1201)]
    xs += [round(-x * 2**frac_bits) for x in np.linspace(lo, hi, 201)]
    for name in ("gelu", "gelu_tanh"):
        fn = activations.get(name).fixed_fn
        assert max(abs(fn(fmt, v) - _exact(name, mp.mpf(v) / fmt.one) * fmt.one) for v in xs) <= 1
    errors = [abs(fx.silu(fmt, v) - _exact("silu", mp.mpf(v) / fmt.one) * fmt.one) for v in xs]
    assert all(e <= 2 * abs(v) / fmt.one + 1 for e, v in zip(errors, xs))
    assert silu_units[0] <= max(errors) <= silu_units[1]


@settings(max_examples=200)
@given(st.integers(-(2**180), 2**180), st.sampled_from([16, 32, 60, 100]))
def test_huge_inputs_never_overflow(x, frac_bits) -> None:
    """Past the cut-offs the functions return x or 0: no cube or square of a huge value is taken."""
    fmt = FixedFormat(frac_bits, 128 if frac_bits <= 128 else 152)
    assert fx.gelu(fmt, x) in (x, 0) or abs(x) < fmt.gelu_cutoff
    assert fx.gelu_tanh(fmt, x) in (x, 0) or abs(x) < fmt.gelu_tanh_cutoff
    fx.silu(fmt, x)


@pytest.mark.parametrize("frac_bits", [1, 4, 16, 60, 120])
def test_cutoffs_are_where_exp_rounds_to_zero(frac_bits) -> None:
    fmt = FixedFormat(frac_bits, 8 * ((256 - frac_bits) // 8) if frac_bits > 128 else 128)
    below = fmt.gelu_tanh_cutoff - 1
    assert max(fx._gelu_tanh_arg(fmt, below), -fx._gelu_tanh_arg(fmt, -below)) < fmt.exp_cutoff
    cut = fmt.gelu_cutoff
    assert fx._gelu_exp_arg(fmt, cut - 1) < fmt.exp_cutoff <= fx._gelu_exp_arg(fmt, cut)


def _layers(acts: list[str], seed: int = 0) -> list[FloatLayer]:
    rng = np.random.default_rng(seed)
    sizes = [6, 9, 8, 7, 3][: len(acts) + 1]
    return [
        FloatLayer(f"l{i}", rng.normal(0, 1, (b, a)), rng.normal(0, 0.3, b), act)
        for i, ((a, b), act) in enumerate(zip(zip(sizes, sizes[1:]), acts))
    ]


def _decoded(plan, x: np.ndarray) -> np.ndarray:
    from ml2sc.plan import encode_inputs

    rows = encode_inputs(plan, x)
    return np.array([[plan.fmt.decode(v) for v in emulator.predict(plan, r).outputs] for r in rows])


def test_int8_rescale_layers_carry_a_second_multiplier() -> None:
    layers = _layers(["gelu", "silu", "gelu_tanh", "none"])
    x = np.random.default_rng(1).normal(size=(32, 6))
    plan = build_int8_plan(layers, calibrate(layers, x))
    for layer in plan.layers[:3]:
        assert 2**30 <= layer.out_m < 2**31 and layer.out_shift > 16
    assert plan.layers[3].out_m == plan.layers[3].out_shift == 0
    # the emulator's int8 outputs follow float within the int8 rounding of three hidden layers
    from ml2sc.quant import float_forward

    expected = float_forward(layers, x)[-1]
    got = _decoded(plan, x)
    assert np.abs(got - expected).max() < 0.05 * np.abs(expected).max()


def test_fixed_plans_follow_float() -> None:
    layers = _layers(["gelu", "silu", "gelu_tanh", "none"])
    x = np.random.default_rng(2).normal(size=(16, 6)) * 3
    from ml2sc.quant import float_forward

    plan = build_fixed_plan(layers)
    got = _decoded(plan, x)
    expected = float_forward(layers, x)[-1]
    assert np.abs(got - expected).max() < 1e-7 * np.abs(expected).max()  # gelu's 2.2e-7, through the weights


def test_gasmodel_imports_no_web3() -> None:
    code = "import sys, ml2sc.gasmodel; assert 'web3' not in sys.modules, 'web3 imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plan_and_quant_import_in_either_order() -> None:
    for first in ("ml2sc.quant", "ml2sc.plan"):
        subprocess.run([sys.executable, "-c", f"import {first}; import ml2sc.plan, ml2sc.quant"], check=True)


def test_group_layers_refuses_softmax_before_the_end() -> None:
    from ml2sc.plan import PlanError

    with pytest.raises(PlanError, match="softmax after"):
        build_plan(capture(nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=1), nn.Linear(3, 2))))
    layers = group_layers(capture(nn.Sequential(nn.Linear(2, 3), nn.SiLU(), nn.Linear(3, 2))))
    assert layers[0].activation == "silu"
