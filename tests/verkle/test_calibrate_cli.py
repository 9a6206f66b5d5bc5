"""`python -m verkle.calibrate --help` prints its usage and exits: it measures nothing and leaves the
package's costs file (which every gas estimate reads) exactly as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from verkle import gasmodel

ROOT = Path(__file__).resolve().parents[2]


def test_help_prints_usage_and_leaves_the_costs_file_alone():
    costs = gasmodel.COSTS_FILE
    before = (costs.stat().st_mtime_ns, costs.read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "verkle.calibrate", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m verkle.calibrate")
    for option in ("--fork", "--output", "--dry-run", "--save"):
        assert option in done.stdout
    assert "measured" not in done.stdout and "wrote" not in done.stdout
    assert (costs.stat().st_mtime_ns, costs.read_bytes()) == before


def test_output_and_dry_run_parse_without_measuring(tmp_path):
    from verkle.calibrate import OUT, parse_args

    assert parse_args([]).output == OUT == gasmodel.COSTS_FILE
    args = parse_args(["--output", str(tmp_path / "costs.json")])
    assert args.output == tmp_path / "costs.json" and not args.dry_run
    assert parse_args(["--dry-run"]).dry_run
    assert parse_args([]).fork == ["prague", "osaka"]
    assert parse_args(["--fork", "osaka"]).fork == ["osaka"]
