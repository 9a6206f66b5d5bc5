"""Command-line options both tools share (Foundry's conventions: --rpc-url with $ETH_RPC_URL, keys
from the environment, never as arguments), and the argparse types that refuse bad numbers in one line
(exit code 2) before anything runs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

from . import chain
from .forks import DEFAULT_FORK, FORKS

INTRINSIC_GAS = 21_000
"""What the cheapest transaction costs: a block gas limit below it holds no transaction at all."""


def int_at_least(minimum: int, what: str | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for integers >= ``minimum``; ``what`` says the bound in the message."""

    def parse(text: str) -> int:
        try:
            value = int(text.replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what or f'at least {minimum:,}'}, got {value:,}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its "invalid ... value" fallback
    return parse


positive_int = int_at_least(1, "a positive integer")
"""An argparse ``type`` for integers >= 1 (rows per call, workers, sizes)."""

MAX_GAS_LIMIT = 10**12
"""Far above any chain's block (mainnet: 45M in 2026), and low enough that the embedded chain's funded
accounts can pay for a transaction that asks for all of it."""


def gas_limit_type(text: str) -> int:
    """An argparse ``type`` for a block gas limit: at least one plain transaction's intrinsic gas,
    at most :data:`MAX_GAS_LIMIT`."""
    value = _at_least_intrinsic(text)
    if value > MAX_GAS_LIMIT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_GAS_LIMIT:,}, got {value:,}")
    return value


_at_least_intrinsic = int_at_least(
    INTRINSIC_GAS, f"at least {INTRINSIC_GAS:,}, the gas of the cheapest transaction"
)
gas_limit_type.__name__ = "integer"


def add_fork_arg(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, node: bool = False, help: str | None = None
) -> None:
    """--fork: the rules to compile for, run under (embedded chain), price with and, with ``node`` (the
    command takes --rpc-url), require of a node. ``help`` replaces the text for a command that uses the
    fork otherwise (a calibration, a bench)."""
    refused = "; a node (--rpc-url) that runs other rules is refused" if node else ""
    p.add_argument(
        "--fork",
        choices=list(FORKS),
        default=DEFAULT_FORK,
        help=help
        or f"the chain's rules: solc's evmVersion, the embedded chain's rules, the gas schedule and the "
        f"per-transaction cap (default {DEFAULT_FORK}, mainnet since December 2025{refused})",
    )


def name_list(known: Sequence[str], what: str) -> Callable[[str], list[str]]:
    """An argparse ``type`` for a comma-separated list of names, each one of ``known``."""

    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or repr(text)} (known: {', '.join(known)})"
            )
        return names

    parse.__name__ = f"{what} list"  # argparse names the type in its "invalid ... value" fallback
    return parse


def add_chain_args(p: argparse.ArgumentParser, gas_limit: int = chain.DEFAULT_BLOCK_GAS_LIMIT) -> None:
    """--fork, --rpc-url, --private-key-env and --gas-limit (the embedded chain's block gas limit)."""
    g = p.add_argument_group("chain")
    add_fork_arg(g, node=True)
    g.add_argument(
        "--rpc-url",
        default=os.environ.get(chain.RPC_URL_ENV),
        help=f"JSON-RPC node to use (default ${chain.RPC_URL_ENV}; unset: a fresh embedded py-evm chain)",
    )
    g.add_argument(
        "--private-key-env",
        default=chain.PRIVATE_KEY_ENV,
        metavar="NAME",
        help=f"environment variable holding the sender's hex private key for --rpc-url "
        f"(default {chain.PRIVATE_KEY_ENV}; keys are never taken as arguments)",
    )
    g.add_argument(
        "--gas-limit",
        type=gas_limit_type,
        default=None,
        metavar="GAS",
        help=f"block gas limit of the embedded chain (default {gas_limit:,}; {INTRINSIC_GAS:,} to "
        f"{MAX_GAS_LIMIT:,}); a node (--rpc-url) has its own, so the two are refused together",
    )
    p.set_defaults(default_gas_limit=gas_limit)


def session_from_args(args: argparse.Namespace, newer_ok: bool = False) -> chain.ChainSession:
    """An RPC session when --rpc-url is set (refused unless the node runs --fork's rules), else a fresh
    embedded chain under --fork's rules with --gas-limit. ``newer_ok``: a node that runs a later fork
    than --fork passes (a contract deployed before the node's upgrade)."""
    if args.rpc_url:
        if args.gas_limit is not None:  # a node's block gas limit is its own: never silently ignored
            raise chain.ChainError(
                "--gas-limit sets the embedded chain's block gas limit; a node (--rpc-url) has its own "
                "(start anvil with --gas-limit N)"
            )
        return chain.rpc(args.rpc_url, args.private_key_env, fork=args.fork, newer_ok=newer_ok)
    gas_limit = args.gas_limit if args.gas_limit is not None else args.default_gas_limit
    return chain.embedded(gas_limit, fork=args.fork)
