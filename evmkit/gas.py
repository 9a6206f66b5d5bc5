"""The gas schedule terms both cost models use, named as the specs name them, and the one
:class:`Estimate` shape they return.

Each constant cites its EIP; each function is one cost term. Precompile prices live here too
(:mod:`evmkit.precompiles` holds the records that call them). Pure: no chain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import EvmkitError

# Yellow paper / EIP-2028 (calldata) / EIP-2 (creation)
TX_BASE_COST = 21_000
TX_CREATE_COST = 32_000
TX_DATA_COST_PER_ZERO = 4
TX_DATA_COST_PER_NON_ZERO = 16  # EIP-2028
# EIP-3860: initcode metering
INITCODE_WORD_COST = 2
# EIP-7623: calldata floor (Prague)
STANDARD_TOKEN_COST = 4
TOTAL_COST_FLOOR_PER_TOKEN = 10
# Code deposit (yellow paper G_codedeposit)
CODE_DEPOSIT_COST_PER_BYTE = 200
# EIP-2929 / EIP-2200 storage and account access
COLD_SLOAD_COST = 2_100
COLD_ACCOUNT_ACCESS_COST = 2_600
WARM_STORAGE_READ_COST = 100
SSTORE_SET_GAS = 20_000
SSTORE_RESET_GAS = 5_000 - COLD_SLOAD_COST  # 2,900
# Memory, copies, hashing
GAS_MEMORY = 3
GAS_COPY = 3
GAS_KECCAK256 = 30
GAS_KECCAK256_WORD = 6
GAS_VERY_LOW = 3
GAS_BASE = 2


def words(n_bytes: int) -> int:
    return (n_bytes + 31) // 32


def calldata_tokens(data: bytes) -> int:
    """EIP-7623 tokens: one per zero byte, four per non-zero byte."""
    zeros = data.count(0)
    return zeros + 4 * (len(data) - zeros)


def calldata_cost(data: bytes) -> int:
    """Standard calldata cost: 4 per zero byte, 16 per non-zero byte."""
    return calldata_tokens(data) * STANDARD_TOKEN_COST


def intrinsic_gas(data: bytes, create: bool = False) -> int:
    gas = TX_BASE_COST + calldata_cost(data)
    if create:
        gas += TX_CREATE_COST + INITCODE_WORD_COST * words(len(data))
    return gas


def floor_gas(data: bytes) -> int:
    """EIP-7623: the least a transaction pays for its calldata."""
    return TX_BASE_COST + TOTAL_COST_FLOOR_PER_TOKEN * calldata_tokens(data)


def transaction_gas(data: bytes, execution: int, create: bool = False, calldata_floor: bool = True) -> int:
    """Receipt gas: intrinsic plus execution, but never below the calldata floor (EIP-7623, Prague on;
    ``calldata_floor=False`` for the rules before it)."""
    gas = intrinsic_gas(data, create) + execution
    return max(gas, floor_gas(data)) if calldata_floor else gas


def memory_cost(n_words: int) -> int:
    """Total cost of memory expanded to ``n_words`` words (quadratic term included)."""
    return GAS_MEMORY * n_words + n_words * n_words // 512


def memory_expansion(from_words: int, to_words: int) -> int:
    return max(0, memory_cost(to_words) - memory_cost(from_words))


def copy_cost(n_bytes: int) -> int:
    """The per-word part of CODECOPY / EXTCODECOPY / CALLDATACOPY / MCOPY."""
    return GAS_COPY * words(n_bytes)


def keccak_cost(n_bytes: int) -> int:
    return GAS_KECCAK256 + GAS_KECCAK256_WORD * words(n_bytes)


def code_deposit(n_bytes: int) -> int:
    return CODE_DEPOSIT_COST_PER_BYTE * n_bytes


# -- precompile prices --------------------------------------------------------------------------------
# EIP-4844
POINT_EVALUATION_PRECOMPILE_GAS = 50_000
# EIP-2537 (Prague, final prices)
BLS12_G1ADD_GAS = 375
BLS12_G1MSM_MUL_GAS = 12_000
BLS12_PAIRING_BASE_GAS = 37_700
BLS12_PAIRING_PER_PAIR_GAS = 32_600
# EIP-1108 (Istanbul)
ECADD_GAS = 150
ECMUL_GAS = 6_000
ECPAIRING_BASE_GAS = 45_000
ECPAIRING_PER_PAIR_GAS = 34_000
G1MSM_DISCOUNTS = (
    1000,
    949,
    848,
    797,
    764,
    750,
    738,
    728,
    719,
    712,
    705,
    698,
    692,
    687,
    682,
    677,
    673,
    669,
    665,
    661,
    658,
    654,
    651,
    648,
    645,
    642,
    640,
    637,
    635,
    632,
    630,
    627,
    625,
    623,
    621,
    619,
    617,
    615,
    613,
    611,
    609,
    608,
    606,
    604,
    603,
    601,
    599,
    598,
    596,
    595,
    593,
    592,
    591,
    589,
    588,
    586,
    585,
    584,
    582,
    581,
    580,
    579,
    577,
    576,
    575,
    574,
    573,
    572,
    570,
    569,
    568,
    567,
    566,
    565,
    564,
    563,
    562,
    561,
    560,
    559,
    558,
    557,
    556,
    555,
    554,
    553,
    552,
    551,
    550,
    549,
    548,
    547,
    547,
    546,
    545,
    544,
    543,
    542,
    541,
    540,
    540,
    539,
    538,
    537,
    536,
    536,
    535,
    534,
    533,
    532,
    532,
    531,
    530,
    529,
    528,
    528,
    527,
    526,
    525,
    525,
    524,
    523,
    522,
    522,
    521,
    520,
    520,
    519,
)
# Yellow paper SHA-256
SHA256_BASE_GAS = 60
SHA256_WORD_GAS = 12
# MODEXP with 32-byte base, exponent and modulus and a 255-bit exponent: EIP-2565 prices it at
# max(200, 16 * 254 // 3) = 1,354, EIP-7883 (Osaka) at max(500, 16 * 254) = 4,064. The verifiers
# forward the larger: a MODEXP with well-formed lengths cannot fail but for gas, and a call that
# succeeds pays only its own price.
MODEXP_32_GAS_BOUND = 16 * 254


def sha256_gas(n_bytes: int) -> int:
    return SHA256_BASE_GAS + SHA256_WORD_GAS * ((n_bytes + 31) // 32)


def g1msm_gas(k: int) -> int:
    """EIP-2537 G1MSM over k points: k * 12,000 * discount(k) / 1000."""
    discount = G1MSM_DISCOUNTS[min(k, len(G1MSM_DISCOUNTS)) - 1]
    return k * BLS12_G1MSM_MUL_GAS * discount // 1000


def _iterations(exp: int, exp_len: int, per_byte: int) -> int:
    """EIP-2565 / EIP-7883 iteration count; ``exp`` is the exponent's first 32 bytes as a number."""
    head = exp & (2**256 - 1)
    if exp_len <= 32:
        count = max(head.bit_length() - 1, 0)
    else:
        count = per_byte * (exp_len - 32) + max(head.bit_length() - 1, 0)
    return max(count, 1)


