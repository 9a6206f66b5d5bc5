"""The verifier contracts' calldata, both ways: built from a proof document, and read back.

Building (`single_call`, `multi_call`, `encode_call`) gives the arguments of the verifier functions and
their ABI bytes, exactly as web3 sends them. Reading back (`decode_single_call`, `decode_multi_call`)
is the inverse. A differential fuzzer holds `offchain.verify_call` beside a contract: the contract
reverts exactly where decoding raises MalformedProof, and otherwise returns what the off-chain verifier
says. So decoding refuses what the contracts revert on, every check made before any verification:
    counts     1 <= n <= 65535 keys; n values; an absent bitmap of ceil(n / 8) bytes
    canonical  the bitmap's unused low bits clear; every key claimed absent has an all-zero value
    paths      each path byte of kind 0..2 and depth <= the tree's levels; keys strictly ascending
    length     after the path bytes, whole points only: the commitments, D, then pi
A point off the curve or outside the subgroup is not malformed: on-chain a precompile refuses it and
the contract returns false, so here it is an invalid proof (False). So are whole commitments too many
or too few for the paths: the walk finds them so and returns false. The ABI layer (offsets, padding,
bytes after the last argument: NonCanonicalEncoding() on-chain) is below these arguments. Building
the other way, a document's compressed BLS12-381 point that does not decompress has no x || y form:
MalformedProof, since no call can carry it (off-chain, `verify` calls that proof invalid).

Calldata (BLS12-381 points 96 bytes x || y as EIP-2537 takes them, BN254 64 bytes x || y):
    verifyMulti(keys, values, absent, proof)    proof = path bytes | commitments | D | pi, where pi is
        48 bytes compressed for BLS12-381 (what 0x0a takes), x || y for BN254
    verifyMultiPairing(...)                     BLS12-381 only, pi x || y as well
    verifySingle(key, value, present, proof)    BLS12-381 only: path byte [other key, other value
        hash] | depth - 1 commitments | depth openings, every point 48 bytes compressed
Pure: no chain, no web3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from py_arkworks_bls12381 import G1Point

from .curves import BLS12_381, InvalidPoint, bls_compress_xy
from .proof import MULTI, OTHER, SINGLE, InvalidProof, MalformedProof, PathInfo, Proof, ProofDocument
from .schemes import SCHEMES
from .slots import KEY_SIZE, KeyLayout

BLS = "kzg-bls12-381"  # the one scheme whose points the calldata holds in two encodings
COMPRESSED = SCHEMES[BLS].point_size
MAX_KEYS = 0xFFFF
ZERO = bytes(32)


# ---------------------------------------------------------------- building


def xy(encoded: bytes) -> bytes:
    """A commitment as the verifier stores it: BLS12-381 48-byte compressed -> 96-byte x || y (zeros for
    the point at infinity); BN254 64-byte x || y as it is. MalformedProof for a compressed point that
    does not decode (bad flags, x off the curve): it has no x || y, so no verifier call can carry it."""
    if len(encoded) == 64:
        return encoded
    try:
        point = G1Point.from_compressed_bytes_unchecked(bytes(encoded))
    except Exception:  # noqa: BLE001 - arkworks raises bare exceptions in its own words
        raise MalformedProof(
            f"a BLS12-381 point in the proof does not decode ({_fault(encoded)}): "
            "no verifier call can carry it"
        ) from None
    return bytes(point.to_xy_bytes_be())


def _fault(encoded: bytes) -> str:
    """Why a compressed BLS12-381 point does not decode, in this package's words."""
    try:
        BLS12_381.decode(bytes(encoded))
    except InvalidPoint as exc:
        return str(exc)
    return "arkworks refused it"


