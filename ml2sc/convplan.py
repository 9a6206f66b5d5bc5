"""Where an int8 conv model's activations live in memory, and how each conv / pool layer walks them
(pure: the renderer passes these constants to the templates, the gas model counts their loops).

int8 conv and pool layers read their input from a *grid*: the (C, H, W) values, zero-padded by the
layer's own padding, one 4-byte slot per value holding a' = a + 128 (so 0..255; a padding slot holds
128, the value 0, or 0 for max pooling, which then never wins). A 32-byte MLOAD at any slot reads 8
consecutive values of a row as eight 32-bit lanes, the first in the top lane. Multiplied by a piece
polynomial ``sum_j w_j 2**(32 j)`` of P kernel taps (``blob.piece_polynomial``), lane 7 - i of the
product holds sum_j w_j a'(i + j): the P-tap dot product of output position i, for the 9 - P
positions i whose taps all lie in the word. Summing such products over input channels, kernel rows
and pieces gives complete conv outputs in those lanes: each multiply does P * (9 - P) MACs (20 for a
5-wide kernel), and the weights are reused at every position without an im2col copy.

Lanes are signed sums (|sum| < 2**30, ``quant.MAX_CONV_TAPS``); adding 2**30 to every lane makes
them independent unsigned fields. A max pool right after a conv (stride = kernel, no padding, conv
stride 1) is fused: the conv rows of a pooling window are combined lane-wise (an unsigned SWAR max)
and then neighbouring lanes, before any requantization; requantization, clamping and ReLU never
decrease, so max-then-requantize equals the emulator's requantize-then-max bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .blob import SWAR_LANES, Blob, LayerBlob
from .layers import Layer, Plan

SLOT = 4  # bytes per grid value
GRID_TAIL = 32  # a word read at the last slot stays inside the grid's memory (zeros there)


@dataclass(frozen=True)
class Grid:
    """One layer's input grid: (C, Hp, Wp) padded slots from ``base``; padding slots hold ``pad``."""

    base: int
    channels: int
    height: int  # padded
    width: int  # padded
    pad_rows: int
    pad_cols: int
    pad: int  # a' of a padding slot: 128 (value 0) or 0 (max pooling: never wins)

    @property
    def size(self) -> int:
        return SLOT * self.channels * self.height * self.width + GRID_TAIL

    @property
    def needs_init(self) -> bool:
        return self.pad != 0 and (self.pad_rows > 0 or self.pad_cols > 0)

    def slot(self, c: int, y: int, x: int) -> int:
        """Address of unpadded position (c, y, x)."""
        return self.base + SLOT * ((c * self.height + y + self.pad_rows) * self.width + x + self.pad_cols)


@dataclass(frozen=True)
class Dest:
    """Where a layer writes its int8 outputs as a' bytes: a grid (for a conv or pool) or BUF (for a
    Linear, flat in (C, H, W) order)."""

    grid: Grid | None
    buf: int
    shape: tuple[int, int, int]  # (C, H, W) written

    def row(self, c: int, y: int) -> int:
        """The byte address of output (c, y, 0); consecutive x are ``step`` bytes apart."""
        if self.grid is None:
            return self.buf + (c * self.shape[1] + y) * self.shape[2]
        return self.grid.slot(c, y, 0) + SLOT - 1  # the low byte of the big-endian slot

    @property
    def step(self) -> int:
        return 1 if self.grid is None else SLOT

    @property
    def channel_step(self) -> int:
        return self.row(1, 0) - self.row(0, 0)

    @property
    def row_step(self) -> int:
        return self.row(0, 1) - self.row(0, 0)


