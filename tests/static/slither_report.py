"""Print Slither's summary table for the project's contracts, without pytest.

    python tests/static/slither_report.py [KIND-GLOB ...]     # e.g. 'verkle/*' or 'ml2sc/int8/*'

Exit status 0 when every high- and medium-impact finding is triaged and no triage entry is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path

from slither_targets import all_targets

from evmkit import slither

TRIAGE_FILE = Path(__file__).resolve().with_name("slither_triage.toml")


def main(argv: Sequence[str] | None = None) -> int:
    """Analyse the contracts whose kind matches a glob; print the table; 1 if not clean."""
    patterns = list(sys.argv[1:] if argv is None else argv) or ["*"]
    targets = [t for t in all_targets() if any(fnmatch(t.kind, p) for p in patterns)]
    if not targets:
        print(f"no contract kind matches {' '.join(patterns)}", file=sys.stderr)
        return 2
    triage = slither.load_triage(TRIAGE_FILE)
    verdict = slither.judge(slither.run_all(targets), triage, [t.kind for t in targets])
    print(slither.report_text(verdict, triage))
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
