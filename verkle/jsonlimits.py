"""JSON from files we did not write, parsed only after cheap checks of its size and nesting depth.

Why: py_ecc raises Python's recursion limit to 100,000 when imported, and the C JSON decoder trusts
that limit, so a file of some 100,000 '[' overflows the C stack and kills the process (SIGSEGV)
where it should have raised. The depth check runs in C-speed passes (regular expressions), never a
recursion, and needs no parse.
"""

from __future__ import annotations

import json
import re
from typing import Any

# a JSON string, escapes included (one left open runs to the end: every quote starts a match, so the
# scan stays linear); and an innermost pair of brackets once strings are gone
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


class JSONLimitError(ValueError):
    """Input refused before parsing, or not JSON at all."""


def nesting_within(text: str, max_depth: int) -> bool:
    """Are the text's brackets outside strings balanced and nested at most `max_depth` deep? Each pass
    removes the innermost pairs, so a balanced text of depth d is empty after d passes."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(max_depth):
        if not brackets:
            return True
        brackets = _INNERMOST.sub("", brackets)
    return not brackets


def loads_limited(text: str, max_bytes: int, max_depth: int, what: str = "JSON") -> Any:
    """json.loads, refusing texts over `max_bytes` (UTF-8) or nested deeper than `max_depth`."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise JSONLimitError(f"{what} is {size:,} bytes, over the {max_bytes:,}-byte maximum")
    if not nesting_within(text, max_depth):
        raise JSONLimitError(f"{what} nests deeper than {max_depth} levels (or its brackets do not balance)")
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and int() refusing over 4,300 digits
        raise JSONLimitError(f"not JSON: {exc}") from None
