"""Structured reference strings: the Lagrange basis [L_i(tau)]G1 over a width-W domain, and [tau]G2.

Sources, most trusted first:
- the Ethereum KZG ceremony (EIP-4844), shipped inside the py-evm wheel: BLS12-381, 4096 powers;
- a snarkjs / Perpetual Powers of Tau `.ptau` file: BN254;
- a setup generated here from a seed: anyone who knows the seed can forge proofs, so it exists
  for tests only and `insecure_dev_setup` refuses to run unless told `insecure=True`.
A width below the file's size gets its basis by an inverse FFT over the first W monomial points
[tau^j]G1: L_i(X) = (1/W) sum_j (w^-i X)^j, so [L_i(tau)] = (1/W) sum_j w^(-ij) [tau^j].
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from py_ecc import optimized_bn128 as bn

from .curves import BLS12_381, BN254, Curve, Point, bls_g2_decode
from .field import PrimeField

CEREMONY_SIZE = 4096
MIN_WIDTH, MAX_WIDTH = 16, 4096


class SetupError(ValueError):
    """A setup file that cannot be read or does not fit the requested width."""


@dataclass(frozen=True)
class Setup:
    curve: Curve
    width: int
    lagrange: tuple[Point, ...]
    g2_tau: Any
    source: str

    @property
    def field(self) -> PrimeField:
        return self.curve.field


def check_width(width: int) -> None:
    if width < MIN_WIDTH or width > MAX_WIDTH or width & (width - 1):
        raise SetupError(f"width must be a power of two from {MIN_WIDTH} to {MAX_WIDTH}, got {width}")


def group_fft(curve: Curve, points: Sequence[Point], omega: int) -> list[Point]:
    """out[i] = sum_j points[j] * omega^(i*j): a radix-2 FFT whose butterflies multiply points."""
    n = len(points)
    if n == 1:
        return [points[0]]
    p = curve.field.modulus
    even = group_fft(curve, points[0::2], omega * omega % p)
    odd = group_fft(curve, points[1::2], omega * omega % p)
    out: list[Point] = [None] * n
    twiddle = 1
    for i in range(n // 2):
        t = odd[i] if twiddle == 1 else curve.mul(odd[i], twiddle)
        out[i] = curve.add(even[i], t)
        out[i + n // 2] = curve.sub(even[i], t)
        twiddle = twiddle * omega % p
    return out


def lagrange_from_monomial(curve: Curve, monomial: Sequence[Point], width: int) -> tuple[Point, ...]:
    f = curve.field
    omega_inv = f.inv(f.root_of_unity(width))
    n_inv = f.inv(width)
    return tuple(curve.mul(q, n_inv) for q in group_fft(curve, list(monomial[:width]), omega_inv))


def ceremony_file() -> Path:
    """The EIP-4844 ceremony output as py-evm ships it (4096 G1 Lagrange, 65 G2, 4096 G1 monomial)."""
    path = resources.files("eth._utils") / "kzg_trusted_setup.txt"
    return Path(str(path))


@cache
def ceremony_setup(width: int = 256) -> Setup:
    check_width(width)
    lines = ceremony_file().read_text().split()
    n_g1, n_g2 = int(lines[0]), int(lines[1])
    if n_g1 != CEREMONY_SIZE or len(lines) != 2 + 2 * n_g1 + n_g2:
        raise SetupError(f"unexpected layout in {ceremony_file()}")
    g1_lagrange = lines[2 : 2 + n_g1]
    g2 = lines[2 + n_g1 : 2 + n_g1 + n_g2]
    g1_monomial = lines[2 + n_g1 + n_g2 :]
    g2_tau = bls_g2_decode(bytes.fromhex(g2[1]))
    if width == CEREMONY_SIZE:
        # py-evm's copy lists the basis in natural order (c-kzg bit-reverses it when loading,
        # to match EIP-4844's blob layout); a test checks this against c-kzg's commitments
        basis = tuple(BLS12_381.decode(bytes.fromhex(h)) for h in g1_lagrange)
    else:
        monomial = [BLS12_381.decode(bytes.fromhex(h)) for h in g1_monomial[:width]]
        basis = lagrange_from_monomial(BLS12_381, monomial, width)
    return Setup(BLS12_381, width, basis, g2_tau, "Ethereum KZG ceremony (EIP-4844)")


# ---------------------------------------------------------------- snarkjs .ptau (BN254)


def _read_sections(data: bytes) -> dict[int, bytes]:
    if data[:4] != b"ptau":
        raise SetupError("not a .ptau file (magic bytes 'ptau' missing)")
    (n_sections,) = struct.unpack_from("<I", data, 8)
    sections: dict[int, bytes] = {}
    offset = 12
    for _ in range(n_sections):
        if offset + 12 > len(data):
            raise SetupError(".ptau file truncated in its section table")
        kind, size = struct.unpack_from("<IQ", data, offset)
        offset += 12
        if offset + size > len(data):
            raise SetupError(f".ptau file truncated in section {kind}")
        sections[kind] = data[offset : offset + size]
        offset += size
    return sections


def load_ptau(path: str | Path, width: int) -> Setup:
    """Read tau powers from a snarkjs powers-of-tau file (coordinates little-endian, Montgomery form)."""
    check_width(width)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SetupError(f"cannot read {path}: {exc.strerror}") from None
    sections = _read_sections(data)
    if not {1, 2, 3} <= sections.keys():
        raise SetupError(".ptau file lacks its header, tauG1 or tauG2 section")
    header = sections[1]
    (n8,) = struct.unpack_from("<I", header, 0)
    q = int.from_bytes(header[4 : 4 + n8], "little")
    (power,) = struct.unpack_from("<I", header, 4 + n8)
    if q != bn.field_modulus:
        raise SetupError(".ptau file is not over BN254 (bn128)")
    if width > 2**power:
        raise SetupError(f".ptau file holds 2^{power} powers, width {width} needs more")
    r_inv = pow(2 ** (8 * n8), -1, q)

    def coord(chunk: bytes) -> int:
        return int.from_bytes(chunk, "little") * r_inv % q

    g1 = sections[2]
    monomial = []
    for i in range(width):
        raw = g1[2 * n8 * i : 2 * n8 * (i + 1)]
        point = (bn.FQ(coord(raw[:n8])), bn.FQ(coord(raw[n8:])), bn.FQ.one())
        if not bn.is_on_curve(point, bn.b):
            raise SetupError(f".ptau tauG1[{i}] is not on the BN254 curve")
        monomial.append(point)
    raw = sections[3][4 * n8 : 8 * n8]  # tauG2[1] = [tau]G2 as x.c0, x.c1, y.c0, y.c1
    xs = [coord(raw[k * n8 : (k + 1) * n8]) for k in range(4)]
    g2_tau = (bn.FQ2([xs[0], xs[1]]), bn.FQ2([xs[2], xs[3]]), bn.FQ2.one())
    if not bn.is_on_curve(g2_tau, bn.b2):
        raise SetupError(".ptau tauG2[1] is not on the BN254 twist")
    if monomial[0] != bn.G1 and bn.normalize(monomial[0]) != bn.normalize(bn.G1):
        raise SetupError(".ptau tauG1[0] is not the BN254 generator")
    # the file must be self-consistent: e(tau G1, G2) == e(G1, tau G2)
    if not BN254.pairing_check([(monomial[1], bn.G2), (bn.neg(bn.G1), g2_tau)]):
        raise SetupError(".ptau tauG1[1] and tauG2[1] disagree: not a powers-of-tau file")
    basis = lagrange_from_monomial(BN254, monomial, width)
    return Setup(BN254, width, basis, g2_tau, f"powers of tau file {Path(path).name}")


def insecure_dev_setup(
    curve: Curve, width: int, seed: bytes = b"verkle-dev", *, insecure: bool = False
) -> Setup:
    """A setup from a known tau: proofs under it can be forged by anyone with the seed."""
    if not insecure:
        raise SetupError("refusing an insecure setup without insecure=True (--insecure-dev-setup)")
    check_width(width)
    f = curve.field
    p = f.modulus
    tau = f.hash_to_nonzero(b"insecure-dev-setup" + seed)
    omega = f.root_of_unity(width)
    # L_i(tau) = (tau^W - 1) / W * w^i / (tau - w^i)
    scale = (pow(tau, width, p) - 1) * f.inv(width) % p
    points = [pow(omega, i, p) for i in range(width)]
    inverses = f.batch_inv([tau - x for x in points])
    g = curve.generator()
    basis = tuple(curve.mul(g, scale * x % p * inv % p) for x, inv in zip(points, inverses))
    g2 = curve.g2_generator()
    g2_tau = bn.multiply(g2, tau) if curve is BN254 else g2 * _bls_scalar(tau)
    return Setup(curve, width, basis, g2_tau, "INSECURE development setup (known tau)")


def _bls_scalar(k: int) -> Any:
    from py_arkworks_bls12381 import Scalar

    return Scalar.from_le_bytes(k.to_bytes(32, "little"))
