"""Named commitment schemes: `kzg-bls12-381` (default, Ethereum ceremony) and `kzg-bn254` (.ptau file)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .curves import BN254
from .kzg import KZG
from .srs import SetupError, ceremony_setup, insecure_dev_setup, load_ptau

DEFAULT_SCHEME = "kzg-bls12-381"
DEFAULT_WIDTH = 256
SCHEMES = ("kzg-bls12-381", "kzg-bn254")


def load_scheme(name: str = DEFAULT_SCHEME, width: int = DEFAULT_WIDTH, *, ptau: Optional[str | Path] = None,
                insecure_dev_setup_ok: bool = False) -> KZG:
    """The scheme with its setup. BN254 needs a .ptau file, or an explicit opt-in to an insecure one."""
    if name == "kzg-bls12-381":
        return KZG(ceremony_setup(width))
    if name == "kzg-bn254":
        if ptau is not None:
            return KZG(load_ptau(ptau, width))
        if insecure_dev_setup_ok:
            return KZG(insecure_dev_setup(BN254, width, insecure=True))
        raise SetupError("kzg-bn254 needs a powers-of-tau file (--ptau FILE.ptau), "
                         "or --insecure-dev-setup for a throwaway local one")
    raise SetupError(f"unknown scheme {name!r} (known: {', '.join(SCHEMES)})")
