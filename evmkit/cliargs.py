"""Command-line options both tools share (Foundry's conventions: --rpc-url with $ETH_RPC_URL, keys
from the environment, never as arguments), and the argparse types that refuse bad numbers in one line
(exit code 2) before anything runs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from . import chain

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

gas_limit_type = int_at_least(
    INTRINSIC_GAS, f"at least {INTRINSIC_GAS:,}, the gas of the cheapest transaction"
)
"""An argparse ``type`` for a block gas limit: at least one plain transaction's intrinsic gas."""


def add_chain_args(p: argparse.ArgumentParser, gas_limit: int = chain.DEFAULT_BLOCK_GAS_LIMIT) -> None:
    """--rpc-url, --private-key-env and --gas-limit (the embedded chain's block gas limit)."""
    g = p.add_argument_group("chain")
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
        default=gas_limit,
        metavar="GAS",
        help=f"block gas limit of the embedded chain (default {gas_limit:,}; at least {INTRINSIC_GAS:,})",
    )


def session_from_args(args: argparse.Namespace) -> chain.ChainSession:
    """An RPC session when --rpc-url is set, else a fresh embedded chain with --gas-limit."""
    if args.rpc_url:
        return chain.rpc(args.rpc_url, args.private_key_env)
    return chain.embedded(args.gas_limit)
