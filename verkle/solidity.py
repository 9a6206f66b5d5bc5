"""Solidity side, pure: the verifier's source (rendered from a template) and proof calldata.

The BLS12-381 verifier takes points as the EIP-2537 precompiles want them (x || y, 48 bytes each,
padded to 64 in memory) except where 0x0a takes compressed points: the per-level openings and the
multiproof's final pi.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from py_arkworks_bls12381 import G1Point
from py_ecc import optimized_bn128 as bn

from evmkit import precompiles as pc
from evmkit.resources import render

from .hashing import keccak256
from .kzg import KZG
from .proof import MULTI, SINGLE, ProofDocument
from .slots import KeyLayout

BLS_Q = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB


SELECTORS = {"BadLength": "BadLength()", "BadPathByte": "BadPathByte(uint256)",
             "KeysNotSorted": "KeysNotSorted(uint256)", "NonCanonicalValue": "NonCanonicalValue(uint256)",
             "NonCanonicalEncoding": "NonCanonicalEncoding()",
             "PrecompileUnavailable": "PrecompileUnavailable(address)",
             "PrecompileOutOfGas": "PrecompileOutOfGas(address)"}

# gas a checked precompile call must have left beyond the price it forwards (and 1/63 of it, which
# EIP-150 keeps back): the CALL's own 100 gas, a little stack work and any memory expansion
CALL_RESERVE_GAS = 1_000


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
    return f"VerkleVerifier{'BLS' if scheme.name == 'kzg-bls12-381' else 'BN254'}W{scheme.width}"


def _common(scheme: KZG) -> dict[str, object]:
    """Template values both curves share: field, key layout, w^index tables, error selectors."""
    f = scheme.field
    lay = KeyLayout(scheme.width)
    half_bits = lay.bits // 2
    w = scheme.domain.points
    tables = [w[j << half_bits] for j in range(2 ** (lay.bits - half_bits))] + [w[j] for j in range(2 ** half_bits)]
    return dict(
        width=scheme.width, bits=lay.bits, levels=lay.levels, p=hex(f.modulus),
        p_minus_1=hex(f.modulus - 1), p_minus_2=hex(f.modulus - 2), half_bits=half_bits,
        omega_tables="".join(x.to_bytes(32, "big").hex() for x in tables),
        ctx_base=multiproof_memory_base(scheme.width), state_bytes=WALK_STATE_BYTES,
        selectors={name: "0x" + keccak256(sig.encode())[:4].hex() for name, sig in SELECTORS.items()},
        call_reserve=CALL_RESERVE_GAS, blob_size=pc.FIELD_ELEMENTS_PER_BLOB,
        probes=[dict(address=hex(p.address), gas=p.gas, input=p.probe_input.hex(), output=p.probe_output.hex(),
                     label=p.label) for p in map(pc.registry().get, pc.SCHEME_PRECOMPILES[scheme.name])],
        gas=dict(POINT_EVALUATION=pc.POINT_EVALUATION_PRECOMPILE_GAS, SHA256=pc.sha256_gas(48),
                 MODEXP=pc.MODEXP_32_GAS_BOUND, G1ADD=pc.BLS12_G1ADD_GAS, G1MSM_PER_POINT=pc.BLS12_G1MSM_MUL_GAS,
                 BLS_PAIRING_2=pc.bls_pairing_gas(2), ECADD=pc.ECADD_GAS, ECMUL=pc.ECMUL_GAS,
                 BN_PAIRING_2=pc.bn_pairing_gas(2)),
        msm_discount_words=_packed_discounts(), msm_discount_last=len(pc.G1MSM_DISCOUNTS) - 1,
    )


def _packed_discounts() -> list[str]:
    """EIP-2537's G1MSM discount table as words of 25 ten-bit entries (the verifier prices its MSMs)."""
    table = pc.G1MSM_DISCOUNTS
    return [hex(sum(d << (10 * j) for j, d in enumerate(table[i:i + 25]))) for i in range(0, len(table), 25)]


