"""Proof objects and their two encodings: a deterministic byte string and a JSON form with hex fields.

Byte layout (all integers big-endian), as compact as the EVM would want it in calldata:
    (version << 4) | type   [type 1: single, 2: multi]
    (scheme id << 4) | log2 width
    number of keys (u16; 1 for a single proof)
    per key, in key order: (kind << 6) | (depth - 1)  [kind: 0 present, 1 empty slot, 2 other leaf]
                           and for kind 2: the other leaf's key (32) and keccak256 of its value (32)
    the commitments (48 bytes BLS12-381 / 64 bytes BN254 each): the nodes below the root on the
        keys' paths, each once, in order of first use; their number is what the length leaves
    single: one opening proof per level of the key's path (root first)
    multi:  D (the commitment to g) then pi (the opening of E - D at t)
Keys and claimed values are not part of the proof: the verifier is given them.

The JSON document `verkle prove` writes holds the proof with its root, keys and claimed values. A
reader takes at most MAX_DOCUMENT_BYTES (8 MiB: some 15,000 keys) nested at most MAX_NESTING deep
(a document needs 4), and refuses anything else before parsing it (see jsonlimits).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidProof, MalformedProof, UnknownName  # noqa: F401 - callers import them from here
from .jsonlimits import JSONLimitError, loads_limited
from .roots import check_root
from .schemes import SCHEMES
from .slots import KEY_SIZE, VALUE_SIZE, KeyLayout

VERSION = 1
SINGLE, MULTI = 1, 2
PRESENT, EMPTY, OTHER = 0, 1, 2
KIND_NAMES = {PRESENT: "present", EMPTY: "empty", OTHER: "other"}
MAX_DEPTH = 64
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
MAX_NESTING = 8


@dataclass(frozen=True)
class PathInfo:
    """How one key's path ends: after `depth` openings, in a slot that is present / empty / other."""

    depth: int
    kind: int
    other_key: bytes = b""
    other_value_hash: bytes = b""

    def __post_init__(self) -> None:
        if self.kind not in KIND_NAMES:
            raise MalformedProof(f"unknown path kind {self.kind!r}")
        if not _is_int(self.depth) or not 1 <= self.depth <= MAX_DEPTH:
            raise MalformedProof(f"path depth must be 1..{MAX_DEPTH}, got {self.depth!r}")
        sizes = (32, 32) if self.kind == OTHER else (0, 0)
        if (len(self.other_key), len(self.other_value_hash)) != sizes:
            raise MalformedProof(
                f"a path of kind {KIND_NAMES[self.kind]!r} carries {sizes[0]}-byte other_key "
                f"and other_value_hash"
            )


def _is_int(x: Any) -> bool:
    """An int that is not a bool (JSON's true would pass isinstance(x, int))."""
    return isinstance(x, int) and not isinstance(x, bool)


def check_depths(paths: Sequence[PathInfo], width: int) -> None:
    """No path runs deeper than a width-W tree has levels (on-chain: BadPathByte(i))."""
    levels = KeyLayout(width).levels
    for i, p in enumerate(paths):
        if p.depth > levels:
            raise MalformedProof(
                f"path {i}: depth {p.depth} beyond the {levels} levels of a width-{width} tree"
            )


def path_bytes(paths: Sequence[PathInfo]) -> bytes:
    """The per-key section: (kind << 6) | (depth - 1), then the other leaf's key and value hash."""
    out = bytearray()
    for p in paths:
        out.append((p.kind << 6) | (p.depth - 1))
        if p.kind == OTHER:
            out += p.other_key + p.other_value_hash
    return bytes(out)