def modexp_gas(base_len: int, exp: int, exp_len: int, mod_len: int) -> int:
    """EIP-2565 (Berlin to Prague): ``exp`` is the exponent's first 32 bytes as a number."""
    complexity = ((max(base_len, mod_len) + 7) // 8) ** 2  # 8-byte words
    return max(200, complexity * _iterations(exp, exp_len, 8) // 3)


def modexp_gas_eip7883(base_len: int, exp: int, exp_len: int, mod_len: int) -> int:
    """EIP-7883 (Osaka): minimum 500, complexity at least 16 and doubled past 32 bytes, 16 iterations per
    exponent byte past 32, no divisor. ``exp`` is the exponent's first 32 bytes as a number."""
    longest = max(base_len, mod_len)
    complexity = 16 if longest <= 32 else 2 * ((longest + 7) // 8) ** 2
    return max(500, complexity * _iterations(exp, exp_len, 16))


def bls_pairing_gas(pairs: int) -> int:
    return BLS12_PAIRING_BASE_GAS + BLS12_PAIRING_PER_PAIR_GAS * pairs


def bn_pairing_gas(pairs: int) -> int:
    return ECPAIRING_BASE_GAS + ECPAIRING_PER_PAIR_GAS * pairs


# -- one estimate shape for every gas model ------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A receipt-gas prediction and the named terms it adds up (the EIP-7623 top-up included)."""

    total: int
    terms: tuple[tuple[str, int], ...]

    def as_dict(self) -> dict[str, int]:
        """Terms by name; a name that appears twice is summed."""
        out: dict[str, int] = {}
        for name, value in self.terms:
            out[name] = out.get(name, 0) + value
        return out

    def term(self, name: str) -> int:
        """One term's gas (0 when the estimate has no such term)."""
        return self.as_dict().get(name, 0)

    def to_json(self) -> dict[str, object]:
        return {"total": self.total, "terms": self.as_dict()}


CALLDATA_TERM = "calldata (EIP-2028)"
FLOOR_TOP_UP_TERM = "EIP-7623 calldata floor top-up"


def estimate_transaction(
    data: bytes,
    execution_terms: Sequence[tuple[str, int]] | Mapping[str, int],
    create: bool = False,
    calldata_floor: bool = True,
) -> Estimate:
    """Execution terms -> the receipt's gas: 21,000, calldata (and creation), or the EIP-7623
    floor when that is higher, shown as its own top-up term (``calldata_floor``: the fork has EIP-7623;
    pass ``fork.calldata_floor``)."""
    items = list(execution_terms.items() if isinstance(execution_terms, Mapping) else execution_terms)
    execution = sum(g for _, g in items)
    terms = [("transaction base", TX_BASE_COST), (CALLDATA_TERM, calldata_cost(data))]
    if create:
        terms += [
            ("contract creation", TX_CREATE_COST),
            ("initcode words", INITCODE_WORD_COST * words(len(data))),
        ]
    terms += [(name, g) for name, g in items if g]
    total = transaction_gas(data, execution, create, calldata_floor)
    below_floor = total - intrinsic_gas(data, create) - execution
    if below_floor > 0:
        terms.append((FLOOR_TOP_UP_TERM, below_floor))
    return Estimate(total, tuple(terms))


# -- fitted costs files ---------------------------------------------------------------------------


class CostsFileError(EvmkitError):
    """A gas model's fitted-costs file is missing or unreadable: estimates would be wrong."""


@cache
def _read_costs(path: str) -> Mapping[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CostsFileError(
            f"gas costs file {path} is missing: reinstall the package, or fit it again "
            "(python -m ml2sc.calibrate / python -m verkle.calibrate)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CostsFileError(f"gas costs file {path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise CostsFileError(f"gas costs file {path} does not hold a JSON object")
    return MappingProxyType(data)


def load_costs(path: str | Path, required: Sequence[str] = ()) -> Mapping[str, Any]:
    """A fitted-costs JSON file, read once per process and read-only; ``required`` top-level
    keys must be there. A missing or invalid file is a :class:`CostsFileError`, never zeros."""
    data = _read_costs(str(Path(path).resolve()))
    missing = [key for key in required if key not in data]
    if missing:
        raise CostsFileError(f"gas costs file {path} lacks {', '.join(missing)}: fit it again")
    return data
