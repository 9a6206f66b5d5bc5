"""Helpers shared by the verkle tests: deterministic key sets and a real snarkjs .ptau file."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNARKJS = ROOT / "node_modules" / ".bin" / "snarkjs"


def make_ptau(directory: Path, power: int) -> Path:
    """A BN254 powers-of-tau file made by snarkjs itself: a new ceremony plus one contribution."""
    first, final = directory / "pot0.ptau", directory / "pot1.ptau"
    subprocess.run(
        [str(SNARKJS), "powersoftau", "new", "bn128", str(power), str(first)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [
            str(SNARKJS),
            "powersoftau",
            "contribute",
            str(first),
            str(final),
            "--name=tests",
            "-e=entropy for the test suite",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return final


def random_pairs(n: int, seed: int = 0) -> list[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    return [(rng.randbytes(32), rng.randbytes(32)) for _ in range(n)]


def clustered_pairs(n: int, seed: int = 0) -> list[tuple[bytes, bytes]]:
    """Keys sharing long prefixes, so paths run deep and leaves split and collapse."""
    rng = random.Random(seed)
    stem = rng.randbytes(28)
    return [
        (stem + rng.randbytes(1) + bytes([rng.randrange(4)]) + rng.randbytes(2), rng.randbytes(32))
        for _ in range(n)
    ]


def path_names(scheme_name: str) -> list[str]:
    """The names of a scheme's verifier paths, in the registry's order (its default first)."""
    from verkle.verifier_paths import paths_for

    return [p.name for p in paths_for(scheme_name)]
