"""evmkit.pyevm_osaka: Osaka rules on py-evm's embedded chain, run in-process through eth-tester.

Contracts are hand-assembled bytecode. The precompile proxy measures, with GAS before and after
its CALL, what the call cost: a fixed overhead of the opcodes between the two readings plus what
the precompile charged, so precompile prices are checked exactly, not through receipts (which the
EIP-7623 calldata floor can hide)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from eth.vm.forks.berlin.computation import _compute_modexp_gas_fee_eip_2565
from eth.vm.forks.prague import PragueVM
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import ValidationError as EthValidationError
from hypothesis import given
from hypothesis import strategies as st
from web3 import EthereumTesterProvider, Web3

from evmkit.pyevm_osaka import (
    OSAKA_TX_GAS_CAP,
    P256VERIFY_GAS,
    OsakaVM,
    calc_excess_blob_gas_osaka,
    modexp_gas_osaka,
    p256_verify,
)
from helpers.evm_bytecode import CLZ_RUNTIME, CLZ_WINDOW_GAS, initcode, proxy_runtime, signed_tx
from helpers.p256 import WYCHEPROOF_VALID, A, B, G, N, P


def proxy_overhead(call_gas: int | None = None) -> int:
    """The gas between the proxy's readings besides the precompile's own: PUSH1 x4 and
    CALLDATASIZE, PUSH2, GAS or PUSH3, CALL to a warm address (100), GAS."""
    return 3 * 4 + 2 + 3 + (2 if call_gas is None else 3) + 100 + 2


class Node:
    """An embedded eth-tester chain on ``vm_class`` from genesis, one funded signer."""

    def __init__(self, vm_class: type, gas_limit: int = 30_000_000) -> None:
        params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": gas_limit})
        self.backend = PyEVMBackend(genesis_parameters=params, vm_configuration=((0, vm_class),))
        self.w3 = Web3(EthereumTesterProvider(EthereumTester(self.backend)))
        self.account = Account.from_key(self.backend.account_keys[0].to_bytes())

    def signed(self, to: str | None, data: bytes, gas: int) -> bytes:
        return signed_tx(self.w3, self.account, to, data, gas)

    def send(self, to: str | None, data: bytes, gas: int = 1_000_000):
        tx_hash = self.w3.eth.send_raw_transaction(self.signed(to, data, gas))
        return self.w3.eth.wait_for_transaction_receipt(tx_hash)

    def deploy(self, runtime: bytes) -> str:
        receipt = self.send(None, initcode(runtime))
        assert receipt["status"] == 1
        return receipt["contractAddress"]

    def call(self, to: str, data: bytes, gas: int = 1_000_000) -> bytes:
        base_fee = int(self.w3.eth.get_block("latest")["baseFeePerGas"])
        fields = {"from": self.account.address, "to": to, "data": data, "gas": gas}
        return bytes(self.w3.eth.call({**fields, "maxFeePerGas": base_fee, "maxPriorityFeePerGas": 0}))


def proxied(node: Node, proxy: str, data: bytes) -> tuple[bool, int, bytes]:
    """(success, gas between the readings, output) of the precompile behind ``proxy`` on ``data``."""
    out = node.call(proxy, data)
    return bool(int.from_bytes(out[:32], "big")), int.from_bytes(out[32:64], "big"), out[64:]


def _with_probes(vm_class: type) -> Node:
    """A chain on ``vm_class`` with the CLZ contract and the MODEXP and P256VERIFY proxies."""
    node = Node(vm_class)
    node.clz = node.deploy(CLZ_RUNTIME)
    node.modexp = node.deploy(proxy_runtime(0x05))
    node.p256 = node.deploy(proxy_runtime(0x100))
    return node


@pytest.fixture(scope="module")
def osaka():
    node = _with_probes(OsakaVM)
    node.p256_short = node.deploy(proxy_runtime(0x100, call_gas=P256VERIFY_GAS - 1))
    node.p256_exact = node.deploy(proxy_runtime(0x100, call_gas=P256VERIFY_GAS))
    return node


@pytest.fixture(scope="module")
def prague():
    return _with_probes(PragueVM)


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


# --- EIP-7939: CLZ ------------------------------------------------------------------------------

EDGE_WORDS = [0, 1, 2, 3, 2**255, 2**255 - 1, 2**256 - 1, 2**128, 0xFF << 100]
EDGE_WORDS += [random.Random(7939).getrandbits(bits) for bits in (8, 64, 160, 200, 255, 256)]


def clz_on_chain(node: Node, value: int) -> tuple[int, int]:
    out = node.call(node.clz, word(value))
    return int.from_bytes(out[:32], "big"), int.from_bytes(out[32:], "big")


@pytest.mark.parametrize("value", EDGE_WORDS, ids=hex)
def test_clz_edge_words(osaka, value):
    expected = {0: 256, 1: 255, 2**255: 0, 2**256 - 1: 0}.get(value, 256 - value.bit_length())
    assert clz_on_chain(osaka, value) == (expected, CLZ_WINDOW_GAS)


@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_clz_matches_bit_length(osaka, value):
    assert clz_on_chain(osaka, value) == (256 - value.bit_length(), CLZ_WINDOW_GAS)


def test_clz_is_an_invalid_opcode_under_prague(prague, osaka):
    runtime = bytes.fromhex("60011e00")  # PUSH1 1 CLZ STOP
    for node, status in ((osaka, 1), (prague, 0)):
        receipt = node.send(node.deploy(runtime), b"", gas=60_000)
        assert receipt["status"] == status
    assert receipt["gasUsed"] == 60_000  # Prague: an invalid opcode burns all the gas


# --- EIP-7951: P256VERIFY -----------------------------------------------------------------------

# an independent signer over secp256r1 (helpers.p256): affine arithmetic, not the module's Jacobian one


def ec_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and (p1[1] + p2[1]) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * p1[0] * p1[0] + A) * pow(2 * p1[1], -1, P) % P
    else:
        slope = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P
    x = (slope * slope - p1[0] - p2[0]) % P
    return (x, (slope * (p1[0] - x) - p1[1]) % P)


def ec_mul(k, point):
    result = None
    while k:
        if k & 1:
            result = ec_add(result, point)
        point = ec_add(point, point)
        k >>= 1
    return result


def sign(secret: int, digest: int, nonce: int) -> bytes:
    """ECDSA over P-256 with a fixed nonce: the precompile's 160-byte input for it."""
    r = ec_mul(nonce, G)[0] % N
    s = pow(nonce, -1, N) * (digest + r * secret) % N
    qx, qy = ec_mul(secret, G)
    return b"".join(word(v) for v in (digest, r, s, qx, qy))


