"""Chain sessions: one way to deploy, transact and call, on an embedded EVM or a JSON-RPC node.

Both kinds sign raw EIP-1559 transactions locally and read gas from receipts, so the same
transaction costs the same gas on either (``estimate_gas`` is never used: on py-evm it
re-executes a transaction many times). Fees follow the pending block's base fee, which climbs after
full blocks; they never change the gas a transaction uses.

    session = embedded()                              # a fresh in-process py-evm chain, Osaka rules
    session = embedded(fork="prague")                 # ... under Prague's rules
    session = rpc("http://127.0.0.1:8545", key=key)   # a node; the key given in code
    session = rpc("http://127.0.0.1:8545")            # a node; the key from $ETH_PRIVATE_KEY
    session = rpc(url, fork="osaka")                  # a node that must run Osaka rules (else ForkMismatch)
    reader = rpc_reader("http://127.0.0.1:8545")      # a node, for eth_call only

Every session knows the rules it runs (``session.fork``, an :class:`evmkit.forks.Fork`): the embedded
chain runs the fork it was made with, and a node's rules are found out by probing (:func:`detect_fork`).
A transaction given an ``estimate`` that cannot fit the block gas limit, or the per-transaction cap
of EIP-7825 (2**24 under Osaka), is refused before it is signed (:class:`GasLimitExceeded`).
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_tester.exceptions import ValidationError as TesterValidationError
from eth_utils import ValidationError as EthValidationError
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    Web3RPCError,
)

from . import txlog
from .errors import ChainError, GasLimitExceeded, MissingKey, TransactionReverted
from .forks import FORKS, TX_GAS_CAP_EIP7825, Fork, get_fork
from .revert import decode_revert
from .solc import Artifact

_TESTER_PREFIX = "execution reverted: "
_REVERTS = (ContractLogicError, ContractCustomError, ContractPanicError, TransactionFailed)
# how the embedded chain refuses a transaction or call it cannot run (fee, balance, nonce, intrinsic gas)
_TESTER_REFUSALS = (EthValidationError, TesterValidationError)
PRIORITY_FEE = 10**9
"""The tip (wei per gas) offered on every transaction; the max fee adds twice the base fee to it."""
_HINTS = (
    ("insufficient funds", "fund {sender} or send from another key"),
    ("cannot afford", "fund {sender} or send from another key"),
    ("nonce too low", "another sender used {sender}'s nonce; run again"),
    ("intrinsic gas too low", "the gas given is below what the transaction needs"),
    ("gas cannot be negative", "the gas given is below what the transaction needs"),
    ("eip-7825", "under Osaka no transaction may ask for more than 16,777,216 gas"),
    ("gas limit", "the transaction's gas is above the block gas limit {block_gas_limit:,}"),
    ("gas_limit", "the transaction's gas is above the block gas limit {block_gas_limit:,}"),
)

DEFAULT_BLOCK_GAS_LIMIT = 30_000_000
OSAKA_TX_GAS_CAP = TX_GAS_CAP_EIP7825
PRIVATE_KEY_ENV = "ETH_PRIVATE_KEY"
RPC_URL_ENV = "ETH_RPC_URL"


class ForkMismatch(ChainError):
    """The node runs other rules than the fork asked for: contracts compiled and gas priced for one
    fork would run under another's (an opcode it lacks, another price, another transaction cap)."""


class TransactionRefused(ChainError):
    """The node refused a signed transaction when it was sent (fee, balance, nonce, gas): it never
    accepted it, so its hash names nothing on chain and need not be looked up later."""


@dataclass(frozen=True)
class TxResult:
    """The parts of a receipt the tools report."""

    tx_hash: str
    gas_used: int
    block_number: int
    contract_address: str | None = None
    logs: tuple[Any, ...] = field(default=(), repr=False)
    effective_gas_price: int = 0  # wei per gas actually paid (base fee + tip)
    reverted: bool = False  # only a receipt looked up by hash (receipt_of) can say so: send raises

    @property
    def cost_wei(self) -> int:
        """What the sender paid for the gas: gas used times the effective gas price."""
        return self.gas_used * self.effective_gas_price


