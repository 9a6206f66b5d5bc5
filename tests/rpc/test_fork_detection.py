"""A node's rules, found out by probing, and a mismatch with the fork asked for refused in one line."""

from __future__ import annotations

import pytest

from evmkit import chain
from evmkit.anvil import start_anvil
from evmkit.cliargs import add_chain_args, session_from_args


@pytest.mark.rpc
@pytest.mark.parametrize(
    ("hardfork", "found"), [("shanghai", None), ("cancun", "cancun"), ("prague", "prague")]
)
def test_a_node_is_refused_unless_it_runs_the_fork_asked_for(hardfork, found) -> None:
    with start_anvil(hardfork=hardfork) as node:
        reader = chain.rpc_reader(node.url)  # no fork asked: whatever the node runs
        assert (reader.fork.name if reader.fork else None) == found and reader.tx_gas_cap is None
        with pytest.raises(chain.ForkMismatch) as refused:
            chain.rpc(node.url, key=node.private_keys[0], fork="osaka")
        message = str(refused.value)
        assert message.startswith(f"RPC node {node.url} runs ") and "Osaka" in message
        if found is None:
            assert "older than Cancun" in message and "known here are cancun, prague, osaka" in message
        else:
            assert f"pass --fork {found} (fork='{found}')" in message
            assert "(no EIP-7939's CLZ opcode)" in message
            assert chain.rpc(node.url, key=node.private_keys[0], fork=found).fork.name == found


@pytest.mark.rpc
def test_an_osaka_node_is_osaka_and_caps_transactions_and_the_cli_options_follow(monkeypatch) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_chain_args(parser)
    with start_anvil() as node:  # the default: osaka
        session = chain.rpc(node.url, key=node.private_keys[0], fork="osaka")
        assert session.fork.name == "osaka" and session.gas_cap == 2**24
        with pytest.raises(chain.ForkMismatch, match=r"runs Osaka rules, not Prague's: .* pass --fork osaka"):
            chain.rpc_reader(node.url, fork="prague")
        monkeypatch.setenv(chain.PRIVATE_KEY_ENV, node.private_keys[0])
        args = parser.parse_args(["--rpc-url", node.url, "--fork", "prague"])
        with pytest.raises(chain.ForkMismatch):
            session_from_args(args)
    embedded = session_from_args(parser.parse_args(["--fork", "prague"]))
    assert embedded.rpc_url is None and embedded.fork.name == "prague" and embedded.tx_gas_cap is None
