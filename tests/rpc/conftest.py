"""A real node for the RPC tests: anvil from npm, one per test module, on a free loopback port."""

from __future__ import annotations

import pytest

from evmkit.anvil import start_anvil


@pytest.fixture(scope="module")
def anvil():
    with start_anvil() as node:
        yield node