def table_bytes(width: int) -> int:
    """Bytes of the two w^index tables a verifier of this width carries (and copies to memory)."""
    bits = KeyLayout(width).bits
    return 32 * (2 ** (bits - bits // 2) + 2 ** (bits // 2))


# the multiproof walk's fixed layout from its base: 512 bytes of scratch, 512 of inputs, 12 state words;
# the previous path's node ids follow (multiproof_core.yul.j2 and gasmodel.memory_words both use it)
WALK_STATE_BYTES = 1408


def multiproof_memory_base(width: int) -> int:
    """Where the multiproof walk's fixed memory layout starts: above Solidity's scratch and zero slot,
    1 KiB for values the optimizer may move to memory, the returned point and the copied w^index
    tables (the verifier reverts if Solidity's free memory pointer is ever past it)."""
    return -(-(0x80 + 0x400 + 0x80 + 0x20 + table_bytes(width)) // 32) * 32


def _bn_g2_words(point: object) -> list[str]:
    """EIP-197 order: x imaginary, x real, y imaginary, y real."""
    x, y = bn.normalize(point)
    return [hex(int(c)) for c in (x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0])]


def render_verifier(scheme: KZG, name: Optional[str] = None) -> str:
    name = name or verifier_name(scheme)
    if scheme.name == "kzg-bn254":
        return render("verkle", "VerifierBN254.sol.j2", name=name, curve="bn", q=hex(bn.field_modulus),
                      g2=_bn_g2_words(bn.G2), g2_tau=_bn_g2_words(scheme.setup.g2_tau),
                      term=96, scalar_at=64, pt=64, header_len=88, extra_terms="4", **_common(scheme))
    common = _common(scheme)
    q_hi, q_lo = _split48(BLS_Q)
    half_hi, half_lo = _split48((BLS_Q - 1) // 2)
    return render(
        "verkle", "VerifierBLS.sol.j2", name=name, curve="bls",
        q_hi=q_hi, q_lo=q_lo, half_hi=half_hi, half_lo=half_lo,
        g1=_words(bytes(G1Point().to_xy_bytes_be())),
        g2=_words(bytes(scheme.curve.g2_generator().to_xy_bytes_be())),
        g2_tau=_words(bytes(scheme.setup.g2_tau.to_xy_bytes_be())),
        term=160, scalar_at=128, pt=96, header_len=72, extra_terms=f"add(1, mul(mload({common['ctx_base'] + 704}), 3))",
        **common,
    )


def xy(encoded: bytes) -> bytes:
    """A commitment as the verifier stores it: BLS12-381 48-byte compressed -> 96-byte x || y (zeros for
    the point at infinity); BN254 64-byte x || y as it is."""
    if len(encoded) == 64:
        return encoded
    return bytes(G1Point.from_compressed_bytes_unchecked(encoded).to_xy_bytes_be())


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
    values = [v if v is not None else bytes(32) for v in doc.values]
    if proof.scheme == "kzg-bn254":  # points are x || y already
        body = proof.path_bytes() + b"".join(proof.commitments) + proof.openings[0] + proof.openings[1]
        return MultiCall(list(doc.keys), values, absent_bitmap(doc.values), body, body)
    body = proof.path_bytes() + b"".join(xy(c) for c in proof.commitments) + xy(proof.openings[0])
    return MultiCall(list(doc.keys), values, absent_bitmap(doc.values), body + proof.openings[1],
                     body + xy(proof.openings[1]))


def single_call(doc: ProofDocument) -> tuple[bytes, bytes, bool, bytes]:
    """(key, value, present, proof) for verifySingle: the proof's bytes after its 4-byte header."""
    if doc.proof.type != SINGLE:
        raise ValueError("a single proof is needed for verifySingle")
    value = doc.values[0]
    return doc.keys[0], value if value is not None else bytes(32), value is not None, doc.proof.to_bytes()[4:]
