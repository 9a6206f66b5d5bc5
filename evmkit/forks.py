"""The Ethereum rule sets ("forks") this project compiles for, runs, prices and checks nodes against.

One record per fork holds every fact that differs between them, so that the compiler settings, the
embedded chain, the gas schedule, the transaction cap and the check of a node's rules all read the
same facts. Adding the next fork (Amsterdam) means adding one :class:`Fork` record to :data:`FORKS`
(and, for the embedded chain, a py-evm VM class that runs its rules).

    fork = get_fork("osaka")       # or a Fork; None gives DEFAULT_FORK
    fork.evm_version               # solc's evmVersion
    fork.tx_gas_cap                # EIP-7825: 2**24 under Osaka, None before
    fork.modexp_gas(32, e, 32, 32) # the MODEXP precompile's price under this fork

Pure: no chain, no compiler (the probes are bytes; :func:`evmkit.chain.detect_fork` runs them).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .gas import modexp_gas, modexp_gas_eip7883
from .registry import Registry

TX_GAS_CAP_EIP7825 = 2**24
"""EIP-7825 (Osaka): no transaction may ask for more gas than this, whatever the block holds."""


@dataclass(frozen=True)
class Fork:
    """One rule set. ``probe`` is init code whose eth_call returns ``probe_answer`` (one 32-byte word)
    on a node that runs this fork's rules or newer ones, and anything else (or an error) before it."""

    name: str
    title: str  # for people: the upgrade's names and its mainnet date
    evm_version: str  # solc's evmVersion
    anvil_hardfork: str  # anvil --hardfork
    pyevm_vm: str  # "module:Class" of the py-evm VM that runs these rules in-process
    tx_gas_cap: int | None  # EIP-7825
    calldata_floor: bool  # EIP-7623's floor price for calldata
    modexp_pricing: str  # "EIP-2565" or "EIP-7883"
    clz: bool  # EIP-7939's CLZ opcode
    probe: bytes
    probe_answer: int
    probe_what: str  # what the probe finds, for the mismatch message

    def modexp_gas(self, base_len: int, exp: int, exp_len: int, mod_len: int) -> int:
        """The MODEXP precompile's price under this fork (exponents of at most 32 bytes)."""
        price = modexp_gas_eip7883 if self.modexp_pricing == "EIP-7883" else modexp_gas
        return price(base_len, exp, exp_len, mod_len)

    @property
    def order(self) -> int:
        """This fork's place in :data:`FORKS`, oldest first: a later fork's rules include an earlier's."""
        return list(FORKS).index(self.name)

    def vm_class(self) -> Any:
        """The py-evm VM class that runs these rules (imported on first use: py-evm is heavy)."""
        module, _, name = self.pyevm_vm.partition(":")
        return getattr(importlib.import_module(module), name)

    def gas_cap(self, block_gas_limit: int) -> int:
        """The most gas one transaction may use under this fork in a block of ``block_gas_limit``."""
        return block_gas_limit if self.tx_gas_cap is None else min(self.tx_gas_cap, block_gas_limit)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "evm_version": self.evm_version, "tx_gas_cap": self.tx_gas_cap}


# PUSH1 1 PUSH0 TSTORE PUSH0 TLOAD PUSH0 MSTORE PUSH1 32 PUSH0 RETURN: 1 (EIP-1153); invalid before Cancun.
_CANCUN_PROBE = bytes.fromhex("60015f5d5f5c5f5260205ff3")
# PUSH0 PUSH0 PUSH0 PUSH0 PUSH1 0x0b GAS STATICCALL PUSH0 MSTORE PUSH1 32 PUSH0 RETURN: a call with no input
# to EIP-2537's G1ADD fails where the precompile exists (0) and "succeeds" on an empty account (1).
_PRAGUE_PROBE = bytes.fromhex("5f5f5f5f600b5afa5f5260205ff3")
# PUSH1 1 CLZ PUSH0 MSTORE PUSH1 32 PUSH0 RETURN: 255 under EIP-7939; an invalid opcode before Osaka.
_OSAKA_PROBE = bytes.fromhex("60011e5f5260205ff3")

FORKS: Registry[Fork] = Registry(
    "fork",
    (
        # Cancun is here for the chains (many L2s) without Prague's EIP-2537: BN254 Verkle verifiers and
        # ml2sc contracts run there; the schedule differs from Prague's by EIP-7623's calldata floor.
        Fork(
            "cancun",
            "Cancun (Dencun, mainnet March 2024)",
            "cancun",
            "cancun",
            "eth.vm.forks.cancun:CancunVM",
            None,
            False,
            "EIP-2565",
            False,
            _CANCUN_PROBE,
            1,
            "EIP-1153's transient storage",
        ),
        Fork(
            "prague",
            "Prague (Pectra, mainnet May 2025)",
            "prague",
            "prague",
            "eth.vm.forks.prague:PragueVM",
            None,
            True,
            "EIP-2565",
            False,
            _PRAGUE_PROBE,
            0,
            "EIP-2537's BLS12-381 precompiles",
        ),
        Fork(
            "osaka",
            "Osaka (Fusaka, mainnet December 2025)",
            "osaka",
            "osaka",
            "evmkit.pyevm_osaka:OsakaVM",
            TX_GAS_CAP_EIP7825,
            True,
            "EIP-7883",
            True,
            _OSAKA_PROBE,
            255,
            "EIP-7939's CLZ opcode",
        ),
    ),
    "The forks by name, oldest first.",
)
DEFAULT_FORK = "osaka"
"""Mainnet's rules today: what every command and library call uses unless told otherwise."""


def get_fork(fork: str | Fork | None = None) -> Fork:
    """A fork by name (or the record itself); None is :data:`DEFAULT_FORK`. An unknown name raises
    :class:`~evmkit.registry.UnknownName`, listing the known ones."""
    if isinstance(fork, Fork):
        return fork
    return FORKS[DEFAULT_FORK if fork is None else fork]


def fork_names() -> list[str]:
    """The known forks' names, oldest first (argparse choices)."""
    return list(FORKS)
