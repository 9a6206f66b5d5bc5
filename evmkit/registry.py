"""A read-only table of records by name: what ``evmkit.forks.FORKS``, ``verkle.schemes.SCHEMES`` and
``verkle.verifier_paths.PATHS`` are.

Looking up a name it lacks raises UnknownName, listing the names it has: the one error every command,
module and library call gives for an unknown fork, scheme or path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, Protocol, TypeVar

from .errors import EvmkitError

__all__ = ["Registry", "UnknownName"]


class UnknownName(EvmkitError, KeyError, ValueError):
    """A fork, scheme or verifier path this project does not have: the message lists the ones it has. A
    KeyError for the registries' lookups, a ValueError for everyone reporting bad input."""

    def __init__(self, kind: str, name: object, known: Iterable[str]) -> None:
        self.kind, self.name, self.known = kind, name, tuple(known)
        super().__init__(f"unknown {kind} {name!r} (known: {', '.join(self.known)})")

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError would quote it


class _Named(Protocol):
    name: str


R = TypeVar("R", bound=_Named)


class Registry(Mapping[str, R], Generic[R]):
    """Records by their `name`, in the order given; read-only."""

    def __init__(self, kind: str, records: Iterable[R], doc: str) -> None:
        self.kind = kind
        self._by_name = {r.name: r for r in records}
        self.__doc__ = doc

    def __getitem__(self, name: str) -> R:
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise UnknownName(self.kind, name, self._by_name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._by_name)})"