@dataclass(frozen=True)
class Proof:
    type: int  # SINGLE or MULTI
    scheme: str
    width: int
    paths: tuple[PathInfo, ...]
    commitments: tuple[bytes, ...]
    openings: tuple[bytes, ...]  # single: one per level; multi: (D, pi)

    def path_bytes(self) -> bytes:
        return path_bytes(self.paths)

    def to_bytes(self) -> bytes:
        scheme_byte = SCHEMES[self.scheme].proof_id << 4 | (self.width.bit_length() - 1)
        out = bytearray([VERSION << 4 | self.type, scheme_byte])
        out += len(self.paths).to_bytes(2, "big")
        out += self.path_bytes()
        for c in self.commitments:
            out += c
        for o in self.openings:
            out += o
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        r = _Reader(data)
        first, second = r.take(2)
        version, ptype, scheme_id, log_width = first >> 4, first & 15, second >> 4, second & 15
        if version != VERSION:
            raise MalformedProof(f"unsupported proof version {version}")
        if ptype not in (SINGLE, MULTI):
            raise MalformedProof(f"unknown proof type {ptype}")
        scheme = next((s.name for s in SCHEMES.values() if s.proof_id == scheme_id), None)
        if scheme is None:
            raise MalformedProof(f"unknown scheme id {scheme_id}")
        if not 4 <= log_width <= 12:
            raise MalformedProof(f"unsupported width 2^{log_width}")
        n_keys = r.u16()
        if n_keys == 0 or (ptype == SINGLE and n_keys != 1):
            raise MalformedProof(
                f"a {'single' if ptype == SINGLE else 'multi'} proof cannot cover {n_keys} keys"
            )
        paths = []
        for _ in range(n_keys):
            byte = r.take(1)[0]
            kind, depth = byte >> 6, (byte & 0x3F) + 1
            if kind not in KIND_NAMES:
                raise MalformedProof(f"unknown path kind {kind}")
            paths.append(PathInfo(depth, kind, *(r.take(32), r.take(32)) if kind == OTHER else ()))
        check_depths(paths, 1 << log_width)
        size = SCHEMES[scheme].point_size
        n_open = paths[0].depth if ptype == SINGLE else 2
        n_commitments, extra = divmod(r.remaining() - n_open * size, size)
        if n_commitments < 0 or extra:
            raise MalformedProof(f"proof length does not fit whole {size}-byte points")
        commitments = tuple(r.take(size) for _ in range(n_commitments))
        openings = tuple(r.take(size) for _ in range(n_open))
        return cls(ptype, scheme, 1 << log_width, tuple(paths), commitments, openings)

    # ------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": "single" if self.type == SINGLE else "multi",
            "scheme": self.scheme,
            "width": self.width,
            "paths": [_path_json(p) for p in self.paths],
            "commitments": [c.hex() for c in self.commitments],
        }
        if self.type == SINGLE:
            doc["openings"] = [o.hex() for o in self.openings]
        else:
            doc["d"], doc["pi"] = self.openings[0].hex(), self.openings[1].hex()
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> Proof:
        """Parse the JSON form strictly, then round-trip through bytes so both forms obey one set
        of rules."""
        try:
            ptype = {"single": SINGLE, "multi": MULTI}[doc["type"]]
            scheme, width = doc["scheme"], doc["width"]
            try:
                size = SCHEMES[scheme].point_size
            except UnknownName as exc:
                raise MalformedProof(str(exc)) from None
            if not _is_int(width) or width < 16 or width > 4096 or width & (width - 1):
                raise MalformedProof(f"unsupported width {width!r}")
            paths = tuple(_path_from_json(p) for p in _list(doc, "paths"))
            commitments = tuple(hex_bytes(c, size, "commitment") for c in _list(doc, "commitments"))
            openings = (
                tuple(hex_bytes(o, size, "opening") for o in _list(doc, "openings"))
                if ptype == SINGLE
                else (hex_bytes(doc["d"], size, "d"), hex_bytes(doc["pi"], size, "pi"))
            )
        except (KeyError, TypeError) as exc:
            raise MalformedProof(f"proof JSON lacks or mistypes a field ({exc})") from None
        proof = cls(ptype, scheme, width, paths, commitments, openings)
        if not paths or len(paths) > 0xFFFF or len(commitments) > 0xFFFF:
            raise MalformedProof("a proof covers 1 to 65535 keys")
        if ptype == SINGLE and (len(paths) != 1 or len(openings) != paths[0].depth):
            raise MalformedProof("a single proof covers one key with one opening per level")
        return cls.from_bytes(proof.to_bytes())


def _path_json(p: PathInfo) -> dict[str, Any]:
    doc: dict[str, Any] = {"depth": p.depth, "kind": KIND_NAMES[p.kind]}
    if p.kind == OTHER:
        doc["other_key"], doc["other_value_hash"] = p.other_key.hex(), p.other_value_hash.hex()
    return doc


