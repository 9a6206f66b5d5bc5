"""Slither over the generated contracts, offline, with a triage file of accepted findings.

Slither compiles through crytic-compile, which wants a native ``solc``; here it gets
:mod:`evmkit.solc_shim`, a ``solc`` command over the project's own compiler (the pinned solc-js),
run with ``--solc-standard-json`` and given both as ``--solc`` and first on ``PATH`` (crytic-compile
0.3 runs plain ``solc`` for the compilation itself). Each contract is analysed by its own Slither
process, in a fresh folder, two at a time; the compiler gets the settings the project builds it with.

A finding is keyed by the contract's :class:`Target` kind (the test suite's ``tests/static/targets.py``
names them: generator and variant), the detector and
``where``: the function it is in, or the name of the flagged variable or contract (line numbers
move with every template edit; function names do not). The triage file lists accepted findings::

    [[accepted]]
    kinds = ["ml2sc/*"]        # globs over kinds
    detector = "incorrect-shift"
    where = "predict"          # a glob too
    reason = "why this is intended, in one line"

High- and medium-impact findings must be triaged; an entry that matches nothing in a kind it names
that was analysed is stale. ``python tests/static/report.py [KIND-GLOB ...]`` prints the summary table.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from .errors import EvmkitError
from .solc import compile_sources, default_settings
from .solc_shim import SETTINGS_ENV, write_launcher

TIMEOUT_S = 600
WORKERS = 2
FAILING_IMPACTS = ("High", "Medium")
IMPACT_ORDER = ("High", "Medium", "Low", "Informational", "Optimization")


@dataclass(frozen=True)
class Target:
    """One contract to analyse: its triage ``kind``, contract name, source and compiler settings."""

    kind: str
    contract: str
    source: str
    settings: dict[str, Any] = field(default_factory=default_settings, compare=False)

    @property
    def file_name(self) -> str:
        return f"{self.contract}.sol"


class SlitherFailed(EvmkitError):
    """Slither did not run to the end: there are no findings to read, not zero findings."""


@dataclass(frozen=True)
class Finding:
    kind: str
    detector: str
    impact: str
    confidence: str
    where: str
    description: str  # the first line of Slither's description
    details: str = field(default="", compare=False)  # the lines after it: the flagged statements

    def describe(self, details: bool = False) -> str:
        where = f"in {self.where}: {self.description}"
        text = f"[{self.kind}] {self.detector} ({self.impact}/{self.confidence}) {where}"
        return f"{text}\n{self.details}" if details and self.details else text


@dataclass(frozen=True)
class Accepted:
    kinds: tuple[str, ...]
    detector: str
    where: str
    reason: str

    def covers_kind(self, kind: str) -> bool:
        return any(fnmatch(kind, pattern) for pattern in self.kinds)

    def matches(self, finding: Finding) -> bool:
        return (
            self.covers_kind(finding.kind)
            and finding.detector == self.detector
            and fnmatch(finding.where, self.where)
        )

    def describe(self) -> str:
        return f"{self.detector} in {self.where} for {', '.join(self.kinds)} ({self.reason})"


@dataclass(frozen=True)
class Verdict:
    findings: tuple[Finding, ...]
    untriaged: tuple[Finding, ...]  # high or medium impact, in no triage entry
    stale: tuple[tuple[Accepted, str], ...]  # (entry, an analysed kind it names with no match)

    @property
    def ok(self) -> bool:
        return not self.untriaged and not self.stale


def location(element: dict[str, Any]) -> str:
    """The function an element is (or is in: a statement, a local variable), else its own name."""
    if element.get("type") in ("function", "modifier"):
        return element["name"]
    parent = element.get("type_specific_fields", {}).get("parent", {})
    if parent.get("type") in ("function", "modifier"):
        return parent["name"]
    return element.get("name") or element.get("type", "?")


def parse_findings(kind: str, report: dict[str, Any]) -> list[Finding]:
    if not report.get("success"):
        raise SlitherFailed(f"slither failed on {kind}: {report.get('error')}")
    findings = []
    for result in report.get("results", {}).get("detectors", []):
        elements = result.get("elements") or [{}]
        first, _, rest = result["description"].strip().partition("\n")
        findings.append(
            Finding(
                kind,
                result["check"],
                result["impact"],
                result["confidence"],
                location(elements[0]),
                first,
                rest.rstrip(),
            )
        )
    return findings


def slither_command(launcher: Path, report: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "slither",
        ".",
        "--solc-standard-json",
        "--solc",
        str(launcher),
        "--json",
        str(report),
        "--json-types",
        "detectors",
        "--fail-none",
        "--disable-color",
    ]


def run_slither(target: Target, timeout: float = TIMEOUT_S) -> list[Finding]:
    """Analyse one contract; raise :class:`SlitherFailed` unless Slither ran to the end."""
    with tempfile.TemporaryDirectory(prefix="slither-") as tmp:
        work = Path(tmp)
        source_dir = work / "src"
        source_dir.mkdir()
        (source_dir / target.file_name).write_text(target.source)
        launcher = write_launcher(work)
        report = work / "report.json"
        env = {
            **os.environ,
            SETTINGS_ENV: json.dumps(target.settings),
            "PATH": os.pathsep.join([str(work), os.environ.get("PATH", "")]),
        }
        try:
            proc = subprocess.run(
                slither_command(launcher, report),
                cwd=source_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise SlitherFailed(f"slither on {target.kind} ran past {timeout:.0f} s") from None
        analysed = re.search(r"analyzed \((\d+) contracts", proc.stderr)
        if proc.returncode != 0 or not report.is_file() or not analysed or analysed[1] == "0":
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
            raise SlitherFailed(
                f"slither on {target.kind} exited with {proc.returncode}, "
                f"analysing {analysed[1] if analysed else 'no'} contracts:\n{tail}"
                f"{compiler_diagnostics(target)}"
            )
        return parse_findings(target.kind, json.loads(report.read_text()))


def compiler_diagnostics(target: Target) -> str:
    """solc's errors for the target, if it does not compile (Slither only says it could not)."""
    try:
        compile_sources({target.file_name: target.source}, target.contract, settings=target.settings)
    except EvmkitError as exc:
        return f"\nsolc: {exc}"
    return ""


