"""The two ways a proof fails, as the CLI's exit codes and the verifier contracts tell them apart, and
the one error for a name the registries do not hold."""

from __future__ import annotations

from collections.abc import Iterable


class MalformedProof(ValueError):
    """The input does not parse as a proof (exit code 2; on-chain: a revert)."""


class InvalidProof(ValueError):
    """The proof parses but does not prove the claim (exit code 1; on-chain: `false`)."""


class InvalidRoot(MalformedProof):
    """A root no verifier accepts (on-chain: the `InvalidRoot()` revert)."""


class UnknownName(KeyError, ValueError):
    """A scheme or verifier path this package does not have: the message lists the ones it has. A
    KeyError for the registries' lookups, a ValueError for everyone reporting bad input."""

    def __init__(self, kind: str, name: object, known: Iterable[str]) -> None:
        self.kind, self.name, self.known = kind, name, tuple(known)
        super().__init__(f"unknown {kind} {name!r} (known: {', '.join(self.known)})")

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError would quote it
