"""Memory touched in an anvil step trace: what the gas models' memory terms are checked against."""

from __future__ import annotations


def memory_spans(op: str, st: list[int]) -> list[tuple[int, int]]:
    """(offset, length) of the memory an opcode touches; st is the stack, top first."""
    if op in ("MSTORE", "MLOAD"):
        return [(st[0], 32)]
    if op == "MSTORE8":
        return [(st[0], 1)]
    if op in ("CALLDATACOPY", "CODECOPY", "RETURNDATACOPY"):
        return [(st[0], st[2])]
    if op == "EXTCODECOPY":
        return [(st[1], st[3])]
    if op in ("KECCAK256", "RETURN", "REVERT"):
        return [(st[0], st[1])]
    if op == "MCOPY":
        return [(max(st[0], st[1]), st[2])]
    if op == "STATICCALL":
        return [(st[2], st[3]), (st[4], st[5])]
    return []


def peak_memory_words(logs: list[dict]) -> int:
    """The highest memory word the called contract touched (depth 1), from a step trace with stacks."""
    peak = 0
    for step in logs:
        if step["depth"] == 1:
            for start, length in memory_spans(step["op"], [int(x, 16) for x in reversed(step["stack"])]):
                if length:
                    peak = max(peak, (start + length + 31) // 32)
    return peak