@dataclass(frozen=True)
class ConvWalk:
    """The constants of one int8 conv layer's kernel (with its fused max pool, if any)."""

    index: int
    source: Grid
    dest: Dest
    c_in: int
    c_out: int
    kh: int
    kw: int
    piece: int
    pieces: int
    piece_bytes: int
    stride: tuple[int, int]
    pool: tuple[int, int]  # fused max pool window (1, 1): none
    out_h: int  # rows written (pooled when fused)
    out_w: int
    per_group: int  # outputs written per group of lanes
    full_groups: int  # per output row
    rest: int  # outputs in a last, partial group (0: none)
    lanes: tuple[int, ...]  # the lane (7 = top) of each output of a group
    unroll: bool  # every (ci, ky, piece) multiply written out; else a loop over ci
    scratch: int  # where an output channel's pieces are copied, sign-extended to 32-byte words

    @property
    def complete(self) -> int:
        """Complete outputs per multiply (stride-1 positions)."""
        return SWAR_LANES + 1 - self.piece

    @property
    def multiplies(self) -> tuple[tuple[int, int], ...]:
        """(activation offset from the group's first slot, offset of the piece's word in the scratch
        copy) of each multiply of one input channel (or of all, when unrolled)."""
        channels = range(self.c_in) if self.unroll else range(1)
        out = []
        for ci in channels:
            for ky in range(self.kh):
                for t in range(self.pieces):
                    x_off = SLOT * ((ci * self.source.height + ky) * self.source.width + t * self.piece)
                    out.append((x_off, 32 * ((ci * self.kh + ky) * self.pieces + t)))
        return tuple(out)

    @property
    def piece_words(self) -> int:
        """Pieces of one output channel: the words copied to ``scratch`` before its outputs."""
        return self.c_in * self.kh * self.pieces

    @property
    def channel_bytes(self) -> int:
        return SLOT * self.source.height * self.source.width

    @property
    def channel_weight_bytes(self) -> int:
        """Scratch bytes of one input channel's pieces."""
        return 32 * self.kh * self.pieces

    @property
    def out_channel_weight_bytes(self) -> int:
        """Blob bytes of one output channel's pieces."""
        return self.c_in * self.kh * self.pieces * self.piece_bytes

    @property
    def row_bytes(self) -> int:
        """Input bytes from one written row to the next."""
        return SLOT * self.source.width * self.stride[0] * self.pool[0]

    @property
    def sub_row_bytes(self) -> int:
        """Input bytes between the conv rows of one pooling window."""
        return SLOT * self.source.width * self.stride[0]

    @property
    def group_bytes(self) -> int:
        return SLOT * self.per_group * self.stride[1] * self.pool[1]

    @property
    def shift_bits(self) -> int:
        """SAR that sign-extends a stored piece polynomial of ``piece_bytes`` from its 32-byte word."""
        return 256 - 8 * self.piece_bytes


@dataclass(frozen=True)
class PoolWalk:
    """One int8 pooling layer that is not fused into the conv before it."""

    index: int
    kind: str
    source: Grid
    dest: Dest
    channels: int
    out_h: int
    out_w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]

    @property
    def taps(self) -> tuple[int, ...]:
        """Byte offsets of a window's slots from its first."""
        kh, kw = self.kernel
        return tuple(SLOT * (ky * self.source.width + kx) for ky in range(kh) for kx in range(kw))


@dataclass(frozen=True)
class Walks:
    """Everything the int8 templates need about the conv part of a model."""

    grids: dict[int, Grid]  # layer index -> its input grid
    convs: dict[int, ConvWalk]
    pools: dict[int, PoolWalk]
    fused: frozenset[int]  # pool layers done inside the conv before them
    end: int  # first byte after the last grid

    @property
    def init_grids(self) -> list[Grid]:
        return [g for g in self.grids.values() if g.needs_init]


def fusable(conv: Layer, pool: Layer | None, piece: int) -> bool:
    """A max pool right after a conv is done inside it when its windows tile the conv output (stride =
    kernel, no padding), the conv has stride 1, and one multiply's complete lanes hold a whole window."""
    if pool is None or pool.kind != "maxpool" or conv.geometry is None or pool.geometry is None:
        return False
    g, q = conv.geometry, pool.geometry
    return (
        g.stride == (1, 1)
        and q.stride == q.kernel
        and q.padding == (0, 0)
        and q.kernel[1] <= SWAR_LANES + 1 - piece
    )


def _grid(layer: Layer, base: int) -> Grid:
    g = layer.geometry
    assert g is not None
    c, h, w = g.in_shape
    ph, pw = g.padding
    pad = 0 if layer.kind == "maxpool" else 128
    return Grid(base, c, h + 2 * ph, w + 2 * pw, ph, pw, pad)


