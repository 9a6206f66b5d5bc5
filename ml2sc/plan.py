"""The numeric plan: the model's ops with every weight encoded as a fixed-point integer.

The plan is the single source that the Solidity renderer, the Python emulator and the
weight uploader all read. Weights are laid out in one flat vector, in canonical order:
for each dense layer, W row by row (output neuron by neuron), then its biases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from eth_utils import keccak

from .capture import Activation, Dense, Op
from .fixed import FixedFormat


@dataclass(frozen=True)
class DenseStep:
    kind: ClassVar[str] = "dense"

    name: str
    n_in: int
    n_out: int
    w_offset: int  # index of W[0][0] in the flat weight vector
    b_offset: int  # index of b[0]


@dataclass(frozen=True)
class ActivationStep:
    name: str
    kind: str


Step = DenseStep | ActivationStep


@dataclass(frozen=True)
class Plan:
    fmt: FixedFormat
    steps: tuple[Step, ...]
    weights: tuple[int, ...]
    n_inputs: int
    n_outputs: int

    @property
    def head(self) -> str:
        """How outputs become a class: ``argmax``, ``sigmoid`` (> 0.5) or ``logit`` (> 0)."""
        if self.n_outputs > 1:
            return "argmax"
        last = self.steps[-1]
        return "sigmoid" if isinstance(last, ActivationStep) and last.kind == "sigmoid" else "logit"

    @property
    def dense_steps(self) -> tuple[DenseStep, ...]:
        return tuple(s for s in self.steps if isinstance(s, DenseStep))

    @property
    def architecture(self) -> str:
        sizes = [self.n_inputs] + [s.n_out for s in self.dense_steps]
        return "-".join(str(n) for n in sizes)

    @property
    def n_macs(self) -> int:
        return sum(s.n_in * s.n_out for s in self.dense_steps)


class PlanError(ValueError):
    pass


def build_plan(ops: list[Op], fmt: FixedFormat | None = None) -> Plan:
    """Encode ``ops`` in ``fmt``; raise :class:`FormatOverflow` naming any weight that does not fit."""
    fmt = fmt or FixedFormat()
    steps: list[Step] = []
    weights: list[int] = []
    for op in ops:
        if isinstance(op, Activation):
            steps.append(ActivationStep(op.name, op.kind))
            continue
        assert isinstance(op, Dense)
        w_offset = len(weights)
        for j, row in enumerate(op.weight):
            for i, value in enumerate(row):
                weights.append(fmt.encode(float(value), f"weight {op.name}[{j}, {i}]"))
        b_offset = len(weights)
        for j, value in enumerate(op.bias):
            weights.append(fmt.encode(float(value), f"bias {op.name}[{j}]"))
        steps.append(DenseStep(op.name, op.n_in, op.n_out, w_offset, b_offset))
    dense = [s for s in steps if isinstance(s, DenseStep)]
    if not dense:
        raise PlanError("the model has no dense layer")
    return Plan(
        fmt=fmt,
        steps=tuple(steps),
        weights=tuple(weights),
        n_inputs=dense[0].n_in,
        n_outputs=dense[-1].n_out,
    )


def encode_weights(weights: tuple[int, ...] | list[int]) -> bytes:
    """Canonical encoding: each weight as a 32-byte big-endian two's-complement word."""
    return b"".join(w.to_bytes(32, "big", signed=True) for w in weights)


def weights_hash(weights: tuple[int, ...] | list[int]) -> bytes:
    """keccak256 of :func:`encode_weights`; stored on-chain when an upload completes."""
    return keccak(encode_weights(weights))


def encode_inputs(plan: Plan, rows: list[list[float]]) -> list[list[int]]:
    """Fixed-point inputs; a value outside the weight range is refused (it could overflow)."""
    encoded = []
    for r, row in enumerate(rows):
        if len(row) != plan.n_inputs:
            raise PlanError(f"row {r} has {len(row)} features; the model takes {plan.n_inputs}")
        encoded.append(
            [plan.fmt.encode(float(v), f"input row {r} feature {i}") for i, v in enumerate(row)]
        )
    return encoded
