"""Analytic gas predictions against real receipts on the embedded chain."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkit import chain
from ml2sc.gasmodel import data_contract_creation
from ml2sc.layouts import data_contract_initcode


@pytest.fixture(scope="module")
def session():
    return chain.embedded()


@settings(max_examples=15)
@given(st.binary(min_size=1, max_size=24_575))
def test_data_contract_gas_is_exact(session, chunk: bytes) -> None:
    tx = session.send(None, data_contract_initcode(chunk))
    assert bytes(session.w3.eth.get_code(tx.contract_address)) == b"\x00" + chunk
    assert data_contract_creation(chunk).total == tx.gas_used