def _list(doc: dict[str, Any], name: str) -> list[Any]:
    if not isinstance(doc[name], list):
        raise MalformedProof(f"{name} must be a list")
    return doc[name]


def _path_from_json(doc: Any) -> PathInfo:
    kinds = {v: k for k, v in KIND_NAMES.items()}
    if not isinstance(doc, dict) or not isinstance(doc["kind"], str) or doc["kind"] not in kinds:
        raise MalformedProof(f"unknown path kind {doc.get('kind') if isinstance(doc, dict) else doc!r}")
    kind, depth = kinds[doc["kind"]], doc["depth"]
    if not _is_int(depth) or not 1 <= depth <= MAX_DEPTH:
        raise MalformedProof(f"path depth must be 1..{MAX_DEPTH}, got {depth!r}")
    if kind == OTHER:
        return PathInfo(
            depth,
            kind,
            hex_bytes(doc["other_key"], 32, "other_key"),
            hex_bytes(doc["other_value_hash"], 32, "other_value_hash"),
        )
    return PathInfo(depth, kind)


def hex_bytes(text: Any, size: int | None, what: str) -> bytes:
    if not isinstance(text, str):
        raise MalformedProof(f"{what} must be a hex string")
    body = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        data = bytes.fromhex(body)
    except ValueError:
        raise MalformedProof(f"{what} is not valid hex: {text[:20]!r}") from None
    if size is not None and len(data) != size:
        raise MalformedProof(f"{what} must be {size} bytes, got {len(data)}")
    return data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedProof("proof truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def remaining(self) -> int:
        return len(self.data) - self.pos


@dataclass(frozen=True)
class ProofDocument:
    """What `verkle prove` writes: the proof with the root, keys and claimed values it speaks about."""

    proof: Proof
    root: bytes
    keys: tuple[bytes, ...]
    values: tuple[bytes | None, ...]

    def to_json_text(self) -> str:
        doc = {
            "format": "verkle-proof",
            "version": VERSION,
            "root": self.root.hex(),
            "keys": [k.hex() for k in self.keys],
            "values": [v.hex() if v is not None else None for v in self.values],
            "proof": self.proof.to_json(),
            "proof_bytes": self.proof.to_bytes().hex(),
        }
        return json.dumps(doc, indent=1) + "\n"

    @classmethod
    def from_json_text(cls, text: str) -> ProofDocument:
        """Parse a document strictly: size and nesting first (before any parse), then every field."""
        try:
            doc = loads_limited(text, MAX_DOCUMENT_BYTES, MAX_NESTING, "the proof document")
        except JSONLimitError as exc:
            raise MalformedProof(str(exc)) from None
        if not isinstance(doc, dict) or doc.get("format") != "verkle-proof":
            raise MalformedProof("not a verkle proof document (format != 'verkle-proof')")
        if "version" not in doc or not _is_int(doc["version"]) or doc["version"] != VERSION:
            raise MalformedProof(
                f"unsupported document version {doc.get('version')!r} (this reader: {VERSION})"
            )
        try:
            proof = Proof.from_json(doc["proof"])
            if (
                "proof_bytes" in doc
                and hex_bytes(doc["proof_bytes"], None, "proof_bytes") != proof.to_bytes()
            ):
                raise MalformedProof("proof_bytes disagrees with the JSON proof")
            root = check_root(proof.scheme, hex_bytes(doc["root"], None, "root"))
            keys = tuple(hex_bytes(k, KEY_SIZE, "key") for k in _list(doc, "keys"))
            values = tuple(
                None if v is None else hex_bytes(v, VALUE_SIZE, "value") for v in _list(doc, "values")
            )
        except (KeyError, TypeError) as exc:
            raise MalformedProof(f"proof document lacks or mistypes a field ({exc})") from None
        if len(keys) != len(values):
            raise MalformedProof(f"{len(keys)} keys but {len(values)} values")
        return cls(proof, root, keys, values)


def read_document(path: str | Path) -> ProofDocument:
    """A proof document from a file, reading at most MAX_DOCUMENT_BYTES + 1 bytes of it (OSError when
    it cannot be read, MalformedProof for everything else)."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise MalformedProof(f"the proof document is over the {MAX_DOCUMENT_BYTES:,}-byte maximum")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedProof(f"the proof document is not UTF-8 text (byte {exc.start})") from None
    return ProofDocument.from_json_text(text)
