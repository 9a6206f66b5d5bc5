"""Reading key/value files: CSV lines `key,value` or JSON lines `{"key": ..., "value": ...}` (hex)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .jsonlimits import JSONLimitError, loads_limited

# a JSON line holds one flat object of two hex strings; anything deeper or longer is not a pair (and
# nesting deep enough would overflow the C stack of Python's JSON decoder)
MAX_LINE_BYTES = 4096


class DataError(ValueError):
    """A data file line that is not a 32-byte hex key and a 32-byte hex value."""


def parse_hex32(text: str, what: str) -> bytes:
    body = text.strip()
    body = body[2:] if body[:2] in ("0x", "0X") else body
    try:
        data = bytes.fromhex(body)
    except ValueError:
        raise DataError(f"{what} is not hex: {text.strip()[:24]!r}") from None
    if len(data) != 32:
        raise DataError(f"{what} must be 32 bytes (64 hex digits), got {len(data)}")
    return data


def read_pairs(path: str | Path) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs, streamed: a file of any size is never held in memory."""
    for key, value in _records(path, deletes=False):
        assert value is not None
        yield key, value


def read_changes(path: str | Path) -> Iterator[tuple[bytes, bytes | None]]:
    """Changes for `verkle update`: `key,value` sets a key, `key,` (an empty value; in JSON lines
    null or "") deletes it."""
    return _records(path, deletes=True)


def _records(path: str | Path, deletes: bool) -> Iterator[tuple[bytes, bytes | None]]:
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig")  # a BOM (a spreadsheet's CSV) is not part of a key
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                record = _record(line, number, path.name, deletes)
                if record is not None:
                    yield record
        except UnicodeDecodeError:
            raise DataError(f"{path.name} is not a text file (key,value lines or JSON lines)") from None


def _record(line: str, number: int, name: str, deletes: bool) -> tuple[bytes, bytes | None] | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    where = f"{name} line {number}"
    if line.startswith("{"):
        try:
            doc = loads_limited(line, MAX_LINE_BYTES, max_depth=1, what=where)
            if set(doc) != {"key", "value"}:
                raise KeyError("fields")
            key, value = doc["key"], doc["value"]
        except (json.JSONDecodeError, JSONLimitError, KeyError, TypeError):
            raise DataError(f'{where}: expected {{"key": hex, "value": hex}}') from None
        if deletes and value is None:
            value = ""
    else:
        parts = [p.strip() for p in line.split(",")]
        if number == 1 and parts[0].lower() == "key":
            return None  # a CSV header
        if len(parts) != 2:
            raise DataError(f"{where}: expected 'key,value', got {len(parts)} fields")
        key, value = parts
    if not isinstance(key, str) or not isinstance(value, str):
        raise DataError(f"{where}: key and value must be hex strings")
    if deletes and not value:
        return parse_hex32(key, f"{where}: key"), None
    if not value:
        raise DataError(f"{where}: the value is empty (a deletion belongs in `verkle update`'s changes file)")
    return parse_hex32(key, f"{where}: key"), parse_hex32(value, f"{where}: value")