class ChainSession:
    """A web3 connection plus the accounts that sign for it; ``rpc_url`` is the node's URL
    (None for the embedded chain, which lives only as long as this process). A ``read_only``
    session (:func:`rpc_reader`) calls but never sends."""

    def __init__(
        self,
        w3: Web3,
        signers: Sequence[LocalAccount],
        description: str,
        rpc_url: str | None = None,
        read_only: bool = False,
        fork: Fork | None = None,
    ) -> None:
        if not signers:
            raise MissingKey("no signing account")
        self.w3 = w3
        self.signers = list(signers)
        self.description = description
        self.rpc_url = rpc_url
        self.read_only = read_only
        self.fork = fork
        """The rules this chain runs; None for a node older than every fork in :data:`evmkit.forks.FORKS`."""
        self._nonces: dict[str, int] = {}
        self._log_id = txlog.new_session_id()  # names this chain in $EVMKIT_TX_LOG (embedded chains only)

    @property
    def default_sender(self) -> LocalAccount:
        """The account that signs when no ``sender`` is given (the first key)."""
        return self.signers[0]

    @property
    def block_gas_limit(self) -> int:
        """The latest block's gas limit: what one transaction may use at most."""
        return int(self.w3.eth.get_block("latest")["gasLimit"])

    @property
    def fork_name(self) -> str:
        """The fork's name, or words for a node older than every known fork."""
        return self.fork.name if self.fork is not None else "older than " + next(iter(FORKS))

    @property
    def pricing_fork(self) -> Fork:
        """The rules to price this chain's transactions with: its fork, or for a node older than every
        known fork the oldest one's (no calldata floor, no per-transaction cap)."""
        return self.fork if self.fork is not None else next(iter(FORKS.values()))

    @property
    def tx_gas_cap(self) -> int | None:
        """The per-transaction gas cap of the rules this chain runs (EIP-7825: 2**24 under Osaka),
        or None where there is none."""
        return self.fork.tx_gas_cap if self.fork is not None else None

    def require_fork(self, fork: str | Fork, newer_ok: bool = False) -> Fork:
        """Refuse (:class:`ForkMismatch`) unless this chain runs ``fork``'s rules (or, ``newer_ok``, a
        later fork's: code deployed under one fork keeps running after an upgrade); the fork record."""
        wanted = get_fork(fork)
        if self.fork == wanted or (newer_ok and self.fork is not None and self.fork.order > wanted.order):
            return wanted
        if newer_ok:  # the code is fixed: only a node as new as it can run it, whatever --fork says
            oldest = next(iter(FORKS))
            runs = f"{self.fork.name.capitalize()} rules" if self.fork else f"rules older than {oldest}"
            raise ForkMismatch(
                f"{self.description} runs {runs}, older than {wanted.name.capitalize()}'s that the "
                f"deployment was made under (no {wanted.probe_what}): use a node that runs {wanted.name} or "
                "a later fork"
            )
        raise ForkMismatch(_mismatch(self.description, wanted, self.fork))

    @property
    def gas_cap(self) -> int:
        """The most gas one transaction may use here: the block gas limit, or the cap if lower."""
        cap = self.tx_gas_cap
        limit = self.block_gas_limit
        return limit if cap is None else min(cap, limit)

    def gas_cap_description(self, gas_cap: int | None = None) -> str:
        """Words for :attr:`gas_cap`: which limit it is, with its figure."""
        cap = self.tx_gas_cap
        gas_cap = self.gas_cap if gas_cap is None else gas_cap
        if cap is not None and gas_cap == cap:
            return f"the per-transaction gas cap {cap:,} (EIP-7825)"
        return f"the block gas limit {gas_cap:,}"

    def check_fits(self, what: str, estimate: int) -> None:
        """Refuse, before anything is signed, a transaction whose ``estimate`` is over :attr:`gas_cap`."""
        cap = self.gas_cap
        if estimate > cap:
            raise GasLimitExceeded(
                f"{what} needs about {estimate:,} gas (estimate), over {self.gas_cap_description(cap)} "
                f"of {self.description}; nothing was sent"
            )

    def contract(self, address: str, abi: list[dict[str, Any]]) -> Contract:
        """A web3 contract object at ``address`` (nothing is checked on chain)."""
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi)

    def base_fee(self) -> int:
        """The base fee (wei per gas) of the pending block: what the next transaction pays at least."""
        block = self.w3.eth.get_block("pending")
        return int(block.get("baseFeePerGas") or 0)

    def fees(self) -> dict[str, int]:
        """EIP-1559 fee fields for a transaction: the tip, plus room for the base fee to double."""
        return {"maxFeePerGas": 2 * self.base_fee() + PRIORITY_FEE, "maxPriorityFeePerGas": PRIORITY_FEE}

    def _call_fees(self) -> dict[str, int]:
        """Fee fields for eth_call. A node runs a call without fee fields at gas price 0, free of the
        base fee and of the caller's balance (so a read-only account may call). eth-tester instead
        fills in 1 gwei, which a base fee above it refuses: there the call offers the base fee of
        the block it runs on ("latest") and no tip, which costs the funded caller nothing."""
        if self.rpc_url is not None:
            return {}
        base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        return {"maxFeePerGas": base_fee, "maxPriorityFeePerGas": 0}

    def probe_fields(self) -> dict[str, Any]:
        """Fields for a raw ``w3.eth.call`` made outside :meth:`call` (the precompile probes): the
        embedded chain's funded sender and fees (see ``_call_fees``); nothing over RPC."""
        if self.rpc_url is not None:
            return {}
        return {"from": self.default_sender.address, **self._call_fees()}

    def _next_nonce(self, sender: LocalAccount) -> int:
        if sender.address not in self._nonces:
            self._nonces[sender.address] = self.w3.eth.get_transaction_count(sender.address, "pending")
        nonce = self._nonces[sender.address]
        self._nonces[sender.address] = nonce + 1
        return nonce

    def send(
        self,
        to: str | None,
        data: bytes,
        *,
        sender: LocalAccount | None = None,
        gas: int | None = None,
        abi: list[dict[str, Any]] | None = None,
        estimate: tuple[str, int] | None = None,
        on_sent: Callable[[str], None] | None = None,
    ) -> TxResult:
        """Sign and send one transaction; wait for its receipt; raise if it reverted.

        ``estimate`` (what, gas) is checked against :attr:`gas_cap` first, as is ``gas``: either over
        it is refused before signing. ``on_sent(tx_hash)`` runs once the hash is known, before the
        transaction goes out, so that a caller can record it should the wait be interrupted."""
        if self.read_only:
            raise MissingKey(f"{self.description} was opened read-only (no key): it cannot send transactions")
        if estimate is not None:
            self.check_fits(*estimate)
        if gas is not None and gas > self.gas_cap:
            raise GasLimitExceeded(
                f"the transaction asks for {gas:,} gas, over {self.gas_cap_description()} of "
                f"{self.description}; nothing was sent"
            )
        sender = sender or self.default_sender
        tx: dict[str, Any] = {
            "chainId": self.w3.eth.chain_id,
            "nonce": self._next_nonce(sender),
            "gas": gas or self.gas_cap,
            **self.fees(),
            "data": data,
            "value": 0,
        }
        if to is not None:
            tx["to"] = to_checksum_address(to)
        signed = sender.sign_transaction(tx)
        if on_sent is not None:
            on_sent(Web3.to_hex(signed.hash))
        tx_hash = None
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=600)
        except _REVERTS as exc:
            self._nonces.pop(sender.address, None)
            raise _reverted(exc, abi) from None
        except TimeExhausted:
            self._nonces.pop(sender.address, None)
            raise ChainError(
                f"{self.description} accepted the transaction but did not mine it within 600 s "
                "(too little gas for it, or a fee below the node's?)"
            ) from None
        except (ValueError, Web3RPCError, *_TESTER_REFUSALS) as exc:  # refused: gas, balance, nonce, ...
            self._nonces.pop(sender.address, None)
            refused = TransactionRefused if tx_hash is None else ChainError  # None: never accepted
            raise refused(self._refusal(exc, sender)) from None
        except OSError as exc:  # requests' connection errors are OSErrors
            self._nonces.pop(sender.address, None)
            raise ChainError(f"lost the connection to {self.description}: {type(exc).__name__}") from None
        if self.rpc_url is None and self.fork is not None:  # mined, reverted or not: it took a nonce
            txlog.record(self._log_id, self.fork.name, signed.raw_transaction, receipt)
        if receipt["status"] != 1:
            reason = self._replay_reason(tx, sender, receipt["blockNumber"], abi)
            raise TransactionReverted(
                f"transaction {Web3.to_hex(receipt['transactionHash'])} reverted: {reason}", reason
            )
        return tx_result(receipt)

    def _refusal(self, exc: Exception, sender: LocalAccount) -> str:
        """One line: who refused, the node's own message, and what to do about it when it is known."""
        message = _rpc_message(exc)
        line = f"{self.description} refused the transaction from {sender.address}: {message}"
        for needle, hint in _HINTS:
            if needle in message.lower():
                try:
                    limit = self.block_gas_limit
                except Exception:  # noqa: BLE001 - the hint is a courtesy; the refusal is the fact
                    limit = 0
                return f"{line} ({hint.format(sender=sender.address, block_gas_limit=limit)})"
        return line

    def _replay_reason(
        self, tx: dict[str, Any], sender: LocalAccount, block: int, abi: list[dict[str, Any]] | None
    ) -> str:
        call = {"from": sender.address, "data": tx["data"], "gas": tx["gas"], **self._call_fees()}
        if "to" in tx:
            call["to"] = tx["to"]
        try:
            self.w3.eth.call(call, "latest")  # type: ignore[arg-type]
        except _REVERTS as exc:
            return _reverted(exc, abi).reason or "reverted"
        except Exception:  # noqa: BLE001 - the reason is a courtesy; the revert is the fact
            return "reverted (reason unavailable)"
        return "out of gas or reverted without data"

    def deploy(
        self,
        artifact: Artifact,
        *args: Any,
        sender: LocalAccount | None = None,
        estimate: tuple[str, int] | None = None,
        on_sent: Callable[[str], None] | None = None,
    ) -> tuple[Contract, TxResult]:
        """Deploy ``artifact`` with constructor ``args``: the contract and its receipt (``estimate``
        and ``on_sent`` as in :meth:`send`)."""
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = bytes.fromhex(factory.constructor(*args).data_in_transaction.removeprefix("0x"))
        result = self.send(None, data, sender=sender, abi=artifact.abi, estimate=estimate, on_sent=on_sent)
        if result.contract_address is None:
            raise ChainError("deployment receipt has no contract address")
        return self.contract(result.contract_address, artifact.abi), result

    def transact(
        self,
        contract: Contract,
        function: str,
        *args: Any,
        sender: LocalAccount | None = None,
        gas: int | None = None,
        estimate: tuple[str, int] | None = None,
        on_sent: Callable[[str], None] | None = None,
    ) -> TxResult:
        """Send ``function(*args)`` as a signed transaction; raise if it reverted (``estimate`` and
        ``on_sent`` as in :meth:`send`)."""
        data = contract.encode_abi(function, args=list(args))
        return self.send(
            contract.address,
            bytes.fromhex(data.removeprefix("0x")),
            sender=sender,
            gas=gas,
            abi=contract.abi,
            estimate=estimate,
            on_sent=on_sent,
        )

    def receipt_of(self, tx_hash: str) -> TxResult | None:
        """The receipt of a transaction sent earlier (by hash), waiting briefly if the node still
        holds it; None if the node never saw it (it was not sent, or was dropped)."""
        from web3.exceptions import TransactionNotFound

        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        try:
            return tx_result(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120))  # type: ignore[arg-type]
        except TimeExhausted:
            raise ChainError(
                f"transaction {tx_hash} is known to {self.description} but not mined after 120 s; try again"
            ) from None

    def call(self, contract: Contract, function: str, *args: Any, gas: int | None = None) -> Any:
        """A read-only call (eth_call) with a clear error when it reverts."""
        try:
            return contract.functions[function](*args).call(
                {"from": self.default_sender.address, "gas": gas or self.block_gas_limit, **self._call_fees()}
            )
        except _REVERTS as exc:
            raise _reverted(exc, contract.abi) from None
        except _TESTER_REFUSALS as exc:  # the embedded chain would not run the call at all
            raise ChainError(f"{self.description} refused the call: {_rpc_message(exc)}") from None
        except Web3RPCError as exc:  # the node's own error for the call, e.g. "EVM error OutOfGas"
            message = _rpc_message(exc)
            raise TransactionReverted(f"reverted: {message}", message) from None
        except BadFunctionCallOutput:  # code that answers, but not as the ABI says: another contract
            raise ChainError(
                f"the contract at {contract.address} answered {function}() with data its ABI cannot decode "
                "(another contract than the ABI describes?)"
            ) from None