def replace(vector: bytes, index: int, value: int) -> bytes:
    """``vector`` with its ``index``-th 32-byte field (hash, r, s, qx, qy) set to ``value``."""
    return vector[: 32 * index] + word(value) + vector[32 * (index + 1) :]


def flip_bit(vector: bytes, bit: int) -> bytes:
    as_int = int.from_bytes(vector, "big") ^ (1 << bit)
    return as_int.to_bytes(len(vector), "big")


# Wycheproof ecdsa_secp256r1_sha256_p1363 #3 (r or s moved by the group order), as EIP-7951's
# assets/eip-7951/test-vectors.json lists it
WYCHEPROOF_MODIFIED = bytes.fromhex(
    "bb5a52f42f9c9261ed4361f59422a1e30036e7c32b270c8807a419feca605023"
    "d45c5740946b2a147f59262ee6f5bc90bd01ed280528b62b3aed5fc93f06f739"
    "b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db"
    "2927b10512bae3eddcfe467828128bad2903269919f7086069c8c4df6c732838"
    "c7787964eaac00e5921fb1498a60f4606766b3d9685001558d1a974e7341513e"
)

SIGNED = [
    sign(0xC0FFEE, 0x1234, 0x5EED),
    sign(N - 1, 2**256 - 1, 7),  # a digest above n: reduced mod n by the arithmetic, as ECDSA has it
    sign(0x1D2C3B4A5968778695A4B3C2D1E0F00112233445566778899AABBCCDDEEFF00, 0, N - 2),
    sign(1, 0xDEADBEEF, 0xABCDEF0123456789),
]


