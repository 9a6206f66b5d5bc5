"""Solidity side, pure: the verifier's source (rendered from a template) and proof calldata.

The BLS12-381 verifier takes points as the EIP-2537 precompiles want them (x || y, 48 bytes each,
padded to 64 in memory) except where 0x0a takes compressed points: the per-level openings and the
multiproof's final pi.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from py_arkworks_bls12381 import G1Point

from evmkit.resources import render

from .hashing import keccak256
from .kzg import KZG
from .proof import MULTI, SINGLE, ProofDocument
from .slots import KeyLayout

BLS_Q = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB


SELECTORS = {"BadLength": "BadLength()", "BadPathByte": "BadPathByte(uint256)",
             "KeysNotSorted": "KeysNotSorted(uint256)"}


class UnsupportedScheme(ValueError):
    pass


def _split48(value: int) -> tuple[str, str]:
    """A 48-byte number as the two 32-byte words of its 64-byte EIP-2537 encoding."""
    return hex(value >> 256), hex(value & (2**256 - 1))


def _words(data: bytes) -> list[str]:
    """Big-endian 48-byte field elements -> EIP-2537 words (hi 16 bytes, lo 32 bytes) each."""
    out = []
    for i in range(0, len(data), 48):
        out.extend(_split48(int.from_bytes(data[i:i + 48], "big")))
    return out


def verifier_name(scheme: KZG) -> str:
    return f"VerkleVerifierBLS{scheme.width}"


def render_verifier(scheme: KZG, name: Optional[str] = None) -> str:
    if scheme.name != "kzg-bls12-381":
        raise UnsupportedScheme(f"no Solidity verifier for {scheme.name} yet (kzg-bls12-381 only)")
    f = scheme.field
    lay = KeyLayout(scheme.width)
    omega = scheme.domain.omega
    powers = []
    for _ in range(lay.bits):
        powers.append(hex(omega))
        omega = omega * omega % f.modulus
    half_bits = lay.bits // 2
    w = scheme.domain.points
    tables = [w[j << half_bits] for j in range(2 ** (lay.bits - half_bits))] + [w[j] for j in range(2 ** half_bits)]
    q_hi, q_lo = _split48(BLS_Q)
    half_hi, half_lo = _split48((BLS_Q - 1) // 2)
    return render(
        "verkle/VerifierBLS.sol.j2",
        name=name or verifier_name(scheme),
        width=scheme.width, bits=lay.bits, levels=lay.levels, p=hex(f.modulus),
        q_hi=q_hi, q_lo=q_lo, half_hi=half_hi, half_lo=half_lo, omega_powers=powers,
        half_bits=half_bits, omega_tables="".join(x.to_bytes(32, "big").hex() for x in tables),
        p_minus_1=hex(f.modulus - 1), p_minus_2=hex(f.modulus - 2),
        selectors={name: "0x" + keccak256(sig.encode())[:4].hex() for name, sig in SELECTORS.items()},
        g1=_words(bytes(G1Point().to_xy_bytes_be())),
        g2=_words(bytes(scheme.curve.g2_generator().to_xy_bytes_be())),
        g2_tau=_words(bytes(scheme.setup.g2_tau.to_xy_bytes_be())),
    )


def xy(compressed: bytes) -> bytes:
    """48-byte compressed G1 -> 96-byte x || y (all zeros for the point at infinity)."""
    return bytes(G1Point.from_compressed_bytes_unchecked(compressed).to_xy_bytes_be())


@dataclass(frozen=True)
class MultiCall:
    keys: list[bytes]
    values: list[bytes]
    absent: bytes
    proof: bytes  # for verifyMulti (pi compressed)
    proof_pairing: bytes  # for verifyMultiPairing (pi as x || y)


def absent_bitmap(values: Sequence[Optional[bytes]]) -> bytes:
    bits = bytearray((len(values) + 7) // 8)
    for i, v in enumerate(values):
        if v is None:
            bits[i >> 3] |= 0x80 >> (i & 7)
    return bytes(bits)


def multi_call(doc: ProofDocument) -> MultiCall:
    proof = doc.proof
    if proof.type != MULTI:
        raise ValueError("a multiproof is needed for verifyMulti")
    body = proof.path_bytes() + b"".join(xy(c) for c in proof.commitments) + xy(proof.openings[0])
    return MultiCall(list(doc.keys), [v if v is not None else bytes(32) for v in doc.values],
                     absent_bitmap(doc.values), body + proof.openings[1], body + xy(proof.openings[1]))


def single_call(doc: ProofDocument) -> tuple[bytes, bytes, bool, bytes]:
    """(key, value, present, proof) for verifySingle: the proof's bytes after its 4-byte header."""
    if doc.proof.type != SINGLE:
        raise ValueError("a single proof is needed for verifySingle")
    value = doc.values[0]
    return doc.keys[0], value if value is not None else bytes(32), value is not None, doc.proof.to_bytes()[4:]
