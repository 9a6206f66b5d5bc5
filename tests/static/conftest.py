"""Prints the Slither summary table at the end of a run that analysed the contracts."""

from __future__ import annotations

import pytest

_REPORTS: list[str] = []


@pytest.fixture(scope="session")
def slither_reports() -> list[str]:
    """Texts to print in the terminal summary, where a passing test's output would not show."""
    return _REPORTS


def pytest_terminal_summary(terminalreporter) -> None:
    for text in _REPORTS:
        terminalreporter.write_sep("-", "slither summary")
        terminalreporter.write_line(text)
