"""Turn revert data into a readable reason: Error(string), Panic(uint256) or a custom error."""

from __future__ import annotations

from typing import Any

from eth_abi import decode
from eth_utils import keccak

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")

PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an invalid internal function",
}


def _signature(entry: dict[str, Any]) -> str:
    types = ",".join(_canonical_type(i) for i in entry.get("inputs", []))
    return f"{entry['name']}({types})"


def _canonical_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param.get("components", []))
        return f"({inner}){kind[5:]}"
    return kind


def decode_revert(data: str | bytes | None, abi: list[dict[str, Any]]) -> str | None:
    """A one-line reason for revert ``data``; None when there is no data."""
    if data is None:
        return None
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
    if len(raw) < 4:
        return None
    selector, body = raw[:4], raw[4:]
    try:
        if selector == _ERROR_STRING:
            return str(decode(["string"], body)[0])
        if selector == _PANIC:
            code = int(decode(["uint256"], body)[0])
            return f"panic 0x{code:02x} ({PANIC_CODES.get(code, 'unknown panic')})"
        for entry in abi:
            if entry.get("type") != "error":
                continue
            signature = _signature(entry)
            if keccak(text=signature)[:4] == selector:
                types = [_canonical_type(i) for i in entry.get("inputs", [])]
                values = decode(types, body) if types else ()
                args = ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in values)
                return f"{entry['name']}({args})"
    except Exception:  # noqa: BLE001 - malformed revert data: show the selector below
        pass
    return f"custom error 0x{selector.hex()}"
