"""Slither over every generated contract: ml2sc in each number format and weight layout, the Merkle
baseline and the Verkle verifiers of each scheme and width class.

High- and medium-impact findings fail unless tests/static/slither_triage.toml accepts them; an
accepted entry that no longer matches any finding of a kind it names fails as stale. Low and
informational findings are only counted in the summary printed at the end of the run. To see the
table alone: ``python tests/static/slither_report.py [KIND-GLOB ...]``.
"""

from __future__ import annotations

import json
import subprocess
from fnmatch import fnmatch

import pytest
from slither_report import TRIAGE_FILE
from slither_targets import VERKLE_WIDTHS, all_targets

from evmkit import slither
from evmkit.slither import Target
from evmkit.solc import SOLC_VERSION
from ml2sc.layouts import LAYOUTS
from ml2sc.plan import MODES
from verkle.schemes import SCHEMES


@pytest.fixture(scope="module")
def targets() -> list[Target]:
    return all_targets()


@pytest.fixture(scope="module")
def findings(targets) -> list[slither.Finding]:
    return slither.run_all(targets)


@pytest.fixture(scope="module")
def triage() -> list[slither.Accepted]:
    return slither.load_triage(TRIAGE_FILE)


def test_every_generator_and_variant_is_analysed(targets) -> None:
    """A new number format, weight layout or commitment scheme must join the analysis."""
    kinds = {t.kind for t in targets}
    ml2sc = {f"ml2sc/{mode}/{layout}" for mode in MODES for layout in LAYOUTS}
    assert set(VERKLE_WIDTHS) == set(SCHEMES)
    verkle = {f"verkle/{scheme}/w{w}" for scheme, widths in VERKLE_WIDTHS.items() for w in widths}
    assert kinds == ml2sc | verkle | {"merkle"}
    assert len({t.contract for t in targets}) == len(targets)


@pytest.mark.slow
def test_high_and_medium_findings_are_triaged_and_the_triage_is_current(
    targets, findings, triage, slither_reports
) -> None:
    verdict = slither.judge(findings, triage, [t.kind for t in targets])
    report = slither.report_text(verdict, triage)
    slither_reports.append(report)
    assert verdict.ok, report


def test_triage_entries_are_complete_and_name_existing_kinds(triage, targets) -> None:
    assert triage, "the triage file lists no entries"
    assert all(a.kinds and a.reason.strip() for a in triage)
    for entry in triage:
        for pattern in entry.kinds:
            assert any(fnmatch(t.kind, pattern) for t in targets), f"{pattern!r} names no contract kind"


def test_judge_fails_on_untriaged_and_stale_only_in_analysed_kinds() -> None:
    shift = slither.Finding("ml2sc/int8/code", "incorrect-shift", "High", "High", "_layer0", "...")
    info = slither.Finding("ml2sc/int8/code", "assembly", "Informational", "High", "_layer0", "...")
    accepted = slither.Accepted(("ml2sc/int8/*",), "incorrect-shift", "_layer*", "intended")
    elsewhere = slither.Accepted(("verkle/*",), "incorrect-shift", "_levels", "intended")
    assert slither.judge([shift, info], [accepted, elsewhere], ["ml2sc/int8/code"]).ok
    verdict = slither.judge([shift, info], [], ["ml2sc/int8/code"])
    assert verdict.untriaged == (shift,)
    verdict = slither.judge([info], [accepted], ["ml2sc/int8/code", "ml2sc/fixed/code"])
    assert verdict.stale == ((accepted, "ml2sc/int8/code"),) and not verdict.untriaged


def test_a_contract_slither_cannot_compile_is_a_failure_not_a_clean_report() -> None:
    broken = Target("broken", "Broken", "pragma solidity ^0.8.24;\ncontract Broken { function f( }\n")
    with pytest.raises(slither.SlitherFailed, match=r"(?s)on broken.*ParserError"):
        slither.run_slither(broken)


def test_solc_shim_answers_version_and_standard_json_and_refuses_the_rest(tmp_path) -> None:
    from evmkit.solc_shim import write_launcher

    solc = write_launcher(tmp_path)
    version = subprocess.run([str(solc), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and f"Version: {SOLC_VERSION}" in version.stdout
    (tmp_path / "A.sol").write_text("pragma solidity ^0.8.24; contract A { uint256 public x; }")
    request = {
        "language": "Solidity",
        "sources": {"A.sol": {"urls": ["A.sol"]}},
        "settings": {"outputSelection": {"*": {"*": ["abi"], "": ["ast"]}}},
    }
    compiled = subprocess.run(
        [str(solc), "--standard-json", "--allow-paths", str(tmp_path)],
        cwd=tmp_path,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = json.loads(compiled.stdout)
    assert output["contracts"]["A.sol"]["A"]["abi"] and "ast" in output["sources"]["A.sol"]
    legacy = subprocess.run(
        [str(solc), "A.sol", "--combined-json", "abi"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert legacy.returncode == 2 and "only --version and --standard-json" in legacy.stderr
