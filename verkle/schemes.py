"""Named commitment schemes: one `Scheme` record each, and `load_scheme` for a scheme with its setup.

`kzg-bls12-381` (the default) uses the Ethereum KZG ceremony; `kzg-bn254` a snarkjs .ptau file. The
record holds what the rest of the package must agree on for a scheme: its curve, its id in the proof
encoding, how its verifier contract is rendered and compiled, the precompiles that contract calls and
the byte sizes its multiproof walk lays out in memory (the template and the gas model both read them).
Pure: no chain, no web3.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evmkit.forks import FORKS, Fork, get_fork

from .curves import BLS12_381, BN254, Curve
from .kzg import KZG
from .registry import Registry
from .srs import SetupError, ceremony_setup, insecure_dev_setup, load_ptau

__all__ = [
    "DEFAULT_SCHEME",
    "DEFAULT_WIDTH",
    "SCHEMES",
    "ForkUnsupported",
    "MemoryLayout",
    "Scheme",
    "load_scheme",
]

DEFAULT_SCHEME = "kzg-bls12-381"
DEFAULT_WIDTH = 256


class ForkUnsupported(ValueError):
    """A scheme whose verifier calls precompiles the fork's rules lack (BLS12-381 before Prague): refused
    by name before anything is compiled, deployed or priced."""


@dataclass(frozen=True)
class MemoryLayout:
    """Bytes per item in the multiproof walk's memory, by curve (multiproof_core.yul.j2 lays them out,
    gasmodel.memory_words prices the same layout)."""

    point: int  # a point in the proof's calldata: x || y (48 or 32 bytes a coordinate)
    term: int  # one MSM input term: the point as its precompile reads it (EIP-2537 pads a coordinate to
    #            64 bytes), then its 32-byte scalar
    scalar_at: int  # where the scalar starts inside a term
    header_len: int  # transcript bytes before the claims: domain label, scheme and width, root, key count


@dataclass(frozen=True)
class Scheme:
    """A commitment scheme and its verifier contract's fixed facts."""

    name: str
    curve: Curve
    proof_id: int  # the scheme's id in the proof's byte encoding (and its transcript)
    label: str  # in contract names: VerkleVerifier<label>W<width>
    template: str  # the verifier's Jinja template in verkle/templates
    min_fork: str  # the oldest fork of evmkit.forks.FORKS whose rules have every precompile it calls
    needs: str  # what min_fork added that the verifier calls, for the refusal's message
    legacy_evm_version: str | None  # compiled for this old target (to run on older chains) where the fork
    #                                 has no CLZ; None: always for the fork's own evmVersion
    precompiles: tuple[str, ...]  # evmkit.precompiles.registry() names: the constructor probes each
    layout: MemoryLayout

    @property
    def point_size(self) -> int:
        """Bytes of a point in this package's encoding (the proof, the root)."""
        return self.curve.point_size

    def check_fork(self, fork: str | Fork | None = None) -> Fork:
        """The fork record (default: evmkit's default, Osaka), or ForkUnsupported where its rules lack
        a precompile this scheme's verifier calls."""
        rules = get_fork(fork)
        oldest = get_fork(self.min_fork).order
        if rules.order < oldest:
            others = [s.name for s in SCHEMES.values() if get_fork(s.min_fork).order <= rules.order]
            newer = ", ".join(list(FORKS)[oldest:])
            hint = f"; --scheme {' or '.join(others)} runs there" if others else ""
            raise ForkUnsupported(
                f"{self.name} verifiers call {self.needs}, which {rules.name} rules lack: nothing was "
                f"compiled or deployed; use --fork {newer.replace(', ', ' or ')} (fork=...){hint}"
            )
        return rules

    def uses_clz(self, fork: str | Fork | None = None) -> bool:
        """Whether the verifier uses EIP-7939's CLZ (for the key prefixes the walk compares) under ``fork``:
        wherever the fork has the opcode (it saves gas on every path that walks keys)."""
        return self.check_fork(fork).clz

    def evm_version(self, fork: str | Fork | None = None) -> str:
        """What the verifier compiles for under ``fork``: the fork's evmVersion, or the scheme's old
        target where it keeps one and the fork has no CLZ for it to use."""
        rules = self.check_fork(fork)
        if self.legacy_evm_version is not None and not rules.clz:
            return self.legacy_evm_version
        return rules.evm_version


SCHEMES: Registry[Scheme] = Registry(
    "scheme",
    (
        Scheme(
            "kzg-bls12-381",
            BLS12_381,
            1,
            "BLS",
            "VerifierBLS.sol.j2",
            "prague",
            "EIP-2537's BLS12-381 precompiles (G1ADD, G1MSM, pairing)",
            None,
            ("SHA256", "MODEXP", "POINT_EVALUATION", "BLS12_G1ADD", "BLS12_G1MSM", "BLS12_PAIRING_CHECK"),
            MemoryLayout(point=96, term=160, scalar_at=128, header_len=72),
        ),
        # BN254 verifiers are for chains without Prague's precompiles, many of them older still: compiled for
        # Paris they use no opcode newer than the Merge (no PUSH0, no MCOPY), so they run on any chain since
        # Constantinople (SHL/SHR) that has the Byzantium precompiles. Under Osaka they compile for Osaka
        # instead, where CLZ (and PUSH0) make every verification cheaper. BLS12-381 verifiers need Prague.
        Scheme(
            "kzg-bn254",
            BN254,
            2,
            "BN254",
            "VerifierBN254.sol.j2",
            "cancun",
            "the Byzantium precompiles",
            "paris",
            ("MODEXP_BN254", "ECADD", "ECMUL", "ECPAIRING"),
            MemoryLayout(point=64, term=96, scalar_at=64, header_len=88),
        ),
    ),
    doc="The schemes by name (`SCHEMES[name]`: UnknownName for one it lacks).",
)


def load_scheme(
    name: str = DEFAULT_SCHEME,
    width: int = DEFAULT_WIDTH,
    *,
    ptau: str | Path | None = None,
    insecure_dev_setup_ok: bool = False,
) -> KZG:
    """The scheme with its setup. BN254 needs a .ptau file, or an explicit opt-in to an insecure one;
    BLS12-381 always uses the Ethereum KZG ceremony, so a .ptau file for it is refused, not ignored."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a scheme name (str: {', '.join(SCHEMES)}), got {type(name).__name__}")
    if not isinstance(width, int) or isinstance(width, bool):
        raise TypeError(f"width must be an int (a power of two, e.g. 256), got {type(width).__name__}")
    record = SCHEMES[name]
    if record.curve is BLS12_381:
        if ptau is not None:
            raise SetupError(
                f"{name} always uses the Ethereum KZG ceremony: a .ptau file is for kzg-bn254 only "
                f"(got ptau={str(ptau)!r})"
            )
        return KZG(ceremony_setup(width))
    if ptau is not None:
        return KZG(load_ptau(ptau, width))
    if insecure_dev_setup_ok:
        return KZG(insecure_dev_setup(BN254, width, insecure=True))
    raise SetupError(
        "kzg-bn254 needs a powers-of-tau file (--ptau FILE.ptau), "
        "or --insecure-dev-setup for a throwaway local one"
    )