def absent_bitmap(values: Sequence[bytes | None]) -> bytes:
    """One bit per key, most significant first: set where the key is claimed absent."""
    bits = bytearray((len(values) + 7) // 8)
    for i, v in enumerate(values):
        if v is None:
            bits[i >> 3] |= 0x80 >> (i & 7)
    return bytes(bits)


def multi_call(doc: ProofDocument, pairing: bool = False) -> list[Any]:
    """[keys, values, absent, proof] for verifyMulti, or with `pairing` for verifyMultiPairing (BLS12-381
    pi as x || y for the pairing check instead of compressed for 0x0a)."""
    proof = doc.proof
    if proof.type != MULTI:
        raise ValueError("a multiproof is needed for verifyMulti")
    values = [v if v is not None else bytes(32) for v in doc.values]
    record = SCHEMES[proof.scheme]
    if record.point_size == record.layout.point:  # points are x || y already
        body = proof.path_bytes() + b"".join(proof.commitments) + proof.openings[0] + proof.openings[1]
    else:
        body = proof.path_bytes() + b"".join(xy(c) for c in proof.commitments) + xy(proof.openings[0])
        body += xy(proof.openings[1]) if pairing else proof.openings[1]
    return [list(doc.keys), values, absent_bitmap(doc.values), body]


def single_call(doc: ProofDocument) -> list[Any]:
    """[key, value, present, proof] for verifySingle: the proof's bytes after its 4-byte header."""
    if doc.proof.type != SINGLE:
        raise ValueError("a single proof is needed for verifySingle")
    value = doc.values[0]
    present = value is not None
    return [doc.keys[0], value if present else bytes(32), present, doc.proof.to_bytes()[4:]]


def encode_call(abi: Sequence[Mapping[str, Any]], function: str, args: Sequence[Any]) -> bytes:
    """ABI-encoded calldata of `function` (by name: the verifiers overload none) from a contract's ABI."""
    entry = next((e for e in abi if e.get("type") == "function" and e.get("name") == function), None)
    if entry is None:
        raise ValueError(f"the contract has no function {function!r}")
    types = [i["type"] for i in entry["inputs"]]
    return keccak(text=f"{function}({','.join(types)})")[:4] + encode(types, list(args))


@dataclass(frozen=True)
class DecodedCall:
    """A call's claims and proof, its points still as the calldata holds them (`to_proof` converts)."""

    type: int  # SINGLE or MULTI
    scheme: str
    width: int
    keys: tuple[bytes, ...]
    values: tuple[bytes | None, ...]  # None: claimed absent
    paths: tuple[PathInfo, ...]
    commitments: tuple[bytes, ...]
    openings: tuple[bytes, ...]  # single: one per level; multi: (D, pi)

    def to_proof(self) -> Proof:
        """The proof in this package's encoding; InvalidProof for a point no precompile would take."""
        try:
            return Proof(
                self.type,
                self.scheme,
                self.width,
                self.paths,
                tuple(_to_encoding(self.scheme, c) for c in self.commitments),
                tuple(_to_encoding(self.scheme, o) for o in self.openings),
            )
        except InvalidPoint as exc:
            raise InvalidProof(f"a point in the proof: {exc}") from None


def _to_encoding(scheme: str, point: bytes) -> bytes:
    """BLS12-381 x || y -> compressed (a compressed point stays as it is, checked later); BN254 as is."""
    return bls_compress_xy(point) if scheme == BLS and len(point) == SCHEMES[BLS].layout.point else point


# ---------------------------------------------------------------- reading back: the checks


def _words(items: Sequence[Any], what: str) -> tuple[bytes, ...]:
    """bytes32 arguments: exactly 32 bytes each."""
    for i, item in enumerate(items):
        if not isinstance(item, (bytes, bytearray)) or len(item) != KEY_SIZE:
            raise MalformedProof(f"{what} {i} is not 32 bytes")
    return tuple(bytes(item) for item in items)


def _absent_flags(absent: bytes, n: int) -> list[bool]:
    if not isinstance(absent, (bytes, bytearray)) or len(absent) != (n + 7) // 8:
        got = len(absent) if isinstance(absent, (bytes, bytearray)) else type(absent).__name__
        raise MalformedProof(f"the absent bitmap of {n} keys is {(n + 7) // 8} bytes, not {got}")
    if n % 8 and absent[-1] & (0xFF >> (n % 8)):
        raise MalformedProof("the absent bitmap sets bits past the last key")
    return [bool(absent[i >> 3] & (0x80 >> (i & 7))) for i in range(n)]


def _claims(values: Sequence[bytes], flags: Sequence[bool]) -> tuple[bytes | None, ...]:
    for i, (value, is_absent) in enumerate(zip(values, flags)):
        if is_absent and value != ZERO:
            raise MalformedProof(f"key {i} is claimed absent with a non-zero value")
    return tuple(None if is_absent else value for value, is_absent in zip(values, flags))


def _multi_claims(
    keys: Sequence[bytes], values: Sequence[bytes], absent: bytes
) -> tuple[tuple[bytes, ...], tuple[bytes | None, ...]]:
    """The keys and the claimed values (None: absent) of a multiproof call, their counts checked."""
    keys, values = _words(keys, "key"), _words(values, "value")
    if not 1 <= len(keys) <= MAX_KEYS:
        raise MalformedProof(f"a multiproof covers 1 to {MAX_KEYS} keys, not {len(keys)}")
    if len(values) != len(keys):
        raise MalformedProof(f"{len(keys)} keys but {len(values)} values")
    return keys, _claims(values, _absent_flags(absent, len(keys)))


def _check_sorted(keys: Sequence[bytes]) -> None:
    for i in range(1, len(keys)):
        if keys[i] <= keys[i - 1]:
            raise MalformedProof(f"key {i} is not above key {i - 1} (keys ascend strictly)")


def _read_paths(body: bytes, n: int, levels: int) -> tuple[tuple[PathInfo, ...], int]:
    """n path bytes (each kind-2 byte followed by the other key and its value hash) from the front of
    body; returns them and their length in bytes."""
    paths, pos = [], 0
    for i in range(n):
        if pos >= len(body):
            raise MalformedProof(f"the proof ends before key {i}'s path byte")
        kind, depth = body[pos] >> 6, (body[pos] & 63) + 1
        if kind == 3 or depth > levels:
            raise MalformedProof(
                f"key {i}: path byte {body[pos]:#04x} (kind {kind}, depth {depth} of {levels})"
            )
        size = 65 if kind == OTHER else 1
        if pos + size > len(body):
            raise MalformedProof(f"the proof ends inside key {i}'s path")
        paths.append(
            PathInfo(
                depth, kind, *(body[pos + 1 : pos + 33], body[pos + 33 : pos + 65]) if kind == OTHER else ()
            )
        )
        pos += size
    return tuple(paths), pos


def _chunks(data: bytes, size: int) -> tuple[bytes, ...]:
    return tuple(data[i : i + size] for i in range(0, len(data), size))


# ---------------------------------------------------------------- decoding


def decode_multi_call(
    keys: Sequence[bytes],
    values: Sequence[bytes],
    absent: bytes,
    proof: bytes,
    scheme_name: str,
    width: int,
    pairing: bool = False,
) -> DecodedCall:
    """verifyMulti / verifyMultiPairing arguments -> claims and proof; MalformedProof where the
    contract reverts."""
    pt = SCHEMES[scheme_name].layout.point
    if pairing and scheme_name != BLS:
        raise ValueError(f"no multiproof verifier function for {scheme_name} with pairing={pairing}")
    keys, claims = _multi_claims(keys, values, absent)
    pi_size = COMPRESSED if scheme_name == BLS and not pairing else pt
    if not isinstance(proof, (bytes, bytearray)) or len(proof) < pt + pi_size:
        raise MalformedProof(f"the proof is shorter than D and pi ({pt + pi_size} bytes)")
    body, pi = bytes(proof[: len(proof) - pi_size]), bytes(proof[len(proof) - pi_size :])
    paths, at = _read_paths(body, len(keys), KeyLayout(width).levels)
    _check_sorted(keys)
    if len(body) < at + pt or (len(body) - at) % pt:
        raise MalformedProof(
            f"after {at} bytes of paths, the proof's {len(body) - at} bytes before pi "
            f"are not whole {pt}-byte points, D the last"
        )
    return DecodedCall(
        MULTI, scheme_name, width, keys, claims, paths, _chunks(body[at:-pt], pt), (body[-pt:], pi)
    )


def decode_single_call(key: bytes, value: bytes, present: bool, proof: bytes, width: int) -> DecodedCall:
    """verifySingle arguments (the BLS12-381 verifier's) -> claim and proof; MalformedProof where the
    contract reverts."""
    (key,), (value,) = _words([key], "key"), _words([value], "value")
    if not isinstance(present, bool):
        raise MalformedProof(f"present must be a bool, got {type(present).__name__}")
    (claim,) = _claims([value], [not present])
    levels = KeyLayout(width).levels
    if not isinstance(proof, (bytes, bytearray)) or not proof:
        raise MalformedProof("the proof is empty")
    (path,), at = _read_paths(bytes(proof[:65]), 1, levels)
    want = at + COMPRESSED * (2 * path.depth - 1)
    if len(proof) != want:
        raise MalformedProof(f"the proof is {len(proof)} bytes; its path calls for {want}")
    points = _chunks(bytes(proof[at:]), COMPRESSED)
    return DecodedCall(
        SINGLE, BLS, width, (key,), (claim,), (path,), points[: path.depth - 1], points[path.depth - 1 :]
    )
