"""keccak256, the hash the EVM computes cheaply, used for every hash in the tree and transcript."""

from __future__ import annotations

try:  # C implementation: about 0.8 us per short message, 8x faster than the fallback
    from sha3 import keccak_256 as _keccak

    def keccak256(data: bytes) -> bytes:
        return _keccak(data).digest()

except ImportError:  # pragma: no cover - only without safe-pysha3
    from Crypto.Hash import keccak as _pkeccak

    def keccak256(data: bytes) -> bytes:
        return _pkeccak.new(data=data, digest_bits=256).digest()