def tx_result(receipt: Any) -> TxResult:
    """The parts of a receipt the tools report (reverted or not)."""
    address = receipt.get("contractAddress")
    return TxResult(
        tx_hash=Web3.to_hex(receipt["transactionHash"]),
        gas_used=int(receipt["gasUsed"]),
        block_number=int(receipt["blockNumber"]),
        contract_address=str(address) if address else None,
        logs=tuple(receipt["logs"]),
        effective_gas_price=int(receipt.get("effectiveGasPrice") or 0),
        reverted=receipt.get("status", 1) != 1,
    )


def _rpc_message(exc: Exception) -> str:
    """The node's message, without web3's wrapping (one line)."""
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return " ".join(str(error["message"]).split())
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else str(exc))
    if isinstance(message, dict):
        message = message.get("message", str(message))
    return " ".join(str(message).split())


def _revert_data(exc: Exception) -> bytes | str | None:
    """web3 errors carry hex ``data``; eth-tester's TransactionFailed carries raw bytes."""
    data = getattr(exc, "data", None)
    if isinstance(data, (str, bytes)):
        return data
    first = exc.args[0] if exc.args else None
    if isinstance(first, bytes):
        return first
    if isinstance(first, str) and first.startswith(_TESTER_PREFIX):
        try:  # eth-tester puts the repr of the revert bytes into its message
            literal = ast.literal_eval(first[len(_TESTER_PREFIX) :])
        except (ValueError, SyntaxError):
            return None
        return literal if isinstance(literal, bytes) else None
    return None


