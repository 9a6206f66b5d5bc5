"""evmkit.pyevm_osaka against anvil under Osaka: the same transactions and calls give the same
output and the same receipt gas on the embedded py-evm chain (OsakaVM) and on anvil.

Contracts are hand-assembled bytecode (no solc). Both chains send from the embedded chain's first
funded key (anvil funds it through anvil_setBalance), so the nonces, and so the contract addresses,
are the same on both. EIP-7825's cap is not compared: anvil 1.7.1 does not enforce it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from evmkit.anvil import start_anvil
from evmkit.pyevm_osaka import OsakaVM
from helpers.evm_bytecode import CLZ_RUNTIME, initcode, proxy_runtime, signed_tx
from helpers.p256 import WYCHEPROOF_VALID, B, N, P

pytestmark = pytest.mark.rpc

TX_GAS = 1_000_000


# x = calldata[0:32]; store CLZ(x) at slot 0 (so a transaction leaves a trace on each chain)
CLZ_STORE_RUNTIME = bytes.fromhex("6000351e60005500")  # PUSH1 0 CALLDATALOAD CLZ PUSH1 0 SSTORE STOP


FAILED_CALL = b"<eth_call failed>"


@dataclass
class Side:
    """One chain: web3, the sender, and the contracts deployed on it."""

    w3: Web3
    account: LocalAccount
    contracts: dict[str, str] = field(default_factory=dict)
    deploy_gas: dict[str, int] = field(default_factory=dict)

    def transaction(self, to: str | None, data: bytes):
        """The receipt of a signed transaction with TX_GAS gas."""
        raw = signed_tx(self.w3, self.account, to, data, TX_GAS)
        return self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(raw), timeout=30)

    def deploy(self, name: str, runtime: bytes) -> None:
        receipt = self.transaction(None, initcode(runtime))
        assert receipt["status"] == 1, name
        self.contracts[name], self.deploy_gas[name] = receipt["contractAddress"], receipt["gasUsed"]

    def call(self, to: str, data: bytes) -> bytes:
        """eth_call's output, or FAILED_CALL where the call failed (each chain words that its own way)."""
        base_fee = int(self.w3.eth.get_block("latest")["baseFeePerGas"])
        fields = {"from": self.account.address, "to": Web3.to_checksum_address(to), "data": data}
        fields |= {"gas": TX_GAS, "maxFeePerGas": base_fee, "maxPriorityFeePerGas": 0}
        try:
            return bytes(self.w3.eth.call(fields, "latest"))
        except Exception:  # noqa: BLE001 - eth-tester and anvil raise different types for a failed call
            return FAILED_CALL

    def run(self, target: str, data: bytes) -> tuple[bytes, int, int]:
        """(eth_call output, transaction status, transaction gasUsed) of ``data`` sent to ``target``
        (a contract's name here, or a precompile's address)."""
        to = self.contracts.get(target, target)
        output = self.call(to, data)
        receipt = self.transaction(to, data)
        return output, receipt["status"], receipt["gasUsed"]


CONTRACTS = {
    "clz": CLZ_RUNTIME,
    "clz_store": CLZ_STORE_RUNTIME,
    "modexp": proxy_runtime(0x05),
    "p256": proxy_runtime(0x100),
}


@pytest.fixture(scope="module")
def sides():
    params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": 30_000_000})
    backend = PyEVMBackend(genesis_parameters=params, vm_configuration=((0, OsakaVM),))
    account = Account.from_key(backend.account_keys[0].to_bytes())
    embedded = Side(Web3(EthereumTesterProvider(EthereumTester(backend))), account)
    with start_anvil(hardfork="osaka") as node:
        anvil = Side(Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30})), account)
        anvil.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**24)])
        for side in (embedded, anvil):
            for name, runtime in CONTRACTS.items():
                side.deploy(name, runtime)
        yield embedded, anvil


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def compare(sides, cases: dict[str, tuple[str, bytes]]) -> dict[str, tuple[bytes, int, int]]:
    """Run each case on both chains; every output, status and gasUsed must agree. The embedded
    chain's results, by case."""
    embedded, anvil = sides
    results = {}
    for name, (target, data) in cases.items():
        mine, theirs = embedded.run(target, data), anvil.run(target, data)
        assert mine == theirs, f"{name}: embedded {mine!r} != anvil {theirs!r}"
        results[name] = mine
    return results


def test_same_deployments(sides):
    embedded, anvil = sides
    assert embedded.contracts == anvil.contracts  # the same sender and nonces
    assert embedded.deploy_gas == anvil.deploy_gas


def test_clz(sides):
    words = [0, 1, 2, 2**255, 2**255 - 1, 2**256 - 1, 0xFF << 100]
    words += [random.Random(7939).getrandbits(bits) for bits in (9, 100, 200, 256)]
    cases = {f"clz({w:#x})": ("clz", word(w)) for w in words}
    cases |= {f"clz_store({w:#x})": ("clz_store", word(w)) for w in words[:4]}
    results = compare(sides, cases)
    for w in words:
        output, status, _ = results[f"clz({w:#x})"]
        assert (status, output) == (1, word(256 - w.bit_length()) + word(10))  # SWAP1 3 + CLZ 5 + GAS 2