def curve_point_from(x: int) -> tuple[int, int]:
    """The first point of the curve whose x is ``x`` or above (p = 3 mod 4: a square root is a power)."""
    while True:
        rhs = (x**3 + A * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return x, y
        x += 1


def key_is_r_times_s(qx: int, qy: int, key_x: int | None = None) -> bytes:
    """A signature that holds for the key (qx, qy) without its secret: hash 0 and s = r make
    R' = (r / s) * Q = Q, so r = qx mod n. ``key_x`` puts another encoding of qx in the input."""
    r = qx % N
    return b"".join(word(v) for v in (0, r, r, qx if key_x is None else key_x, qy))


# R'.x in [n, p): r is R'.x mod n, not R'.x (a case random signatures almost never reach)
BIG_X = curve_point_from(N + 1)
SMALL_X = curve_point_from(1)

VALID = [WYCHEPROOF_VALID, *SIGNED, key_is_r_times_s(*BIG_X), key_is_r_times_s(*SMALL_X)]
# the mirror signature (r, n - s) verifies too: EIP-7951 asks for no low-s rule
VALID += [replace(v, 2, N - int.from_bytes(v[64:96], "big")) for v in SIGNED[:2]]

BASE = SIGNED[0]
INVALID = {
    "wycheproof_modified_r": WYCHEPROOF_MODIFIED,
    "empty": b"",
    "159_bytes": BASE[:-1],
    "161_bytes": BASE + b"\x00",
    "192_bytes": BASE + bytes(32),
    "r_zero": replace(BASE, 1, 0),
    "s_zero": replace(BASE, 2, 0),
    "r_n": replace(BASE, 1, N),
    "s_n": replace(BASE, 2, N),
    "r_max_word": replace(BASE, 1, 2**256 - 1),
    "s_n_plus_1": replace(BASE, 2, N + 1),
    "qx_p": replace(BASE, 3, P),
    "qy_p": replace(BASE, 4, P),
    # h = -r * d (mod n) for the key d*G: R' = (h + r * d) / s * G is the point at infinity
    "r_prime_at_infinity": b"".join(
        word(v) for v in ((-12345 * 0xC0FFEE) % N, 12345, 67890, *ec_mul(0xC0FFEE, G))
    ),
    "qx_plus_p": key_is_r_times_s(*SMALL_X, key_x=SMALL_X[0] + P),  # the same x mod p, out of range
    "qy_off_curve": replace(BASE, 4, int.from_bytes(BASE[128:], "big") ^ 1),
    "infinity_0_0": replace(replace(BASE, 3, 0), 4, 0),
    # off the curve, yet the verification equation holds (h = 0, u2 = r / s = 1, so R' = Q = (1, 1)
    # and r = 1): only the on-curve check refuses it
    "off_curve_forgery": b"".join(word(v) for v in (0, 1, 1, 1, 1)),
    "hash_bit_flipped": flip_bit(BASE, 8 * 160 - 1),
    "r_bit_flipped": flip_bit(BASE, 8 * 128 + 5),
    "s_bit_flipped": flip_bit(BASE, 8 * 96 + 200),
    "other_key": BASE[:96] + SIGNED[3][96:],
}


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v[:4].hex())
def test_p256_valid_signatures(vector):
    assert p256_verify(vector) == word(1)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_p256_invalid_inputs_give_empty_output(name):
    assert p256_verify(INVALID[name]) == b""


@given(st.binary(min_size=160, max_size=160))
def test_p256_any_input_is_an_answer(data):
    assert p256_verify(data) in (b"", word(1))


@given(st.integers(0, 2**256 - 1), st.integers(1, N - 1), st.integers(1, N - 1))
def test_p256_random_signatures_for_a_real_key_fail_cleanly(digest, r, s):
    """The whole verification path (the key is on the curve), without a valid signature."""
    assert p256_verify(word(digest) + word(r) + word(s) + BASE[96:]) == b""


def test_p256_on_chain_output_and_gas(osaka):
    """6900 gas whatever the input (EIP-7951), and a failed check is a successful call with no output."""
    for vector in [*VALID, *INVALID.values()]:
        assert proxied(osaka, osaka.p256, vector) == (True, proxy_overhead() + 6900, p256_verify(vector))


def test_p256_runs_out_of_gas_below_6900(osaka):
    short = proxy_overhead(P256VERIFY_GAS - 1)
    assert proxied(osaka, osaka.p256_short, WYCHEPROOF_VALID) == (False, short + P256VERIFY_GAS - 1, b"")
    exact = proxy_overhead(P256VERIFY_GAS)
    assert proxied(osaka, osaka.p256_exact, WYCHEPROOF_VALID) == (True, exact + P256VERIFY_GAS, word(1))


def test_p256_absent_under_prague(prague):
    success, _, output = proxied(prague, prague.p256, WYCHEPROOF_VALID)
    assert (success, output) == (True, b"")  # 0x100 is an empty account there


