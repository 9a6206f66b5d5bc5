"""Run a :class:`~ml2sc.plan.Plan` with the contract's integer arithmetic, bit for bit."""

from __future__ import annotations

from dataclasses import dataclass

from . import evm_int as E
from .fixed import relu, sigmoid
from .plan import ActivationStep, DenseStep, Plan


@dataclass(frozen=True)
class Prediction:
    outputs: tuple[int, ...]  # fixed-point, as the contract returns them
    predicted_class: int


def _dense(plan: Plan, step: DenseStep, a: list[int]) -> list[int]:
    w, f = plan.weights, plan.fmt.frac_bits
    out = []
    for j in range(step.n_out):
        row = step.w_offset + j * step.n_in
        acc = E.shl(w[step.b_offset + j], f)
        for i in range(step.n_in):
            acc = E.add(acc, E.mul(a[i], w[row + i]))
        out.append(E.sar(acc, f))
    return out


def _activation(plan: Plan, step: ActivationStep, a: list[int]) -> list[int]:
    if step.kind == "relu":
        return [relu(x) for x in a]
    if step.kind == "sigmoid":
        return [sigmoid(plan.fmt, x) for x in a]
    raise ValueError(f"unknown activation {step.kind!r}")


def classify(plan: Plan, outputs: list[int] | tuple[int, ...]) -> int:
    """argmax (first maximum) for several outputs; a 0.5 / 0 threshold for one."""
    if plan.head == "argmax":
        best = 0
        for j in range(1, len(outputs)):
            if outputs[j] > outputs[best]:
                best = j
        return best
    threshold = plan.fmt.one >> 1 if plan.head == "sigmoid" else 0
    return 1 if outputs[0] > threshold else 0


def predict(plan: Plan, inputs: list[int]) -> Prediction:
    """What ``predict(input)`` returns on-chain; raises :class:`EvmPanic` where it reverts."""
    if len(inputs) != plan.n_inputs:
        raise ValueError(f"expected {plan.n_inputs} inputs, got {len(inputs)}")
    a = list(inputs)
    for step in plan.steps:
        a = _dense(plan, step, a) if isinstance(step, DenseStep) else _activation(plan, step, a)
    return Prediction(tuple(a), classify(plan, a))