def _reverted(exc: Exception, abi: list[dict[str, Any]] | None) -> TransactionReverted:
    reason = decode_revert(_revert_data(exc), abi or [])
    if reason is None:
        text = str(exc.args[0] if exc.args else exc)
        reason = text if text and text != "execution reverted" else "reverted without a reason"
    return TransactionReverted(f"reverted: {reason}", reason)


def _load_kzg_setup_once() -> None:
    """py-evm's point-evaluation precompile (0x0a) reads the KZG ceremony file anew on every call
    (about 1.4 s). Keep the loaded setup: the same ckzg function and file, read once per process."""
    from eth.precompiles import point_evaluation

    loader = point_evaluation.load_trusted_setup
    if not isinstance(loader, functools._lru_cache_wrapper):
        point_evaluation.load_trusted_setup = functools.lru_cache(maxsize=2)(loader)


def embedded(
    block_gas_limit: int = DEFAULT_BLOCK_GAS_LIMIT, accounts: int = 3, fork: str | Fork | None = None
) -> ChainSession:
    """A fresh in-process py-evm chain (eth-tester) under ``fork``'s rules (default: Osaka, mainnet's
    today) with ``accounts`` funded signers."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider

    rules = get_fork(fork)
    _load_kzg_setup_once()
    params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": block_gas_limit})
    backend = PyEVMBackend(genesis_parameters=params, vm_configuration=((0, rules.vm_class()),))
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    signers = [Account.from_key(key.to_bytes()) for key in backend.account_keys[:accounts]]
    return ChainSession(w3, signers, f"embedded py-evm chain ({rules.name})", fork=rules)


def detect_fork(w3: Web3) -> Fork | None:
    """The newest fork whose rules the node runs, found by eth_call of each fork's probe (init code that
    uses what the fork added); None for a node older than all of them. Calls cost nothing and work on
    any node; a probe the node refuses or answers otherwise reads as "not this fork"."""
    from web3.exceptions import Web3Exception

    for fork in reversed(list(FORKS.values())):
        try:
            out = bytes(w3.eth.call({"data": "0x" + fork.probe.hex(), "gas": 1_000_000}))  # type: ignore[typeddict-item]
        except (ValueError, Web3Exception):
            continue
        if len(out) == 32 and int.from_bytes(out, "big") == fork.probe_answer:
            return fork
    return None


def _mismatch(where: str, wanted: Fork, found: Fork | None) -> str:
    """One line: which rules the node runs, why that matters, and the option that fits it."""
    names = list(FORKS)
    if found is None:
        oldest = FORKS[names[0]]
        return (
            f"{where} runs rules older than {oldest.name.capitalize()} (no {oldest.probe_what}), not "
            f"{wanted.name.capitalize()}'s; the forks known here are {', '.join(names)}: use a node that "
            f"runs one of them"
        )
    lacks = f" (no {wanted.probe_what})" if found.order < wanted.order else ""
    return (
        f"{where} runs {found.name.capitalize()} rules{lacks}, not {wanted.name.capitalize()}'s: code "
        f"compiled and gas priced for one would run under the other; pass --fork {found.name} "
        f"(fork={found.name!r}) to target this node"
    )


def _node_session(
    url: str,
    signers: Sequence[LocalAccount],
    fork: str | Fork | None,
    read_only: bool = False,
    newer_ok: bool = False,
) -> ChainSession:
    if fork is not None:
        get_fork(fork)  # an unknown name is refused before the node is asked anything
    w3 = _connect(url)
    found = detect_fork(w3)
    session = ChainSession(w3, signers, f"RPC node {url}", rpc_url=url, read_only=read_only, fork=found)
    if fork is not None:
        session.require_fork(fork, newer_ok)
    return session


def rpc_reader(url: str, fork: str | Fork | None = None, newer_ok: bool = False) -> ChainSession:
    """A JSON-RPC node for reading only (eth_call, code, storage): no key needed. Its one account is a
    fresh random one that never signs anything; it only names the caller of eth_call. With ``fork``,
    a node that runs other rules is refused (:class:`ForkMismatch`; ``newer_ok``: later rules pass)."""
    return _node_session(url, [Account.create()], fork, read_only=True, newer_ok=newer_ok)


def _connect(url: str) -> Web3:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
    try:
        _ = w3.eth.chain_id  # the first request: fails fast if nothing answers
    except Exception as exc:  # noqa: BLE001 - any failure to connect gets the same clear line
        raise ChainError(f"cannot reach the RPC node at {url}: {type(exc).__name__}") from None
    return w3


Key = str | bytes | LocalAccount


def _signer(key: Key, what: str) -> LocalAccount:
    """An account from a hex key, raw key bytes or an account; the message never holds the key."""
    if isinstance(key, LocalAccount):
        return key
    try:
        return Account.from_key(key)
    except (ValueError, TypeError):
        raise MissingKey(f"{what} does not hold a valid hex private key") from None


def rpc(
    url: str,
    key_env: str = PRIVATE_KEY_ENV,
    extra_key_envs: Sequence[str] = (),
    *,
    key: Key | None = None,
    extra_keys: Sequence[Key] = (),
    fork: str | Fork | None = None,
    newer_ok: bool = False,
) -> ChainSession:
    """A JSON-RPC node whose transactions are signed locally (keys are never printed).

    With ``key`` (a hex string, raw bytes or an eth-account ``LocalAccount``) the keys are the ones
    given in code: ``key`` and then ``extra_keys``. Without it they are read from the environment:
    ``$key_env`` and then each of ``extra_key_envs`` (the command-line tools' only way). The node's
    rules are found out (``session.fork``); with ``fork``, other rules are refused (:class:`ForkMismatch`;
    ``newer_ok``: a later fork's pass, as for a contract deployed before the node's last upgrade)."""
    if key is not None:
        signers = [
            _signer(k, "key=" if i == 0 else f"extra_keys[{i - 1}]") for i, k in enumerate([key, *extra_keys])
        ]
        return _node_session(url, signers, fork, newer_ok=newer_ok)
    keys = [os.environ.get(key_env)] + [os.environ.get(name) for name in extra_key_envs]
    if not keys[0]:  # known before any request: say it first
        raise MissingKey(
            f"set {key_env} to the hex private key of the sending account (it is read from "
            "the environment only, never from the command line)"
        )
    signers = [_signer(k, key_env) for k in keys if k]
    return _node_session(url, signers, fork, newer_ok=newer_ok)
