"""Weight layouts: where the blob lives on-chain and how it gets there (pure, no chain).

- ``storage``: one slot per weight (each blob element in its own slot): ML2SC's baseline.
- ``packed``: the blob 32 bytes per slot.
- ``code``: the blob as the bytecode of data contracts (each under the 24,576-byte limit),
  read with EXTCODECOPY; deployed before the model contract, which pins them.
- ``inline``: the blob as a constant in the model contract's own bytecode (small models).
"""

from __future__ import annotations

from dataclasses import dataclass

from .blob import Blob

LAYOUTS = ("storage", "packed", "code", "inline")
MAX_CODE_SIZE = 24_576  # EIP-170
DATA_CHUNK_BYTES = MAX_CODE_SIZE - 1  # a leading STOP byte keeps data contracts inert
INLINE_MAX_BLOB = 16_000  # leaves room for the model contract's own code under EIP-170


class LayoutError(ValueError):
    """A weight layout that is unknown, or that does not fit this model (EIP-170 code size)."""


@dataclass(frozen=True)
class Chunk:
    offset: int
    length: int


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown weight layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    return layout


def default_layout(blob: Blob) -> str:
    """The cheapest layout for the blob's size: inline when it fits, else code."""
    return "inline" if len(blob.data) <= INLINE_MAX_BLOB else "code"


def slot_bytes(layout: str, blob: Blob) -> int:
    return blob.element_bytes if layout == "storage" else 32


def slot_values(layout: str, blob: Blob) -> list[bytes]:
    """The 32-byte values of the weight slots: right-aligned elements, or blob words."""
    width = slot_bytes(layout, blob)
    data = blob.data + bytes(-len(blob.data) % width)
    return [data[k : k + width].rjust(32, b"\0") for k in range(0, len(data), width)]


def code_chunks(blob: Blob) -> list[Chunk]:
    size = len(blob.data)
    return [Chunk(o, min(DATA_CHUNK_BYTES, size - o)) for o in range(0, size, DATA_CHUNK_BYTES)]


def data_contract_initcode(chunk: bytes) -> bytes:
    """Creation code that deploys ``0x00 || chunk`` as runtime code.

    PUSH2 size, DUP1, PUSH1 12, PUSH1 0, CODECOPY, PUSH1 0, RETURN (12 bytes), then the code.
    """
    runtime = b"\x00" + chunk
    if len(runtime) > MAX_CODE_SIZE:
        raise LayoutError(f"a data chunk of {len(chunk)} bytes exceeds the code size limit")
    prefix = b"\x61" + len(runtime).to_bytes(2, "big") + bytes.fromhex("80600c6000396000f3")
    return prefix + runtime


def memory_alloc(blob: Blob, width: int = 32) -> int:
    """Bytes to reserve for the blob in memory, with room for the last 32-byte write."""
    return -(-len(blob.data) // 32) * 32 + max(width, 32) + 32
