"""Command-line options both tools share (Foundry's conventions: --rpc-url with $ETH_RPC_URL, keys
from the environment, never as arguments)."""

from __future__ import annotations

import argparse
import os

from . import chain


def add_chain_args(p: argparse.ArgumentParser, gas_limit: int = chain.DEFAULT_BLOCK_GAS_LIMIT) -> None:
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
        type=int,
        default=gas_limit,
        help=f"block gas limit of the embedded chain (default {gas_limit:,})",
    )


def session_from_args(args: argparse.Namespace) -> chain.ChainSession:
    if args.rpc_url:
        return chain.rpc(args.rpc_url, args.private_key_env)
    return chain.embedded(args.gas_limit)
