"""Verkle fixtures: the real ceremony setup, a real snarkjs powers-of-tau file, small trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.verkle_data import clustered_pairs, make_ptau, random_pairs
from verkle.kzg import KZG
from verkle.schemes import load_scheme
from verkle.tree import VerkleTree


@pytest.fixture(scope="session")
def ptau_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ptau(tmp_path_factory.mktemp("ptau"), 5)


@pytest.fixture(scope="session")
def bls256() -> KZG:
    return load_scheme("kzg-bls12-381", 256)


@pytest.fixture(scope="session")
def bls16() -> KZG:
    return load_scheme("kzg-bls12-381", 16)


@pytest.fixture(scope="session")
def bn16(ptau_file: Path) -> KZG:
    return load_scheme("kzg-bn254", 16, ptau=ptau_file)


@pytest.fixture(scope="session")
def tree256(bls256: KZG) -> tuple[VerkleTree, dict[bytes, bytes]]:
    pairs = random_pairs(3000, 1) + clustered_pairs(40, 2)
    return VerkleTree.build(bls256, pairs, workers=1), dict(pairs)


@pytest.fixture(scope="session")
def tree16(bls16: KZG) -> tuple[VerkleTree, dict[bytes, bytes]]:
    pairs = random_pairs(200, 3) + clustered_pairs(30, 4)
    return VerkleTree.build(bls16, pairs, workers=1), dict(pairs)


@pytest.fixture(scope="session")
def tree_bn(bn16: KZG) -> tuple[VerkleTree, dict[bytes, bytes]]:
    pairs = random_pairs(24, 5) + clustered_pairs(6, 6)
    return VerkleTree.build(bn16, pairs, workers=1), dict(pairs)