# --- EIP-7883 / EIP-7823: MODEXP ----------------------------------------------------------------


def modexp_input(base: bytes, exponent: bytes, modulus: bytes, lengths: tuple[int, int, int] | None = None):
    lengths = lengths or (len(base), len(exponent), len(modulus))
    return b"".join(word(n) for n in lengths) + base + exponent + modulus


MODEXP_SHAPES = {
    # 32/32/32, a 255-bit exponent: complexity 16 (<= 32 bytes), 254 iterations
    "32_32_32_exp255bit": (modexp_input(b"\x03" * 32, word(2**254 + 5), b"\xff" * 32), 16 * 254),
    "32_32_32_exp256bit": (modexp_input(b"\x03" * 32, word(2**256 - 1), b"\xff" * 32), 16 * 255),
    "empty_input": (b"", 500),
    "zero_lengths": (modexp_input(b"", b"", b""), 500),
    "zero_base_length": (modexp_input(b"", b"", b"\x07"), 500),
    "exponent_one": (modexp_input(b"\x02", b"\x01", b"\x05"), 500),
    "33_byte_modulus": (modexp_input(b"\x02", word(2**200), b"\x01" * 33), max(500, 2 * 5**2 * 200)),
    # 64/100/64: complexity 2 * 8**2; iterations 16 * (100 - 32) + (249 - 1) for the head 0x0101..01
    "long_exponent": (modexp_input(b"\x02" * 64, b"\x01" * 100, b"\x0d" * 64), 128 * (16 * 68 + 248)),
    # a 41-byte exponent whose first 32 bytes are zero: 16 * 9 iterations, none from the head
    "long_exponent_zero_head": (modexp_input(b"\x02", bytes(40) + b"\x05", b"\x0d"), 16 * 16 * 9),
    "modulus_1024": (modexp_input(b"\x02", b"\x03", b"\x01" * 1024), 2 * 128**2),
    "lengths_past_input": (modexp_input(b"", b"", b"", lengths=(64, 40, 64)), 2 * 8**2 * 16 * 8),
}


@pytest.mark.parametrize("name", sorted(MODEXP_SHAPES))
def test_modexp_gas_osaka_pure(name):
    data, expected = MODEXP_SHAPES[name]
    assert modexp_gas_osaka(data) == expected


