"""The verifier contract, pure: its Solidity source (rendered from the scheme's template), its compiled
artifact and its ABI, and the calldata of a proof document for one of its paths.

The BLS12-381 verifier takes points as the EIP-2537 precompiles want them (x || y, 48 bytes each,
padded to 64 in memory) except where 0x0a takes compressed points: the per-level openings and the
multiproof's final pi. Compiling needs solc (offline, cached on disk); nothing here needs a chain.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from py_arkworks_bls12381 import G1Point
from py_ecc import optimized_bn128 as bn

from evmkit import gas as g
from evmkit import precompiles as pc
from evmkit.forks import Fork, get_fork
from evmkit.resources import contract_source, render
from evmkit.solc import Artifact, Compiler, compile_sources, compile_standard, default_settings

from .calldata import encode_call
from .curves import BLS12_381_Q
from .hashing import keccak256
from .kzg import KZG
from .proof import MULTI, ProofDocument
from .schemes import SCHEMES, load_scheme
from .slots import KeyLayout
from .verifier_paths import PATHS, paths_for

__all__ = [
    "WALK_STATE_BYTES",
    "call_data",
    "compile_merkle",
    "compile_verifier",
    "merkle_abi",
    "multiproof_memory_base",
    "render_verifier",
    "table_bytes",
    "verifier_abi",
    "verifier_name",
    "verifier_settings",
]

SELECTORS = {
    "BadLength": "BadLength()",
    "BadPathByte": "BadPathByte(uint256)",
    "KeysNotSorted": "KeysNotSorted(uint256)",
    "NonCanonicalValue": "NonCanonicalValue(uint256)",
    "NonCanonicalEncoding": "NonCanonicalEncoding()",
    "PrecompileUnavailable": "PrecompileUnavailable(address)",
    "PrecompileOutOfGas": "PrecompileOutOfGas(address)",
}

# gas a checked precompile call must have left beyond the price it forwards (and 1/63 of it, which
# EIP-150 keeps back): the CALL's own 100 gas, a little stack work and any memory expansion
CALL_RESERVE_GAS = 1_000

# the multiproof walk's fixed layout from its base: 512 bytes of scratch, 512 of inputs, 12 state words;
# the previous path's node ids follow (multiproof_core.yul.j2 and gasmodel.memory_words both use it)
WALK_STATE_BYTES = 1408


def table_bytes(width: int) -> int:
    """Bytes of the two w^index tables a verifier of this width carries (and copies to memory)."""
    bits = KeyLayout(width).bits
    return 32 * (2 ** (bits - bits // 2) + 2 ** (bits // 2))


def multiproof_memory_base(width: int) -> int:
    """Where the multiproof walk's fixed memory layout starts: above Solidity's scratch and zero slot,
    1 KiB for values the optimizer may move to memory, the returned point and the copied w^index
    tables (the verifier reverts if Solidity's free memory pointer is ever past it)."""
    return -(-(0x80 + 0x400 + 0x80 + 0x20 + table_bytes(width)) // 32) * 32


# ---------------------------------------------------------------- the source


def verifier_name(scheme: KZG) -> str:
    """The contract's name: VerkleVerifier<curve label>W<width>."""
    return f"VerkleVerifier{SCHEMES[scheme.name].label}W{scheme.width}"


def _split48(value: int) -> tuple[str, str]:
    """A 48-byte number as the two 32-byte words of its 64-byte EIP-2537 encoding."""
    return hex(value >> 256), hex(value & (2**256 - 1))


def _words(data: bytes) -> list[str]:
    """Big-endian 48-byte field elements -> EIP-2537 words (hi 16 bytes, lo 32 bytes) each."""
    out = []
    for i in range(0, len(data), 48):
        out.extend(_split48(int.from_bytes(data[i : i + 48], "big")))
    return out


def _packed_discounts() -> list[str]:
    """EIP-2537's G1MSM discount table as words of 25 ten-bit entries (the verifier prices its MSMs)."""
    table = g.G1MSM_DISCOUNTS
    return [
        hex(sum(d << (10 * j) for j, d in enumerate(table[i : i + 25]))) for i in range(0, len(table), 25)
    ]


def _extra_terms(scheme: KZG, ctx_base: int) -> str:
    """The MSM terms beyond the listed commitments, as a Yul expression: the multiproof path's number,
    or where a scheme has two (BLS12-381), the one the pairing flag (stored at ctx + 704) picks."""
    multi = paths_for(scheme.name, MULTI)
    if len(multi) == 1:
        return str(multi[0].msm_extra)
    base, pairing = PATHS["msm-point-evaluation"], PATHS["msm-pairing"]
    return f"add({base.msm_extra}, mul(mload({ctx_base + 704}), {pairing.msm_extra - base.msm_extra}))"


def _common(scheme: KZG, clz: bool) -> dict[str, object]:
    """Template values every scheme shares: field, key layout, w^index tables, error selectors,
    precompile probes and prices, the memory layout, and whether to use EIP-7939's CLZ."""
    f = scheme.field
    record = SCHEMES[scheme.name]
    lay = KeyLayout(scheme.width)
    half_bits = lay.bits // 2
    w = scheme.domain.points
    tables = [w[j << half_bits] for j in range(2 ** (lay.bits - half_bits))] + [
        w[j] for j in range(2**half_bits)
    ]
    ctx_base = multiproof_memory_base(scheme.width)
    return dict(
        width=scheme.width,
        bits=lay.bits,
        levels=lay.levels,
        p=hex(f.modulus),
        p_minus_1=hex(f.modulus - 1),
        p_minus_2=hex(f.modulus - 2),
        half_bits=half_bits,
        omega_tables="".join(x.to_bytes(32, "big").hex() for x in tables),
        ctx_base=ctx_base,
        state_bytes=WALK_STATE_BYTES,
        selectors={name: "0x" + keccak256(sig.encode())[:4].hex() for name, sig in SELECTORS.items()},
        call_reserve=CALL_RESERVE_GAS,
        blob_size=pc.FIELD_ELEMENTS_PER_BLOB,
        probes=[
            dict(
                address=hex(p.address),
                gas=p.gas,
                input=p.probe_input.hex(),
                output=p.probe_output.hex(),
                label=p.label,
            )
            for p in map(pc.registry().get, record.precompiles)
        ],
        gas=dict(
            POINT_EVALUATION=g.POINT_EVALUATION_PRECOMPILE_GAS,
            SHA256=g.sha256_gas(48),
            MODEXP=g.MODEXP_32_GAS_BOUND,
            G1ADD=g.BLS12_G1ADD_GAS,
            G1MSM_PER_POINT=g.BLS12_G1MSM_MUL_GAS,
            BLS_PAIRING_2=g.bls_pairing_gas(2),
            ECADD=g.ECADD_GAS,
            ECMUL=g.ECMUL_GAS,
            BN_PAIRING_2=g.bn_pairing_gas(2),
        ),
        msm_discount_words=_packed_discounts(),
        msm_discount_last=len(g.G1MSM_DISCOUNTS) - 1,
        term=record.layout.term,
        scalar_at=record.layout.scalar_at,
        pt=record.layout.point,
        header_len=record.layout.header_len,
        extra_terms=_extra_terms(scheme, ctx_base),
        clz=clz,
    )


def _bn_g2_words(point: object) -> list[str]:
    """EIP-197 order: x imaginary, x real, y imaginary, y real."""
    x, y = bn.normalize(point)
    return [hex(int(c)) for c in (x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0])]


def _bls_context(scheme: KZG) -> dict[str, object]:
    q_hi, q_lo = _split48(BLS12_381_Q)
    half_hi, half_lo = _split48((BLS12_381_Q - 1) // 2)
    return dict(
        curve="bls",
        q_hi=q_hi,
        q_lo=q_lo,
        half_hi=half_hi,
        half_lo=half_lo,
        g1=_words(bytes(G1Point().to_xy_bytes_be())),
        g2=_words(bytes(scheme.curve.g2_generator().to_xy_bytes_be())),
        g2_tau=_words(bytes(scheme.setup.g2_tau.to_xy_bytes_be())),
    )


def _bn_context(scheme: KZG) -> dict[str, object]:
    return dict(
        curve="bn", q=hex(bn.field_modulus), g2=_bn_g2_words(bn.G2), g2_tau=_bn_g2_words(scheme.setup.g2_tau)
    )


# each scheme's template's own values: its curve's constants in the encodings its precompiles read
_CURVE_CONTEXT: dict[str, Callable[[KZG], dict[str, object]]] = {
    "kzg-bls12-381": _bls_context,
    "kzg-bn254": _bn_context,
}


def render_verifier(
    scheme: KZG, name: str | None = None, fork: str | Fork | None = None, *, clz: bool | None = None
) -> str:
    """The verifier contract's Solidity source for a scheme with its setup, at its width, for ``fork``'s
    rules (default Osaka; a fork without the scheme's precompiles is refused: ForkUnsupported). ``clz``:
    use EIP-7939's CLZ opcode (default: where the fork has it; False shows what it saves)."""
    record = SCHEMES[scheme.name]
    use_clz = record.uses_clz(fork)
    if clz is not None:
        if clz and not use_clz:
            raise ValueError(f"CLZ (EIP-7939) is an Osaka opcode: {get_fork(fork).name} rules lack it")
        use_clz = clz
    return render(
        "verkle",
        record.template,
        name=name or verifier_name(scheme),
        **_CURVE_CONTEXT[record.name](scheme),
        **_common(scheme, use_clz),
    )


# ---------------------------------------------------------------- compiled


def verifier_settings(evm_version: str | None = None) -> dict[str, Any]:
    """The compiler settings verifiers (and the Merkle baseline) are deployed with (``evm_version``:
    default the default fork's)."""
    settings = default_settings(evm_version or get_fork().evm_version)
    settings["viaIR"] = True  # the verifier's walk keeps more values alive than the legacy stack allows
    # tuned for calls: at 200 runs the optimizer reads the 32-byte field modulus from code with
    # CODECOPY at every use inside the loops; 20,000 keeps it a PUSH32 and still fits a width-4096
    # verifier under EIP-170's 24,576 bytes (a test checks every width)
    settings["optimizer"] = {"enabled": True, "runs": 20_000}
    return settings


def compile_verifier(
    scheme: KZG, compiler: Compiler | None = None, fork: str | Fork | None = None, *, clz: bool | None = None
) -> Artifact:
    """The verifier's artifact for ``fork``'s rules (default Osaka), compiled for the EVM version its
    scheme takes there (``Scheme.evm_version``; cached here and on disk). ``clz`` as in render_verifier."""
    evm_version = SCHEMES[scheme.name].evm_version(fork)
    source = render_verifier(scheme, fork=fork, clz=clz)
    return _compile(verifier_name(scheme), source, compiler, evm_version)


@lru_cache(maxsize=32)
def _compile(name: str, source: str, compiler: Compiler | None, evm_version: str) -> Artifact:
    return compile_sources({f"{name}.sol": source}, name, compiler, verifier_settings(evm_version))


def compile_merkle(compiler: Compiler | None = None, fork: str | Fork | None = None) -> Artifact:
    """The keccak Merkle baseline (OpenZeppelin's rules), compiled as the verifiers are, for ``fork``'s
    evmVersion (default Osaka)."""
    return _compile_merkle(compiler, get_fork(fork).evm_version)


@lru_cache(maxsize=4)
def _compile_merkle(compiler: Compiler | None, evm_version: str) -> Artifact:
    source = contract_source("verkle", "MerkleVerifier.sol")
    return compile_sources(
        {"MerkleVerifier.sol": source}, "MerkleVerifier", compiler, verifier_settings(evm_version)
    )


def _abi_only(file_name: str, source: str, contract: str) -> tuple[dict[str, Any], ...]:
    """A contract's ABI as solc reports it, without generating code (fast; cached on disk)."""
    out = compile_standard(
        {
            "language": "Solidity",
            "sources": {file_name: {"content": source}},
            "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
        }
    )
    return tuple(out["contracts"][file_name][contract]["abi"])


@cache
def verifier_abi(scheme_name: str) -> tuple[dict[str, Any], ...]:
    """The ABI of a scheme's verifiers, from the compiler: the same at every width and with every
    setup (a test holds it to each deployed artifact's), so it is read from the smallest one."""
    scheme = load_scheme(scheme_name, 16, insecure_dev_setup_ok=True)
    return _abi_only("Verifier.sol", render_verifier(scheme), verifier_name(scheme))


@lru_cache(maxsize=1)
def merkle_abi() -> tuple[dict[str, Any], ...]:
    """The ABI of the Merkle baseline contract, from the compiler."""
    return _abi_only("MerkleVerifier.sol", contract_source("verkle", "MerkleVerifier.sol"), "MerkleVerifier")


def call_data(doc: ProofDocument, path: str) -> bytes:
    """The calldata that checks `doc` on a verifier along `path`, ABI-encoded as web3 sends it."""
    record = PATHS[path]
    return encode_call(verifier_abi(doc.proof.scheme), record.function, record.arguments(doc))
