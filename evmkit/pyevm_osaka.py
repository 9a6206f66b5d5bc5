"""Osaka (Fusaka) rules for py-evm's embedded chain: :class:`OsakaVM`, py-evm's Prague VM plus the
execution-layer changes of the Osaka upgrade (EIP-7607), which py-evm 0.12 does not ship.

    from eth_tester import EthereumTester, PyEVMBackend
    backend = PyEVMBackend(genesis_parameters=params, vm_configuration=((0, OsakaVM),))

What differs from Prague, each as its final EIP text says:

- EIP-7825: a transaction asking for more than 2**24 gas is invalid; it is refused before it runs.
- EIP-7823: MODEXP (0x05) fails, burning the gas given to it, when a base, exponent or modulus
  length is over 1024 bytes.
- EIP-7883: MODEXP is priced anew (:func:`modexp_gas_osaka`).
- EIP-7939: the CLZ opcode (0x1e), 5 gas.
- EIP-7951: the P256VERIFY precompile (0x100), 6900 gas (:func:`p256_verify`).
- EIP-7918: the blob base fee cannot fall below what ``BLOB_BASE_COST`` execution gas costs
  (:func:`calc_excess_blob_gas_osaka`); it moves only when blocks carry blobs.
- EIP-7594: a blob transaction holds at most 6 blobs.

The rest of the list does not reach the EVM: EIP-7917 (beacon chain), EIP-7892, EIP-7642,
EIP-7910, EIP-7935 (client and network matters). EIP-7934 caps a block's RLP size at 8 MiB; it is
not enforced here: calldata costs at least 10 gas a byte (EIP-7623), so a block needs a gas limit
above about 84M to reach it (the embedded chain's default is 30M).
"""

from __future__ import annotations

import copy
from typing import Any

from eth._utils.address import force_bytes_to_address
from eth._utils.db import get_block_header_by_hash
from eth._utils.padding import zpad_left, zpad_right
from eth.abc import BlockAPI, BlockHeaderAPI, ComputationAPI, OpcodeAPI, SignedTransactionAPI
from eth.exceptions import VMError
from eth.precompiles.modexp import extract_lengths
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE, GAS_PER_BLOB, MIN_BLOB_BASE_FEE
from eth.vm.forks.cancun.state import fake_exponential, get_total_blob_gas
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation
from eth.vm.forks.prague.constants import (
    BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
    MAX_BLOB_GAS_PER_BLOCK,
    TARGET_BLOB_GAS_PER_BLOCK,
)
from eth.vm.forks.prague.headers import create_prague_header_from_parent
from eth.vm.forks.prague.opcodes import PRAGUE_OPCODES
from eth.vm.forks.prague.state import PragueState
from eth.vm.opcode import as_opcode
from eth_utils import ValidationError

from .forks import TX_GAS_CAP_EIP7825
from .gas import modexp_gas_eip7883

__all__ = [
    "CLZ_GAS",
    "MAX_BLOBS_PER_TX",
    "MODEXP_MAX_INPUT_BYTES",
    "OSAKA_TX_GAS_CAP",
    "OsakaComputation",
    "OsakaState",
    "OsakaVM",
    "P256VERIFY_ADDRESS",
    "P256VERIFY_GAS",
    "calc_excess_blob_gas_osaka",
    "modexp_gas_osaka",
    "p256_verify",
]

OSAKA_TX_GAS_CAP = TX_GAS_CAP_EIP7825
"""EIP-7825: the most gas one transaction may ask for (16,777,216)."""
MODEXP_MAX_INPUT_BYTES = 1024
"""EIP-7823: the longest base, exponent or modulus MODEXP accepts."""
CLZ_OPCODE = 0x1E
CLZ_GAS = 5
"""EIP-7939: what CLZ costs (as MUL)."""
P256VERIFY_ADDRESS = 0x100
P256VERIFY_GAS = 6900
"""EIP-7951: what P256VERIFY costs, whatever its input."""
MAX_BLOBS_PER_TX = 6
"""EIP-7594: the most blobs one transaction may carry."""
BLOB_BASE_COST = 2**13
"""EIP-7918: blobs cost at least this much execution gas each, priced at the base fee."""
_PRAGUE_MAX_BLOBS = MAX_BLOB_GAS_PER_BLOCK // GAS_PER_BLOB  # 9: Osaka keeps Prague's blob schedule
_PRAGUE_TARGET_BLOBS = TARGET_BLOB_GAS_PER_BLOCK // GAS_PER_BLOB  # 6


