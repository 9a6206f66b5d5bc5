"""Analytic gas of ml2sc transactions, from the Prague schedule (``evmkit.gas``). Pure.

This module starts with the transactions whose cost follows from the schedule alone: the
creation of a ``code``-layout data contract. (The full model of deploys, slot uploads and
inference is the gas-model issue's work.)
"""

from __future__ import annotations

from dataclasses import dataclass

from evmkit import gas as G

from .layouts import data_contract_initcode

# The data contract's 12-byte creation code: PUSH2, DUP1, PUSH1, PUSH1 (3 gas each),
# CODECOPY (3 + copy + memory), PUSH1 (3), RETURN (0).
DATA_INITCODE_STATIC = 6 * G.GAS_VERY_LOW


@dataclass(frozen=True)
class Estimate:
    """A receipt-gas prediction with the terms it adds up."""

    total: int
    terms: tuple[tuple[str, int], ...]


def data_contract_creation(chunk: bytes) -> Estimate:
    """Receipt gas of deploying ``0x00 || chunk`` as a data contract."""
    initcode = data_contract_initcode(chunk)
    runtime_bytes = len(chunk) + 1
    execution = (
        DATA_INITCODE_STATIC
        + G.copy_cost(runtime_bytes)
        + G.memory_cost(G.words(runtime_bytes))
        + G.code_deposit(runtime_bytes)
    )
    terms = (
        ("base", G.TX_BASE_COST),
        ("create", G.TX_CREATE_COST),
        ("calldata", G.calldata_cost(initcode)),
        ("initcode words", G.INITCODE_WORD_COST * G.words(len(initcode))),
        ("creation code", execution - G.code_deposit(runtime_bytes)),
        ("code deposit", G.code_deposit(runtime_bytes)),
    )
    total = G.transaction_gas(initcode, execution, create=True)
    return Estimate(total, terms)