def test_modexp_32_32_32_against_eip2565():
    data = MODEXP_SHAPES["32_32_32_exp255bit"][0]
    assert (modexp_gas_osaka(data), _compute_modexp_gas_fee_eip_2565(data)) == (4064, 16 * 254 // 3)


def modexp_result(data: bytes) -> bytes:
    lengths = [int.from_bytes(data[i : i + 32].ljust(32, b"\x00"), "big") for i in (0, 32, 64)]
    body = data[96:].ljust(sum(lengths), b"\x00")
    base = int.from_bytes(body[: lengths[0]], "big")
    exponent = int.from_bytes(body[lengths[0] : lengths[0] + lengths[1]], "big")
    modulus = int.from_bytes(body[lengths[0] + lengths[1] :], "big")
    result = 0 if modulus == 0 else pow(base, exponent, modulus)
    return result.to_bytes(lengths[2], "big") if lengths[2] else b""


@pytest.mark.parametrize("name", sorted(MODEXP_SHAPES))
def test_modexp_on_chain(osaka, name):
    data, expected_gas = MODEXP_SHAPES[name]
    assert proxied(osaka, osaka.modexp, data) == (True, proxy_overhead() + expected_gas, modexp_result(data))


@pytest.mark.parametrize("field", [0, 1, 2], ids=["base", "exponent", "modulus"])
def test_modexp_over_1024_bytes_fails(osaka, prague, field):
    lengths = [1, 1, 1]
    lengths[field] = 1025
    data = modexp_input(*(b"\x07" * n for n in lengths))
    success, spent, output = proxied(osaka, osaka.modexp, data)
    assert (success, output) == (False, b"")
    assert spent > 900_000  # all the gas the call carried (63/64 of what was left) is gone
    # the same lengths without the bytes behind them fail as well: the bound is on the lengths
    assert proxied(osaka, osaka.modexp, modexp_input(b"", b"", b"", lengths=tuple(lengths)))[0] is False
    # Prague had no bound (EIP-7823 is Osaka's)
    assert proxied(prague, prague.modexp, data)[0] is True


def test_modexp_prague_keeps_eip2565(prague):
    for name in ("32_32_32_exp255bit", "long_exponent", "modulus_1024", "33_byte_modulus"):
        data = MODEXP_SHAPES[name][0]
        success, spent, _ = proxied(prague, prague.modexp, data)
        assert (success, spent) == (True, proxy_overhead() + _compute_modexp_gas_fee_eip_2565(data)), name


# --- EIP-7825: the transaction gas cap ----------------------------------------------------------


def test_tx_gas_cap():
    node = Node(OsakaVM, gas_limit=30_000_000)
    assert node.send(node.account.address, b"", gas=OSAKA_TX_GAS_CAP)["status"] == 1
    before = (
        node.w3.eth.get_transaction_count(node.account.address),
        node.w3.eth.get_balance(node.account.address),
        node.w3.eth.block_number,
    )
    raw = node.signed(node.account.address, b"", OSAKA_TX_GAS_CAP + 1)
    with pytest.raises(EthValidationError) as refused:
        node.w3.eth.send_raw_transaction(raw)
    message = str(refused.value)
    assert "EIP-7825" in message and "16777217" in message and "16777216" in message
    assert "gas limit" not in message  # evmkit.chain would read that as the block gas limit
    after = (
        node.w3.eth.get_transaction_count(node.account.address),
        node.w3.eth.get_balance(node.account.address),
        node.w3.eth.block_number,
    )
    assert after == before  # refused before it ran: no nonce, no fee, no block


def test_prague_has_no_tx_gas_cap():
    node = Node(PragueVM, gas_limit=30_000_000)
    assert node.send(node.account.address, b"", gas=OSAKA_TX_GAS_CAP + 1)["status"] == 1


# --- EIP-7918 / EIP-7594: blobs -----------------------------------------------------------------

TARGET = 6 * 2**17


@pytest.mark.parametrize(
    ("excess", "used", "base_fee", "expected"),
    [
        (0, TARGET - 1, 10**9, 0),  # below the target: 0, as before
        (0, TARGET, 10**9, TARGET // 3),  # the reserve price binds: + used * (9 - 6) / 9, not - target
        (0, 9 * 2**17, 10**9, 3 * 2**17),  # a full block: the same rise either way
        (2**17, TARGET, 1, 2**17),  # 8192 * 1 < 131072 * 1 (blob base fee 1): Prague's rule
        (2**17, TARGET, 16, 2**17),  # 8192 * 16 == 131072 * 1: not above it, Prague's rule
        (2**17, TARGET, 17, 2**17 + TARGET // 3),  # just above it: EIP-7918's rule
    ],
)
def test_calc_excess_blob_gas_osaka(excess, used, base_fee, expected):
    header = SimpleNamespace(excess_blob_gas=excess, blob_gas_used=used, base_fee_per_gas=base_fee)
    assert calc_excess_blob_gas_osaka(header) == expected


def blob_transaction(node: Node, blobs: int):
    chain = node.backend.chain
    builder = chain.get_vm().get_transaction_builder()
    hashes = [b"\x01" + bytes([i]) * 31 for i in range(blobs)]
    unsigned = builder.new_unsigned_blob_transaction(
        chain.chain_id, 0, 10**9, 10**11, 100_000, b"\x11" * 20, 0, b"", [], 10**9, hashes
    )
    return unsigned.as_signed_transaction(node.backend.account_keys[0])


@pytest.mark.parametrize(("vm_class", "next_excess"), [(OsakaVM, TARGET // 3), (PragueVM, 0)])
def test_blob_block_then_excess_blob_gas(vm_class, next_excess):
    """A block with 6 blobs (the target) at a 1 gwei base fee: Osaka's next block has excess blob gas
    (the reserve price binds), Prague's none. Osaka refuses 7 blobs in one transaction (EIP-7594)."""
    node = Node(vm_class)
    chain = node.backend.chain
    if vm_class is OsakaVM:
        with pytest.raises(EthValidationError, match="EIP-7594"):
            chain.apply_transaction(blob_transaction(node, 7))
    chain.apply_transaction(blob_transaction(node, 6))
    node.backend.mine_blocks()
    assert chain.get_canonical_head().blob_gas_used == TARGET
    assert chain.get_block().header.excess_blob_gas == next_excess
    node.backend.mine_blocks()  # the mined block passes the VM's own blob checks
    assert chain.get_canonical_head().excess_blob_gas == next_excess
