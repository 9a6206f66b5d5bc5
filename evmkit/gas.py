"""The Prague gas schedule terms the cost models use, named as the specs name them.

Each constant cites its EIP; each function is one cost term. Pure: no chain.
"""

from __future__ import annotations

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


def transaction_gas(data: bytes, execution: int, create: bool = False) -> int:
    """Receipt gas: intrinsic plus execution, but never below the calldata floor."""
    return max(intrinsic_gas(data, create) + execution, floor_gas(data))


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
