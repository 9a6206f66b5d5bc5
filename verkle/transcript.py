"""Fiat-Shamir transcript: challenges are keccak256 of everything absorbed so far, reduced mod p.

Every item absorbed has a fixed length given by its position, so the byte stream parses one way
only; the domain label opens it. After a challenge the state restarts from the challenge's digest,
so a later challenge depends on every earlier item too. A Solidity verifier recomputes it with one
keccak256 over a memory buffer per challenge.
"""

from __future__ import annotations

from .field import PrimeField
from .hashing import keccak256


class Transcript:
    def __init__(self, field: PrimeField, domain_label: bytes) -> None:
        self.field = field
        self._buf = bytearray(domain_label)

    def absorb(self, data: bytes) -> None:
        self._buf += data

    def absorb_u16(self, value: int) -> None:
        self._buf += value.to_bytes(2, "big")

    def absorb_scalar(self, value: int) -> None:
        self._buf += value.to_bytes(32, "big")

    def challenge(self) -> int:
        digest = keccak256(bytes(self._buf))
        self._buf = bytearray(digest)
        return int.from_bytes(digest, "big") % self.field.modulus
