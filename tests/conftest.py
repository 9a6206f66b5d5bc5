"""Shared fixtures: the real compiler, fresh embedded chains, a trained breast-cancer model."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from evmkit import chain, txlog
from evmkit.solc import Compiler, resolve_compiler

LAST = "test_zz_equal_gas.py"
"""Replays every transaction the suite sent on the embedded chain: it runs last, whatever the order."""

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def compiler() -> Compiler:
    return resolve_compiler()


@pytest.fixture
def session() -> chain.ChainSession:
    return chain.embedded()


@pytest.fixture(scope="session")
def breast_cancer():
    from ml2sc.datasets import load_split, train_mlp

    split = load_split("breast_cancer")
    return split, train_mlp(split, hidden=(16, 8))


def pytest_configure(config: pytest.Config) -> None:
    """Log every embedded-chain transaction of this run (child processes too) for the equal-gas test."""
    if not os.environ.get(txlog.ENV):
        handle, path = tempfile.mkstemp(prefix="evmkit-txlog-", suffix=".jsonl")
        os.close(handle)
        os.environ[txlog.ENV] = path
        config.add_cleanup(lambda: os.path.exists(path) and os.remove(path))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == LAST)  # stable: the rest keep their order
