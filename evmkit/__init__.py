"""Shared chain work: Solidity compilation, chain sessions, gas schedule, and packaged templates.

    from evmkit import chain, compile_sources
    session = chain.embedded()                       # or chain.rpc(url, key=...)
    artifact = compile_sources({"A.sol": source}, "A")
    contract, receipt = session.deploy(artifact)

Names resolve on first use, so ``import evmkit.gas`` (pure arithmetic) never loads web3.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "ChainSession": "chain",
    "TxResult": "chain",
    "embedded": "chain",
    "rpc": "chain",
    "rpc_reader": "chain",
    "Compiler": "solc",
    "Artifact": "solc",
    "compile_sources": "solc",
    "resolve_compiler": "solc",
    "start_anvil": "anvil",
    "Estimate": "gas",
    "EvmkitError": "errors",
    "CompilerNotFound": "errors",
    "CompilerError": "errors",
    "ChainError": "errors",
    "TransactionReverted": "errors",
    "MissingKey": "errors",
}
_MODULES = ("chain", "solc", "gas")

__all__ = [*_MODULES, *_NAMES]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
