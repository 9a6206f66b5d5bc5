"""The registry type of :mod:`verkle.schemes` and :mod:`verkle.verifier_paths` (it lives in evmkit,
which the fork registry shares)."""

from evmkit.registry import Registry

__all__ = ["Registry"]
