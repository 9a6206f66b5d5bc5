"""Shared fixtures: the real compiler, fresh embedded chains, a trained breast-cancer model."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from evmkit import chain
from evmkit.solc import Compiler, resolve_compiler

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