def run_all(targets: Sequence[Target], workers: int = WORKERS) -> list[Finding]:
    slither_version()  # not installed is a failure, not an empty report
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [f for findings in pool.map(run_slither, targets) for f in findings]


def load_triage(path: Path) -> list[Accepted]:
    data = tomllib.loads(path.read_text())
    entries = []
    for raw in data.get("accepted", []):
        missing = {"kinds", "detector", "where", "reason"} - set(raw)
        if missing or not str(raw["reason"]).strip():
            raise EvmkitError(f"{path}: triage entry {raw} lacks {', '.join(sorted(missing)) or 'a reason'}")
        entries.append(Accepted(tuple(raw["kinds"]), raw["detector"], raw["where"], raw["reason"]))
    return entries


def judge(findings: Iterable[Finding], triage: Sequence[Accepted], kinds: Iterable[str]) -> Verdict:
    """Untriaged high/medium findings, and entries stale in a kind analysed in this run."""
    findings = tuple(findings)
    untriaged = tuple(
        f for f in findings if f.impact in FAILING_IMPACTS and not any(a.matches(f) for a in triage)
    )
    stale = tuple(
        (a, kind)
        for a in triage
        for kind in sorted(set(kinds))
        if a.covers_kind(kind) and not any(a.matches(f) for f in findings if f.kind == kind)
    )
    return Verdict(findings, untriaged, stale)


def slither_version() -> str:
    try:
        return importlib.metadata.version("slither-analyzer")
    except importlib.metadata.PackageNotFoundError:
        raise SlitherFailed(
            "slither-analyzer is not installed: run ./run.sh setup (it is in the test extra)"
        ) from None


def triage_label(impact: str, accepted: Sequence[bool]) -> str:
    if all(accepted):
        return "yes"
    if any(accepted):
        return "partly"
    return "no" if impact in FAILING_IMPACTS else "-"  # low and informational need no entry


def summary_rows(
    findings: Iterable[Finding], triage: Sequence[Accepted]
) -> list[tuple[str, str, str, int, str]]:
    """(kind, detector, impact, count, triaged) per kind and detector, most severe first."""
    accepted: dict[tuple[str, str, str], list[bool]] = {}
    for f in findings:
        accepted.setdefault((f.kind, f.detector, f.impact), []).append(any(a.matches(f) for a in triage))
    rows = [
        (kind, detector, impact, len(flags), triage_label(impact, flags))
        for (kind, detector, impact), flags in accepted.items()
    ]
    return sorted(rows, key=lambda r: (r[0], IMPACT_ORDER.index(r[2]) if r[2] in IMPACT_ORDER else 9, r[1]))


def format_table(rows: Sequence[tuple[Any, ...]], header: Sequence[str]) -> str:
    cells = [tuple(map(str, header)), *(tuple(map(str, r)) for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i != 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_text(verdict: Verdict, triage: Sequence[Accepted]) -> str:
    parts = [
        f"Slither {slither_version()}, {len(verdict.findings)} findings",
        format_table(
            summary_rows(verdict.findings, triage), ("contract", "detector", "impact", "count", "triaged")
        ),
    ]
    if verdict.untriaged:
        parts.append(
            "Untriaged high/medium findings:\n"
            + "\n".join(f"  {f.describe(details=True)}" for f in verdict.untriaged)
        )
    if verdict.stale:
        parts.append(
            "Stale triage entries (no finding in an analysed kind they name):\n"
            + "\n".join(f"  {kind}: {a.describe()}" for a, kind in verdict.stale)
        )
    return "\n\n".join(parts)