# --- EIP-7883 / EIP-7823: MODEXP -----------------------------------------------------------------


def _exponent_head(data: bytes, base_length: int, exponent_length: int) -> int:
    """The exponent's first min(32, length) bytes as an integer (input past the end reads as zeros)."""
    start = 96 + base_length
    size = min(exponent_length, 32)
    return int.from_bytes(zpad_right(data[start : start + size], to_size=size), "big")


def modexp_gas_osaka(data: bytes) -> int:
    """The gas MODEXP charges under Osaka (EIP-7883) for the call input ``data``.

    The multiplication complexity is 16 up to 32-byte operands, else 2 * words**2 (8-byte words of
    the longer of base and modulus); the iteration count doubles EIP-2565's per-byte term for
    exponents over 32 bytes (16 per byte); nothing is divided; the least is 500. This is the price
    alone: a call with any length over 1024 bytes fails whatever its price (EIP-7823)."""
    base_length, exponent_length, modulus_length = extract_lengths(data)
    head = _exponent_head(data, base_length, exponent_length)
    return modexp_gas_eip7883(base_length, head, exponent_length, modulus_length)


def _modexp_osaka(computation: ComputationAPI) -> ComputationAPI:
    """MODEXP (0x05) under Osaka: the EIP-7823 bounds, then the EIP-7883 price, then EIP-198's result."""
    data = computation.msg.data_as_bytes
    base_length, exponent_length, modulus_length = extract_lengths(data)
    longest = max(base_length, exponent_length, modulus_length)
    if longest > MODEXP_MAX_INPUT_BYTES:
        # an exceptional halt: the computation's __exit__ burns all the gas the call was given
        raise VMError(f"EIP-7823: MODEXP input length {longest} is over {MODEXP_MAX_INPUT_BYTES} bytes")
    computation.consume_gas(modexp_gas_osaka(data), reason="MODEXP Precompile (EIP-7883)")
    if modulus_length == 0:
        computation.output = b""
        return computation

    def field(start: int, length: int) -> int:
        return int.from_bytes(zpad_right(data[start : start + length], to_size=length), "big")

    base = field(96, base_length)
    exponent = field(96 + base_length, exponent_length)
    modulus = field(96 + base_length + exponent_length, modulus_length)
    # pow(0, 0, m) is 1 % m, as EIP-198 (and geth, revm) have it; py-evm's own MODEXP returns 0
    # whenever the base length is 0, which differs only for a zero-length base with a zero exponent
    result = 0 if modulus == 0 else pow(base, exponent, modulus)
    computation.output = zpad_left(result.to_bytes((result.bit_length() + 7) // 8, "big"), modulus_length)
    return computation


# --- EIP-7951: P256VERIFY ------------------------------------------------------------------------

# secp256r1 (NIST P-256) domain parameters, as EIP-7951 lists them
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC
_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
_GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
_SUCCESS = (1).to_bytes(32, "big")

# Points in Jacobian coordinates (X, Y, Z) for x = X/Z**2, y = Y/Z**3; Z == 0 is the point at infinity.
_Jacobian = tuple[int, int, int]
_INFINITY: _Jacobian = (1, 1, 0)


def _double(point: _Jacobian) -> _Jacobian:
    x, y, z = point
    if z == 0 or y == 0:
        return _INFINITY
    yy = y * y % _P
    s = 4 * x * yy % _P
    zz = z * z % _P
    m = 3 * (x - zz) * (x + zz) % _P  # 3*x**2 + a*z**4 with a = -3
    x3 = (m * m - 2 * s) % _P
    y3 = (m * (s - x3) - 8 * yy * yy) % _P
    z3 = 2 * y * z % _P
    return (x3, y3, z3)


def _add(p: _Jacobian, q: _Jacobian) -> _Jacobian:
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    x1, y1, z1 = p
    x2, y2, z2 = q
    z1z1 = z1 * z1 % _P
    z2z2 = z2 * z2 % _P
    u1 = x1 * z2z2 % _P
    u2 = x2 * z1z1 % _P
    s1 = y1 * z2 * z2z2 % _P
    s2 = y2 * z1 * z1z1 % _P
    if u1 == u2:
        return _double(p) if s1 == s2 else _INFINITY
    h = (u2 - u1) % _P
    r = (s2 - s1) % _P
    hh = h * h % _P
    hhh = h * hh % _P
    v = u1 * hh % _P
    x3 = (r * r - hhh - 2 * v) % _P
    y3 = (r * (v - x3) - s1 * hhh) % _P
    z3 = h * z1 * z2 % _P
    return (x3, y3, z3)


def _double_scalar_mul(k1: int, p1: _Jacobian, k2: int, p2: _Jacobian) -> _Jacobian:
    """k1*p1 + k2*p2 by one shared double-and-add pass (Shamir's trick)."""
    both = _add(p1, p2)
    acc = _INFINITY
    for bit in range(max(k1.bit_length(), k2.bit_length()) - 1, -1, -1):
        acc = _double(acc)
        b1 = (k1 >> bit) & 1
        b2 = (k2 >> bit) & 1
        if b1 and b2:
            acc = _add(acc, both)
        elif b1:
            acc = _add(acc, p1)
        elif b2:
            acc = _add(acc, p2)
    return acc


def p256_verify(input: bytes) -> bytes:  # noqa: A002 - the EIP's own name for it
    """P256VERIFY's result for the 160-byte call input ``hash || r || s || qx || qy`` (EIP-7951):
    the 32-byte word 1 when the ECDSA signature (r, s) of ``hash`` by the secp256r1 key (qx, qy)
    is valid, else empty. Empty too for any other input length, r or s outside (0, n), a coordinate
    outside [0, p), a point off the curve or (0, 0) (the point at infinity's usual encoding)."""
    if len(input) != 160:
        return b""
    h, r, s, qx, qy = (int.from_bytes(input[i : i + 32], "big") for i in range(0, 160, 32))
    if not (0 < r < _N and 0 < s < _N):
        return b""
    if not (0 <= qx < _P and 0 <= qy < _P) or (qx == 0 and qy == 0):
        return b""
    if (qy * qy - (qx * qx * qx + _A * qx + _B)) % _P != 0:
        return b""
    s_inv = pow(s, -1, _N)
    x, _, z = _double_scalar_mul(h * s_inv % _N, (_GX, _GY, 1), r * s_inv % _N, (qx, qy, 1))
    if z == 0:  # R' is the point at infinity
        return b""
    affine_x = x * pow(z * z % _P, -1, _P) % _P
    return _SUCCESS if affine_x % _N == r else b""


def _p256verify_precompile(computation: ComputationAPI) -> ComputationAPI:
    """P256VERIFY (0x100): 6900 gas, charged whatever the input; a failed check is no error, only
    an empty output."""
    computation.consume_gas(P256VERIFY_GAS, reason="P256VERIFY Precompile (EIP-7951)")
    computation.output = p256_verify(computation.msg.data_as_bytes)
    return computation


# --- EIP-7939: CLZ -------------------------------------------------------------------------------


def _clz(computation: ComputationAPI) -> None:
    value = computation.stack_pop1_int()
    computation.stack_push_int(256 - value.bit_length())


OSAKA_OPCODES: dict[int, OpcodeAPI] = {
    **copy.deepcopy(PRAGUE_OPCODES),
    CLZ_OPCODE: as_opcode(logic_fn=_clz, mnemonic="CLZ", gas_cost=CLZ_GAS),
}

OSAKA_PRECOMPILES = {
    **PRAGUE_PRECOMPILES,
    force_bytes_to_address(b"\x05"): _modexp_osaka,
    force_bytes_to_address(P256VERIFY_ADDRESS.to_bytes(2, "big")): _p256verify_precompile,
}


class OsakaComputation(PragueComputation):
    """Prague's computation with CLZ, the Osaka MODEXP and P256VERIFY."""

    opcodes = OSAKA_OPCODES
    _precompiles = OSAKA_PRECOMPILES


# --- EIP-7918 / EIP-7594: blobs ------------------------------------------------------------------


def calc_excess_blob_gas_osaka(parent_header: BlockHeaderAPI) -> int:
    """The excess blob gas of the block after ``parent_header`` (EIP-7918, Prague's blob schedule:
    target 6, max 9). While ``BLOB_BASE_COST`` execution gas at the parent's base fee costs more
    than a blob at the parent's blob base fee, the target is not subtracted: the excess grows by
    (max - target) / max of the blob gas used."""
    excess = getattr(parent_header, "excess_blob_gas", 0) or 0
    used = getattr(parent_header, "blob_gas_used", 0) or 0
    if excess + used < TARGET_BLOB_GAS_PER_BLOCK:
        return 0
    base_fee = getattr(parent_header, "base_fee_per_gas", 0) or 0
    blob_base_fee = fake_exponential(MIN_BLOB_BASE_FEE, excess, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE)
    if BLOB_BASE_COST * base_fee > GAS_PER_BLOB * blob_base_fee:
        return excess + used * (_PRAGUE_MAX_BLOBS - _PRAGUE_TARGET_BLOBS) // _PRAGUE_MAX_BLOBS
    return excess + used - TARGET_BLOB_GAS_PER_BLOCK


def _create_osaka_header_from_parent(
    parent_header: BlockHeaderAPI | None, **header_params: Any
) -> BlockHeaderAPI:
    header = create_prague_header_from_parent(parent_header, **header_params)
    if parent_header is None:
        return header
    return header.copy(excess_blob_gas=calc_excess_blob_gas_osaka(parent_header))


class OsakaState(PragueState):
    """Prague's state with the Osaka computation and EIP-7594's per-transaction blob limit."""

    computation_class = OsakaComputation

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        if getattr(transaction, "type_id", None) == BLOB_TX_TYPE:
            count = len(transaction.blob_versioned_hashes)
            if count > MAX_BLOBS_PER_TX:
                raise ValidationError(
                    f"EIP-7594: the transaction carries {count} blobs, over the {MAX_BLOBS_PER_TX} "
                    "one transaction may carry"
                )
        super().validate_transaction(transaction)


# --- the VM --------------------------------------------------------------------------------------


def _check_tx_gas_cap(transaction: SignedTransactionAPI) -> None:
    if transaction.gas > OSAKA_TX_GAS_CAP:
        # worded without "gas limit": evmkit.chain reads that phrase as the block gas limit
        raise ValidationError(
            f"EIP-7825: the transaction asks for {transaction.gas} ({transaction.gas:,}) gas, above the "
            f"per-transaction cap of {OSAKA_TX_GAS_CAP} ({OSAKA_TX_GAS_CAP:,} = 2**24)"
        )


class OsakaVM(PragueVM):
    """py-evm's Prague VM under Osaka's execution rules (see the module's docstring)."""

    fork = "osaka"
    _state_class = OsakaState
    create_header_from_parent = staticmethod(_create_osaka_header_from_parent)  # type: ignore[assignment]

    def validate_transaction_against_header(
        self, base_header: BlockHeaderAPI, transaction: SignedTransactionAPI
    ) -> None:
        """EIP-7825 first, before anything runs, then Prague's check against the block gas limit."""
        _check_tx_gas_cap(transaction)
        super().validate_transaction_against_header(base_header, transaction)

    def validate_block_blobs(self, block: BlockAPI) -> None:
        """Prague's blob checks with the excess blob gas of EIP-7918."""
        parent_header = get_block_header_by_hash(block.header.parent_hash, self.chaindb)
        if block.header.excess_blob_gas != calc_excess_blob_gas_osaka(parent_header):
            raise ValidationError("Block excess blob gas was not updated correctly (EIP-7918).")
        blob_gas_used = sum(get_total_blob_gas(tx) for tx in block.transactions)
        if blob_gas_used > MAX_BLOB_GAS_PER_BLOCK:
            raise ValidationError("Block exceeded maximum blob gas limit.")
        if block.header.blob_gas_used != blob_gas_used:
            raise ValidationError(
                f"Block blob gas used ({block.header.blob_gas_used}) does not match "
                f"total blob gas used ({blob_gas_used})."
            )
