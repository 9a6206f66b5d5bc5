"""What one slot of an internal node commits to, as a field element; and where a key goes.

A slot holds nothing (0), a leaf, or a child node:
    leaf  (key, value)  ->  H(0x01 || key || keccak256(value))
    child node C        ->  H(0x00 || encode(C))
with H = keccak256 mapped into [1, p-1], so no value, however chosen, reads as an empty slot, and a
leaf can never pass for a node (different prefixes of the hashed message). A non-membership proof
that ends at another key's leaf reveals that key and the keccak of its value, not the value.

A key is split into levels of log2(W) bits, most significant first (the last level zero-padded),
so sibling keys share the prefix of their node as they would in a byte-wise trie at W = 256.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .field import PrimeField
from .hashing import keccak256

KEY_SIZE = 32
VALUE_SIZE = 32
LEAF_TAG = b"\x01"
NODE_TAG = b"\x00"


def check_key(key: bytes) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_SIZE:
        raise ValueError(f"a key is {KEY_SIZE} bytes, got {_describe(key)}")
    return bytes(key)


def check_value(value: bytes) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != VALUE_SIZE:
        raise ValueError(f"a value is {VALUE_SIZE} bytes, got {_describe(value)}")
    return bytes(value)


def _describe(x: object) -> str:
    return f"{len(x)} bytes" if isinstance(x, (bytes, bytearray)) else type(x).__name__


def leaf_field(field: PrimeField, key: bytes, value_hash: bytes) -> int:
    return field.hash_to_nonzero(LEAF_TAG + key + value_hash)


def value_hash(value: bytes) -> bytes:
    return keccak256(value)


def node_field(field: PrimeField, encoded_commitment: bytes) -> int:
    return field.hash_to_nonzero(NODE_TAG + encoded_commitment)


@dataclass(frozen=True)
class KeyLayout:
    """How a width-W tree cuts 256-bit keys into per-level slot indices."""

    width: int

    # cached: index() and padded() run for every key of every walk
    @cached_property
    def bits(self) -> int:
        return self.width.bit_length() - 1

    @cached_property
    def levels(self) -> int:
        return -(-8 * KEY_SIZE // self.bits)

    @cached_property
    def pad(self) -> int:
        return self.levels * self.bits - 8 * KEY_SIZE

    def padded(self, key: bytes) -> int:
        return int.from_bytes(key, "big") << self.pad

    def index(self, padded_key: int, depth: int) -> int:
        return (padded_key >> ((self.levels - 1 - depth) * self.bits)) & (self.width - 1)

    def indices(self, key: bytes, depth: int) -> list[int]:
        k = self.padded(key)
        return [self.index(k, d) for d in range(depth)]

    def key_bound(self, depth: int, prefix: int) -> int:
        """The smallest key (as an integer; may be 2**256) whose first `depth` indices are `prefix`:
        the keys under a node are [key_bound(d, p), key_bound(d, p + 1))."""
        padded = prefix << ((self.levels - depth) * self.bits)
        return -(-padded >> self.pad)  # ceil: padding bits are zero in every key

    def prefix(self, padded_key: int, depth: int) -> int:
        """The first `depth` indices packed into one integer: it names the node at that depth."""
        return padded_key >> ((self.levels - depth) * self.bits)
