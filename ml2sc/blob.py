"""The weight blob: every number of a plan, packed as the contract reads it from memory.

One encoding serves every weight layout: ``packed`` stores it 32 bytes per slot, ``code`` as
the bytecode of data contracts, ``inline`` as a constant in the model contract, and
``storage`` one element (one weight) per slot. ``weightsHash`` is keccak256 of the blob.

fixed mode, per layer: ``slope | W row by row | b``, each a big-endian two's-complement lane
of ``lane_bytes`` (the narrowest width that holds every number of the model).

int8 mode, per layer: a header ``shift (1 byte) | leaky slope Q.16 (2)`` (a hidden GELU / SiLU
layer adds its second multiplier: ``| out_m (4) | out_shift (1)``), then for each output neuron
``ceil(n_in / 32)`` words of 32 weights, then for each neuron its requantization multiplier and
bias, ``m_j (4, unsigned) | K_j (bias_bytes, signed)``: one MLOAD reads both. Weights are stored
offset by 128 (``u = w + 128``, 1..255) and interleaved so that ``(word >> 8t) & LANES`` yields
eight 32-bit lanes of weights, reversed against the eight activations that the same mask cuts
from 32 input bytes: one MUL of the two puts their 8-term dot product in the top lane (SIMD
within a register). The stored bias absorbs the offset: ``K_j = b_j - 128 * sum_i w_ji``.

Conv layers (both modes) keep the dense layout's order with the weights as (C_out, C_in, kh, kw):
fixed mode ``slope | W | b``; int8 a header, then for each output channel, input channel and kernel
row the row's piece polynomials ``sum_j w_j 2**(32 j)`` (``conv_piece`` taps each, signed big-endian,
``piece_bytes`` wide), then ``m_c | K_c`` per output channel (``ml2sc.convplan`` says how the kernel
uses them). Pooling layers store nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from eth_utils import keccak

from .layers import Layer, Plan, PlanError

INT8_HEADER_BYTES = 3  # 8 for a hidden layer of int8 class "rescale"
INT8_M_BYTES = 4  # each neuron's requantization multiplier, before its bias
WEIGHT_OFFSET = 128


@dataclass(frozen=True)
class LayerBlob:
    offset: int  # first byte of the layer (its header / slope)
    weights_offset: int
    biases_offset: int  # int8: the first neuron's m_j | K_j
    bias_bytes: int  # int8: width of K_j (a neuron's entry: INT8_M_BYTES + bias_bytes); fixed: lane_bytes
    words_per_neuron: int  # int8 dense only
    piece: int = 0  # int8 conv: kernel-row taps per SWAR multiply (see conv_piece)
    pieces: int = 0  # int8 conv: multiplies per kernel row
    piece_bytes: int = 0  # int8 conv: bytes of one stored piece polynomial


@dataclass(frozen=True)
class Blob:
    data: bytes
    mode: str
    lane_bytes: int  # fixed: bytes per number; int8: 1
    layers: tuple[LayerBlob, ...]

    @property
    def element_bytes(self) -> int:
        """Bytes per slot in the ``storage`` layout: one weight (or bias) per slot."""
        return self.lane_bytes

    @cached_property
    def hash(self) -> bytes:
        return keccak(self.data)


def signed_bytes(value: int) -> int:
    n = 1
    while not -(1 << (8 * n - 1)) <= value < (1 << (8 * n - 1)):
        n += 1
    return n


def _be(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big", signed=True)


def _fixed_blob(plan: Plan) -> Blob:
    numbers = [
        n for layer in plan.layers if layer.weighted for n in (layer.slope, *layer.weights, *layer.biases)
    ]
    lane = max(signed_bytes(n) for n in numbers)
    data = bytearray()
    layers = []
    for layer in plan.layers:
        start = len(data)
        if not layer.weighted:  # pooling: nothing stored
            layers.append(LayerBlob(start, start, start, lane, 0))
            continue
        data += _be(layer.slope, lane)
        weights_offset = len(data)
        data += b"".join(_be(w, lane) for w in layer.weights)
        biases_offset = len(data)
        data += b"".join(_be(b, lane) for b in layer.biases)
        layers.append(LayerBlob(start, weights_offset, biases_offset, lane, 0))
    return Blob(bytes(data), "fixed", lane, tuple(layers))


def int8_weight_word(row: tuple[int, ...], word: int) -> bytes:
    """32 weights of one neuron (inputs 32*word ..), interleaved for the lane masks.

    Activation word t of a 32-input group is ``(bytes >> 8t) & LANES``: its lane k holds input
    ``31 - 4k - t`` of the group. The weight slice ``(word >> 8t) & LANES`` must hold that
    input's weight in lane 7 - k, which is byte ``4k + 3 - t`` of the word. Padding inputs
    get u = 128 (w = 0): whatever their activation lanes hold then cancels against the
    ``128 * sum(a')`` term.
    """
    out = bytearray(32)
    for t in range(4):
        for k in range(8):
            i = 32 * word + 31 - 4 * k - t
            out[4 * k + 3 - t] = (row[i] if i < len(row) else 0) + WEIGHT_OFFSET
    return bytes(out)


SWAR_LANES = 8  # 32-bit lanes per 256-bit word in the int8 conv kernel
LANE_BITS = 32


def conv_piece(kw: int) -> int:
    """Taps of a kernel row that one SWAR multiply covers: a piece of P taps times 8 consecutive
    activations gives 8 - P + 1 complete outputs, so P is chosen for the most products per multiply
    (kw * (9 - P) / ceil(kw / P)); ties go to the longer piece (fewer multiplies)."""
    best = max(range(1, min(kw, SWAR_LANES) + 1), key=lambda p: (kw * (SWAR_LANES + 1 - p) / -(-kw // p), p))
    return best


def piece_polynomial(taps: Sequence[int]) -> int:
    """sum_j w_j * 2**(32 j): multiplied by a word of activations (one per 32-bit lane, the first
    activation in the top lane) it sums every tap's product into the lanes of complete outputs."""
    return sum(w << (LANE_BITS * j) for j, w in enumerate(taps))


def _conv_pieces(layer: Layer) -> tuple[int, int, int, list[int]]:
    """(P, pieces per row, bytes per piece, the piece polynomials in (co, ci, ky, piece) order)."""
    g = layer.geometry
    assert g is not None
    kh, kw = g.kernel
    piece = conv_piece(kw)
    pieces = -(-kw // piece)
    rows = [layer.weights[r * kw : (r + 1) * kw] for r in range(len(layer.weights) // kw)]
    polys = [piece_polynomial(row[t : t + piece]) for row in rows for t in range(0, kw, piece)]
    width = LANE_BITS // 8 * (piece - 1) + 1  # |sum w_j 2**(32 j)| < 2**(32 (P - 1) + 7)
    return piece, pieces, width, polys


def _int8_blob(plan: Plan) -> Blob:
    data = bytearray()
    layers = []
    for layer in plan.layers:
        start = len(data)
        if not layer.weighted:
            layers.append(LayerBlob(start, start, start, 0, 0))
            continue
        data += bytes([layer.requant_shift]) + layer.slope.to_bytes(2, "big")
        if layer.out_shift:  # a hidden rescale layer (gelu, silu)
            data += layer.out_m.to_bytes(4, "big") + bytes([layer.out_shift])
        weights_offset = len(data)
        per_channel = len(layer.weights) // layer.channels
        rows = [layer.weights[j * per_channel : (j + 1) * per_channel] for j in range(layer.channels)]
        piece = pieces = piece_bytes = words = 0
        if layer.kind == "conv":
            piece, pieces, piece_bytes, polys = _conv_pieces(layer)
            data += b"".join(_be(v, piece_bytes) for v in polys)
        else:
            words = -(-layer.n_in // 32)
            for row in rows:
                data += b"".join(int8_weight_word(row, w) for w in range(words))
        biases = [b - WEIGHT_OFFSET * sum(row) for b, row in zip(layer.biases, rows)]
        width = max(signed_bytes(k) for k in biases)
        if width > 16:
            raise PlanError(f"a bias of {layer.name!r} needs {width} bytes; the int8 contract holds 16")
        if len(layer.requant_m) != layer.channels or not all(0 <= m < 1 << 32 for m in layer.requant_m):
            raise PlanError(f"{layer.name!r} needs one unsigned 32-bit requantization multiplier per neuron")
        biases_offset = len(data)
        data += b"".join(
            m.to_bytes(INT8_M_BYTES, "big") + _be(k, width) for m, k in zip(layer.requant_m, biases)
        )
        layers.append(
            LayerBlob(start, weights_offset, biases_offset, width, words, piece, pieces, piece_bytes)
        )
    return Blob(bytes(data), "int8", 1, tuple(layers))


def encode_blob(plan: Plan) -> Blob:
    """Every number of ``plan`` as the contract reads it (see the module docstring)."""
    return _int8_blob(plan) if plan.mode == "int8" else _fixed_blob(plan)