def curve_point_from(x: int) -> tuple[int, int]:
    while True:
        rhs = (x**3 - 3 * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return x, y
        x += 1


def key_is_r_times_s(qx: int, qy: int, key_x: int | None = None) -> bytes:
    """Hash 0 and s = r: R' = Q, a valid signature with no secret needed (r = qx mod n)."""
    r = qx % N
    return b"".join(word(v) for v in (0, r, r, qx if key_x is None else key_x, qy))


def with_field(vector: bytes, index: int, value: int) -> bytes:
    return vector[: 32 * index] + word(value) + vector[32 * (index + 1) :]


def test_p256verify(sides):
    small = curve_point_from(1)
    vectors = {
        "wycheproof_valid": WYCHEPROOF_VALID,
        "r_prime_x_above_n": key_is_r_times_s(*curve_point_from(N + 1)),
        "small_key_x": key_is_r_times_s(*small),
        "high_s": with_field(WYCHEPROOF_VALID, 2, N - int.from_bytes(WYCHEPROOF_VALID[64:96], "big")),
        "empty": b"",
        "159_bytes": WYCHEPROOF_VALID[:-1],
        "161_bytes": WYCHEPROOF_VALID + b"\x00",
        "r_zero": with_field(WYCHEPROOF_VALID, 1, 0),
        "s_n": with_field(WYCHEPROOF_VALID, 2, N),
        "qx_p": with_field(WYCHEPROOF_VALID, 3, P),
        "qx_plus_p": key_is_r_times_s(*small, key_x=small[0] + P),
        "off_curve": with_field(WYCHEPROOF_VALID, 4, int.from_bytes(WYCHEPROOF_VALID[128:], "big") ^ 1),
        "off_curve_forgery": b"".join(word(v) for v in (0, 1, 1, 1, 1)),
        "infinity_0_0": with_field(with_field(WYCHEPROOF_VALID, 3, 0), 4, 0),
        "hash_bit_flipped": bytes([WYCHEPROOF_VALID[0] ^ 0x80]) + WYCHEPROOF_VALID[1:],
    }
    cases = {f"proxy:{name}": ("p256", data) for name, data in vectors.items()}
    cases |= {f"direct:{name}": ("0x" + "00" * 18 + "0100", data) for name, data in vectors.items()}
    results = compare(sides, cases)
    valid = {"wycheproof_valid", "r_prime_x_above_n", "small_key_x", "high_s"}
    for name in vectors:
        output, status, _ = results[f"proxy:{name}"]
        expected = word(1) if name in valid else b""
        assert (status, output) == (1, word(1) + word(121 + 6900) + expected), name
        assert results[f"direct:{name}"][:2] == (expected, 1), name


def modexp_input(
    base: bytes, exponent: bytes, modulus: bytes, lengths: tuple[int, ...] | None = None
) -> bytes:
    lengths = lengths or (len(base), len(exponent), len(modulus))
    return b"".join(word(n) for n in lengths) + base + exponent + modulus


def test_modexp(sides):
    shapes = {
        "32_32_32_exp255bit": modexp_input(b"\x03" * 32, word(2**254 + 5), b"\xff" * 32),
        "32_32_32_exp256bit": modexp_input(b"\x03" * 32, word(2**256 - 1), b"\xff" * 32),
        "empty": b"",
        "zero_lengths": modexp_input(b"", b"", b""),
        "zero_base_zero_exponent": modexp_input(b"", b"", b"\x07"),
        "modulus_one": modexp_input(b"\x05", b"\x03", b"\x01"),
        "modulus_zero": modexp_input(b"\x05", b"\x03", b"\x00" * 8),
        "33_byte_modulus": modexp_input(b"\x02", word(2**200), b"\x01" * 33),
        "long_exponent": modexp_input(b"\x02" * 64, b"\x01" * 100, b"\x0d" * 64),
        "long_exponent_zero_head": modexp_input(b"\x02", bytes(40) + b"\x05", b"\x0d"),
        "rsa_2048_like": modexp_input(b"\x5a" * 256, b"\x01\x00\x01", b"\xc3" * 256),
        "lengths_past_input": modexp_input(b"", b"", b"", lengths=(64, 40, 64)),
        "modulus_1024": modexp_input(b"\x02", b"\x03", b"\x01" * 1024),
        "base_1025": modexp_input(b"\x07" * 1025, b"\x03", b"\x05"),
        "exponent_1025": modexp_input(b"\x07", b"\x03" * 1025, b"\x05"),
        "modulus_1025": modexp_input(b"\x07", b"\x03", b"\x05" * 1025),
        "lengths_1025_no_data": modexp_input(b"", b"", b"", lengths=(1, 1, 1025)),
    }
    cases = {f"proxy:{name}": ("modexp", data) for name, data in shapes.items()}
    cases |= {f"direct:{name}": ("0x" + "00" * 19 + "05", data) for name, data in shapes.items()}
    results = compare(sides, cases)
    # 32/32/32 with a 255-bit exponent: 16 * 254 = 4064 gas (EIP-7883), plus the proxy's 121
    assert results["proxy:32_32_32_exp255bit"][0][32:64] == word(121 + 4064)
    for name in ("base_1025", "exponent_1025", "modulus_1025", "lengths_1025_no_data"):
        assert results[f"proxy:{name}"][0][:32] == word(0), name  # the inner call failed (EIP-7823)
        # called directly: a failed call, and a failed transaction that burnt all its gas
        assert results[f"direct:{name}"] == (FAILED_CALL, 0, TX_GAS), name
