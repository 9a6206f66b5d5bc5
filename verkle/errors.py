"""The two ways a proof fails, as the CLI's exit codes and the verifier contracts tell them apart, and
the one error for a name the registries do not hold."""

from __future__ import annotations

from evmkit.registry import UnknownName


class MalformedProof(ValueError):
    """The input does not parse as a proof (exit code 2; on-chain: a revert)."""


class InvalidProof(ValueError):
    """The proof parses but does not prove the claim (exit code 1; on-chain: `false`)."""


class InvalidRoot(MalformedProof):
    """A root no verifier accepts (on-chain: the `InvalidRoot()` revert)."""


__all__ = ["InvalidProof", "InvalidRoot", "MalformedProof", "UnknownName"]
