"""Prime-field arithmetic for the two scalar fields the tree commits over.

Python integers are the field elements: arithmetic is `%`-reduced by the caller where it matters,
which keeps the hot loops in the tree and the multiproof free of wrapper objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .hashing import keccak256


@dataclass(frozen=True)
class PrimeField:
    """A scalar field with a 2-adic multiplicative subgroup (evaluation domains of size 2^k)."""

    name: str
    modulus: int
    generator: int  # a multiplicative generator; its (p-1)/2^k-th power has order 2^k
    two_adicity: int

    def inv(self, a: int) -> int:
        a %= self.modulus
        if a == 0:
            raise ZeroDivisionError("inverse of zero in " + self.name)
        return pow(a, -1, self.modulus)

    def batch_inv(self, values: list[int]) -> list[int]:
        """Montgomery's trick: n inversions for the price of one and 3(n-1) multiplications."""
        p = self.modulus
        prefix = [1] * (len(values) + 1)
        acc = 1
        for i, v in enumerate(values):
            if v % p == 0:
                raise ZeroDivisionError("inverse of zero in " + self.name)
            acc = acc * v % p
            prefix[i + 1] = acc
        inv = pow(acc, -1, p)
        out = [0] * len(values)
        for i in range(len(values) - 1, -1, -1):
            out[i] = prefix[i] * inv % p
            inv = inv * values[i] % p
        return out

    def root_of_unity(self, order: int) -> int:
        """A primitive `order`-th root of unity, `order` a power of two."""
        if order < 1 or order & (order - 1) or order.bit_length() - 1 > self.two_adicity:
            raise ValueError(f"{self.name} has no evaluation domain of size {order}")
        return pow(self.generator, (self.modulus - 1) // order, self.modulus)

    def to_bytes(self, a: int) -> bytes:
        """32-byte big-endian encoding (what the EVM and the 0x0a precompile read)."""
        return a.to_bytes(32, "big")

    def from_bytes(self, data: bytes) -> int:
        """Strict decoding: 32 bytes, canonical (< modulus). Non-canonical encodings would make
        two byte strings mean the same element, so a proof could be altered and still verify."""
        if len(data) != 32:
            raise ValueError(f"a field element is 32 bytes, got {len(data)}")
        value = int.from_bytes(data, "big")
        if value >= self.modulus:
            raise ValueError("non-canonical field element (>= modulus)")
        return value

    def hash_to_nonzero(self, data: bytes) -> int:
        """keccak256(data) mapped into [1, p-1]: never the zero that marks an empty slot."""
        return int.from_bytes(keccak256(data), "big") % (self.modulus - 1) + 1


BLS12_381_FR = PrimeField(
    name="BLS12-381 Fr",
    modulus=0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001,
    generator=7,  # EIP-4844's PRIMITIVE_ROOT_OF_UNITY
    two_adicity=32,
)

BN254_FR = PrimeField(
    name="BN254 Fr",
    modulus=21888242871839275222246405745257275088548364400416034343698204186575808495617,
    generator=5,
    two_adicity=28,
)


@dataclass(frozen=True)
class Domain:
    """The evaluation domain {w^0, ..., w^(n-1)} with the tables the quotient formulas need."""

    field: PrimeField
    size: int
    points: tuple[int, ...]
    # inv_minus_one[k] = 1 / (w^k - 1) for k = 1..n-1 (0 at k = 0): 1/(w^j - w^m) = w^-m * inv_minus_one[j-m]
    inv_minus_one: tuple[int, ...]

    @property
    def omega(self) -> int:
        return self.points[1] if self.size > 1 else 1


@cache
def domain(field: PrimeField, size: int) -> Domain:
    p = field.modulus
    w = field.root_of_unity(size)
    points = [1] * size
    for i in range(1, size):
        points[i] = points[i - 1] * w % p
    inv = [0] + field.batch_inv([x - 1 for x in points[1:]]) if size > 1 else [0]
    return Domain(field, size, tuple(points), tuple(inv))