def walks(plan: Plan, blob: Blob, buf: int, start: int) -> Walks:
    """The grids (from address ``start``) and the walk of every int8 conv and pool layer."""
    layers = plan.layers
    fused = {
        i + 1
        for i, layer in enumerate(layers[:-1])
        if layer.kind == "conv" and fusable(layer, layers[i + 1], blob.layers[i].piece)
    }
    grids: dict[int, Grid] = {}
    address = start
    for i, layer in enumerate(layers):
        if layer.geometry is not None and i not in fused:
            grids[i] = _grid(layer, address)
            address += -(-grids[i].size // 32) * 32

    def dest(after: int) -> Dest:
        """Where the output of the layer (or fused pair) ending at index ``after`` goes."""
        shape = layers[after].geometry.out_shape  # type: ignore[union-attr]
        nxt = after + 1
        return Dest(grids.get(nxt), buf, shape)

    convs: dict[int, ConvWalk] = {}
    pools: dict[int, PoolWalk] = {}
    for i, layer in enumerate(layers):
        g = layer.geometry
        if g is None or i in fused:
            continue
        if layer.kind == "conv":
            b: LayerBlob = blob.layers[i]
            pool = (1, 1)
            if i + 1 in fused:
                pool = layers[i + 1].geometry.kernel  # type: ignore[union-attr]
            out = layers[i + 1].geometry.out_shape if i + 1 in fused else g.out_shape  # type: ignore[union-attr]
            complete = SWAR_LANES + 1 - b.piece
            if pool != (1, 1):
                per_group = complete // pool[1]
                lanes = tuple(SWAR_LANES - 1 - j * pool[1] for j in range(per_group))
            else:
                per_group = (complete - 1) // g.stride[1] + 1
                lanes = tuple(SWAR_LANES - 1 - j * g.stride[1] for j in range(per_group))
            per_group = min(per_group, out[2])
            convs[i] = ConvWalk(
                index=i,
                source=grids[i],
                dest=dest(i + 1 if i + 1 in fused else i),
                c_in=g.in_shape[0],
                c_out=g.out_shape[0],
                kh=g.kernel[0],
                kw=g.kernel[1],
                piece=b.piece,
                pieces=b.pieces,
                piece_bytes=b.piece_bytes,
                stride=g.stride,
                pool=pool,
                out_h=out[1],
                out_w=out[2],
                per_group=per_group,
                full_groups=out[2] // per_group,
                rest=out[2] % per_group,
                lanes=lanes[:per_group],
                unroll=g.in_shape[0] * g.kernel[0] * b.pieces <= 64,
                scratch=0,
            )
        else:
            pools[i] = PoolWalk(
                index=i,
                kind=layer.kind,
                source=grids[i],
                dest=dest(i),
                channels=g.out_shape[0],
                out_h=g.out_shape[1],
                out_w=g.out_shape[2],
                kernel=g.kernel,
                stride=g.stride,
            )
    words = max((w.piece_words for w in convs.values()), default=0)
    convs = {i: replace(w, scratch=address) for i, w in convs.items()}
    return Walks(grids, convs, pools, frozenset(fused), address + 32 * words)


def memory_map(plan: Plan, blob: Blob) -> Walks:
    """An int8 conv model's scratch memory, as the template lays it out from 0x80: the dense layers'
    activation words (128 bytes per word of the widest Linear input), BUF (a' bytes: the widest of
    those words, or of any flat output written there), then the grids and the pieces' scratch."""
    layers = plan.layers
    scratch_words = max(b.words_per_neuron for b in blob.layers)
    buf = 128 + 128 * scratch_words
    into_buf = [layer.n_out for i, layer in enumerate(layers[:-1]) if layers[i + 1].kind == "dense"]
    into_buf += [layer.n_out for layer in layers if layer.kind == "dense"]
    buf_bytes = max([32 * scratch_words, *into_buf])
    return walks(plan, blob, buf, buf + -(-buf_bytes // 32) * 32)
