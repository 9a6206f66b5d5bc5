"""Two pairing-friendly curves behind one small API (the py_ecc style: plain operations on points).

`BLS12_381` runs on py-arkworks-bls12381 (Rust): a G1 multiply in ~0.15 ms, a 256-term MSM in ~6 ms.
`BN254` runs on py_ecc (pure Python, ~6 ms per multiply): fine for the narrow trees BN254 verifiers
are for, slow for big ones. Encodings are the ones the EVM reads: BLS12-381 G1 compressed (48 bytes,
ZCash format, as the 0x0a precompile takes it), BN254 G1 uncompressed x || y (64 bytes, as 0x06-0x08).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar
from py_ecc import optimized_bn128 as bn

from .field import BLS12_381_FR, BN254_FR, PrimeField

Point = Any  # an opaque group element of whichever curve


class InvalidPoint(ValueError):
    """Bytes that are not the canonical encoding of a point in the prime-order subgroup."""


@dataclass(frozen=True)
class Curve:
    name: str
    field: PrimeField
    point_size: int
    identity: Callable[[], Point]
    generator: Callable[[], Point]
    add: Callable[[Point, Point], Point]
    neg: Callable[[Point], Point]
    mul: Callable[[Point, int], Point]
    msm: Callable[[Sequence[Point], Sequence[int]], Point]
    encode: Callable[[Point], bytes]
    decode: Callable[[bytes], Point]
    # pairing_check(pairs): prod e(P_i, Q_i) == 1 for G1 points P_i and G2 points Q_i
    pairing_check: Callable[[Sequence[tuple[Point, Any]]], bool]
    g2_generator: Callable[[], Any]

    def sub(self, a: Point, b: Point) -> Point:
        return self.add(a, self.neg(b))

    def eq(self, a: Point, b: Point) -> bool:
        return self.encode(a) == self.encode(b)


# ---------------------------------------------------------------- BLS12-381 (arkworks)


def _scalar(k: int) -> Scalar:
    return Scalar.from_le_bytes((k % BLS12_381_FR.modulus).to_bytes(32, "little"))


def _bls_msm(points: Sequence[Point], scalars: Sequence[int]) -> Point:
    if not points:
        return G1Point.identity()
    if len(points) == 1:
        return points[0] * _scalar(scalars[0])
    return G1Point.multiexp_unchecked(list(points), [_scalar(k) for k in scalars])


BLS12_381_Q = (
    0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
)
_BLS_INFINITY = bytes([0xC0]) + bytes(47)


def _bls_decode(data: bytes) -> Point:
    if len(data) != 48:
        raise InvalidPoint(f"a BLS12-381 G1 point is 48 bytes compressed, got {len(data)}")
    if data[0] & 0x40 and bytes(data) != _BLS_INFINITY:  # arkworks would accept junk after the flag
        raise InvalidPoint("non-canonical encoding of the BLS12-381 point at infinity")
    try:  # checks the flags, x < q, that x is on the curve and the point in the r-order subgroup
        return G1Point.from_compressed_bytes(bytes(data))
    except Exception:  # noqa: BLE001 - arkworks raises bare exceptions in its own words: say why in ours
        raise InvalidPoint(_bls_compressed_fault(bytes(data))) from None


def _bls_on_curve_x(x: int) -> bool:
    """Is x^3 + 4 a square mod q (some y puts (x, y) on y^2 = x^3 + 4)?"""
    rhs = (x**3 + 4) % BLS12_381_Q
    return rhs == 0 or pow(rhs, (BLS12_381_Q - 1) // 2, BLS12_381_Q) == 1


def _bls_compressed_fault(data: bytes) -> str:
    """Why arkworks refused a 48-byte compressed point (called only after it did)."""
    if not data[0] & 0x80:
        return "not a compressed BLS12-381 G1 point (the compression flag is not set)"
    x = int.from_bytes(data, "big") & ((1 << 381) - 1)
    if x >= BLS12_381_Q:
        return "BLS12-381 x coordinate not below the field modulus"
    if not _bls_on_curve_x(x):
        return "point is not on the BLS12-381 curve"
    return "point is not in the BLS12-381 G1 prime-order subgroup"


def bls_compress_xy(data: bytes) -> bytes:
    """An EIP-2537 G1 point (96 bytes x || y, all zeros for infinity) as the 48-byte compressed encoding,
    refusing what the precompiles refuse: coordinates >= q, points off the curve or outside the subgroup."""
    if len(data) != 96:
        raise InvalidPoint(f"a BLS12-381 G1 point is 96 bytes x || y, got {len(data)}")
    x, y = int.from_bytes(data[:48], "big"), int.from_bytes(data[48:], "big")
    if x >= BLS12_381_Q or y >= BLS12_381_Q:
        raise InvalidPoint("BLS12-381 coordinate not below the field modulus")
    if x == 0 and y == 0:
        return _BLS_INFINITY
    if (y * y - x**3 - 4) % BLS12_381_Q:
        raise InvalidPoint("point is not on the BLS12-381 curve")
    sign = 0x20 if y > (BLS12_381_Q - 1) // 2 else 0
    compressed = bytes([data[0] | 0x80 | sign]) + bytes(data[1:48])
    _bls_decode(compressed)  # the subgroup check
    return compressed


def _bls_pairing_check(pairs: Sequence[tuple[Point, Any]]) -> bool:
    return bool(GT.pairing_check([p for p, _ in pairs], [q for _, q in pairs]))


BLS12_381 = Curve(
    name="bls12-381",
    field=BLS12_381_FR,
    point_size=48,
    identity=G1Point.identity,
    generator=G1Point,
    add=lambda a, b: a + b,
    neg=lambda a: -a,
    mul=lambda p, k: p * _scalar(k),
    msm=_bls_msm,
    encode=lambda p: bytes(p.to_compressed_bytes()),
    decode=_bls_decode,
    pairing_check=_bls_pairing_check,
    g2_generator=G2Point,
)


def bls_g2_decode(data: bytes) -> Any:
    return G2Point.from_compressed_bytes(bytes(data))


# ---------------------------------------------------------------- BN254 (py_ecc)

BN254_Q = bn.field_modulus


def _bn_encode(p: Point) -> bytes:
    if bn.is_inf(p):
        return bytes(64)
    x, y = bn.normalize(p)
    return int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def _bn_decode(data: bytes) -> Point:
    if len(data) != 64:
        raise InvalidPoint(f"a BN254 G1 point is 64 bytes (x || y), got {len(data)}")
    x, y = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big")
    if x >= BN254_Q or y >= BN254_Q:
        raise InvalidPoint("BN254 coordinate not below the field modulus")
    if x == 0 and y == 0:
        return bn.Z1
    point = (bn.FQ(x), bn.FQ(y), bn.FQ.one())
    if not bn.is_on_curve(point, bn.b):  # G1 of BN254 has cofactor 1: on the curve = in the group
        raise InvalidPoint("point is not on the BN254 curve")
    return point


def _bn_msm(points: Sequence[Point], scalars: Sequence[int]) -> Point:
    acc = bn.Z1
    for p, k in zip(points, scalars):
        k %= BN254_FR.modulus
        if k:
            acc = bn.add(acc, bn.multiply(p, k))
    return acc


def _bn_pairing_check(pairs: Sequence[tuple[Point, Any]]) -> bool:
    acc = bn.FQ12.one()
    for p, q in pairs:
        if bn.is_inf(p) or bn.is_inf(q):
            continue
        acc = acc * bn.pairing(q, p, final_exponentiate=False)
    return bn.final_exponentiate(acc) == bn.FQ12.one()


BN254 = Curve(
    name="bn254",
    field=BN254_FR,
    point_size=64,
    identity=lambda: bn.Z1,
    generator=lambda: bn.G1,
    add=bn.add,
    neg=bn.neg,
    mul=lambda p, k: bn.multiply(p, k % BN254_FR.modulus),
    msm=_bn_msm,
    encode=_bn_encode,
    decode=_bn_decode,
    pairing_check=_bn_pairing_check,
    g2_generator=lambda: bn.G2,
)
