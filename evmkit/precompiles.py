"""The precompiles generated contracts call: address, EIP, the gas a call forwards, and a known answer.

One record per precompile, so the template that calls it, the constructor probe that refuses a chain
without it, and the command-line check that names it all read the same facts. A call to an address
with no code "succeeds" with no output, so nothing may treat a successful staticcall as a verified
check: every caller compares the returned length and words, and forwards `gas`, never `gas()`.

The known answers are small inputs with checkable outputs, computed here with the same libraries the
off-chain verifier uses. The pairing probes pair the point at infinity with the G2 generator (product 1):
a real pairing of two points costs seconds on py-evm's pure-Python curves, and an absent precompile
answers nothing either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_utils import to_checksum_address
from py_arkworks_bls12381 import G1Point, G2Point
from py_ecc import optimized_bn128 as bn

from .gas import (  # noqa: F401  (prices re-exported: the registry's records use them)
    BLS12_G1ADD_GAS,
    BLS12_G1MSM_MUL_GAS,
    BLS12_PAIRING_BASE_GAS,
    BLS12_PAIRING_PER_PAIR_GAS,
    ECADD_GAS,
    ECMUL_GAS,
    ECPAIRING_BASE_GAS,
    ECPAIRING_PER_PAIR_GAS,
    G1MSM_DISCOUNTS,
    MODEXP_32_GAS_BOUND,
    POINT_EVALUATION_PRECOMPILE_GAS,
    SHA256_BASE_GAS,
    SHA256_WORD_GAS,
    bls_pairing_gas,
    bn_pairing_gas,
    g1msm_gas,
    modexp_gas,
    sha256_gas,
)

BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
BN254_R = bn.curve_order
FIELD_ELEMENTS_PER_BLOB = 4096


@dataclass(frozen=True)
class Precompile:
    address: int
    name: str
    eip: str
    gas: int  # what a probe call forwards (the schedule price of `probe_input`, or a bound above it)
    probe_input: bytes
    probe_output: bytes

    @property
    def hex_address(self) -> str:
        return to_checksum_address(f"0x{self.address:040x}")

    @property
    def label(self) -> str:
        return f"0x{self.address:02x} {self.name} ({self.eip})"


def _bls_xy(point: Any) -> bytes:
    """A BLS12-381 G1 or G2 point in EIP-2537's encoding: each 48-byte coordinate padded to 64 bytes."""
    raw = bytes(point.to_xy_bytes_be())
    return b"".join(bytes(16) + raw[i : i + 48] for i in range(0, len(raw), 48))


def _bn_g1(point: Any) -> bytes:
    x, y = bn.normalize(point)
    return int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def _bn_g2(point: Any) -> bytes:
    x, y = bn.normalize(point)
    return b"".join(int(c).to_bytes(32, "big") for c in (x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0]))


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _modexp_probe(modulus: int) -> tuple[bytes, bytes]:
    """2^(p-2) mod p, the inversion the verifiers make, in the 32/32/32 shape they make it."""
    data = _word(32) * 3 + _word(2) + _word(modulus - 2) + _word(modulus)
    return data, _word(pow(2, modulus - 2, modulus))


@lru_cache(maxsize=1)
def registry() -> dict[str, Precompile]:
    """Every precompile a generated contract may call, by short name."""
    infinity = bytes([0xC0]) + bytes(47)
    versioned = b"\x01" + hashlib.sha256(infinity).digest()[1:]
    g1, g2 = G1Point(), G2Point()
    g1_xy, g2_xy = _bls_xy(g1), _bls_xy(g2)
    bn_g2 = _bn_g2(bn.G2)
    bls_modexp, bn_modexp = _modexp_probe(BLS_MODULUS), _modexp_probe(BN254_R)
    records = [
        Precompile(
            0x02, "SHA256", "yellow paper", sha256_gas(48), infinity, hashlib.sha256(infinity).digest()
        ),
        Precompile(0x05, "MODEXP", "EIP-198/2565/7883", MODEXP_32_GAS_BOUND, *bls_modexp),
        Precompile(
            0x0A,
            "POINT_EVALUATION",
            "EIP-4844",
            POINT_EVALUATION_PRECOMPILE_GAS,
            versioned + _word(0) + _word(0) + infinity + infinity,
            _word(FIELD_ELEMENTS_PER_BLOB) + _word(BLS_MODULUS),
        ),
        Precompile(0x0B, "BLS12_G1ADD", "EIP-2537", BLS12_G1ADD_GAS, g1_xy + bytes(128), g1_xy),
        Precompile(0x0C, "BLS12_G1MSM", "EIP-2537", BLS12_G1MSM_MUL_GAS, g1_xy + _word(1), g1_xy),
        Precompile(0x0F, "BLS12_PAIRING_CHECK", "EIP-2537", bls_pairing_gas(1), bytes(128) + g2_xy, _word(1)),
        Precompile(0x06, "ECADD", "EIP-196/1108", ECADD_GAS, _bn_g1(bn.G1) * 2, _bn_g1(bn.double(bn.G1))),
        Precompile(
            0x07, "ECMUL", "EIP-196/1108", ECMUL_GAS, _bn_g1(bn.G1) + _word(2), _bn_g1(bn.double(bn.G1))
        ),
        Precompile(0x08, "ECPAIRING", "EIP-197/1108", bn_pairing_gas(1), bytes(64) + bn_g2, _word(1)),
    ]
    out = {p.name: p for p in records}
    out["MODEXP_BN254"] = Precompile(0x05, "MODEXP", "EIP-198/2565/7883", MODEXP_32_GAS_BOUND, *bn_modexp)
    return out


def probe(w3: Any, names: Sequence[str], fields: Mapping[str, Any] | None = None) -> list[Precompile]:
    """The precompiles among `names` that do not give their known answer on this chain (eth_call).
    `fields` go into every call (``ChainSession.probe_fields()``: the embedded chain's sender and
    fees, so a base fee above eth-tester's default 1 gwei cannot make a present precompile look
    absent)."""
    from web3.exceptions import Web3Exception  # here: the registry itself is pure and renders without web3

    missing = []
    for name in names:
        p = registry()[name]
        # intrinsic gas with EIP-7623's floor at most 21,000 + 40 per byte, then the precompile's price
        call = {
            "to": p.hex_address,
            "data": "0x" + p.probe_input.hex(),
            "gas": 21_000 + 40 * len(p.probe_input) + p.gas,
            **(fields or {}),
        }
        try:
            out: bytes | None = bytes(w3.eth.call(call))
        except (ValueError, Web3Exception):  # the node refused the call: the precompile did not answer
            out = None
        if out != p.probe_output:
            missing.append(p)
    return missing
