"""Gas-model features of conv and pool layers (pure): how often each part of their code runs.

Like the rest of ``ml2sc.gasmodel``, a feature counts one part of the generated code (a loop body, a
branch taken), and ``ml2sc.calibrate`` fits its gas from receipts. The loops of the conv and pool code
run a number of times fixed by the layer's geometry; only branches depend on the values: the int8
clamps of each written output, and the updates of a running maximum (counted from the emulator's
trace, exactly as the contract scans its windows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from . import convplan
from .blob import Blob
from .emulator import LayerTrace
from .evm_int import INT256_MIN
from .layers import INT8_MAX, Geometry, Layer, Plan

INT8_CLAMP_VALUES = (0, INT8_MAX + 1, -1, -129)  # one value of each clamp path


def _valid(size: int, out: int, kernel: int, stride: int, pad: int) -> list[int]:
    """Per output position: how many of its kernel offsets fall inside the unpadded input."""
    return [sum(0 <= o * stride - pad + k < size for k in range(kernel)) for o in range(out)]


def _fixed_conv(layer: Layer, g: Geometry) -> Counter:
    (c_in, h, w), (c_out, oh, ow), (kh, kw) = g.in_shape, g.out_shape, g.kernel
    rows = _valid(h, oh, kh, g.stride[0], g.padding[0])
    cols = _valid(w, ow, kw, g.stride[1], g.padding[1])
    return Counter(
        conv_layers=1,
        conv_channels=c_out,
        conv_lines=c_out * oh,
        conv_cells=c_out * oh * ow,
        conv_cell_channels=c_out * oh * ow * c_in,
        conv_rows=c_out * oh * ow * c_in * kh,
        conv_rows_in=c_out * c_in * sum(rows) * ow,
        conv_taps=c_out * c_in * sum(rows) * ow * kw,
        conv_macs=c_out * c_in * sum(rows) * sum(cols),
    )


def _fixed_pool(layer: Layer, g: Geometry) -> Counter:
    (c, h, w), (_, oh, ow), (kh, kw) = g.in_shape, g.out_shape, g.kernel
    rows = _valid(h, oh, kh, g.stride[0], g.padding[0])
    cols = _valid(w, ow, kw, g.stride[1], g.padding[1])
    f = Counter(
        pool_layers=1,
        pool_channels=c,
        pool_lines=c * oh,
        pool_cells=c * oh * ow,
        pool_rows=c * oh * ow * kh,
        pool_rows_in=c * sum(rows) * ow,
        pool_taps=c * sum(rows) * ow * kw,
        pool_hits=c * sum(rows) * sum(cols),
    )
    if layer.kind == "avgpool":  # a checked add per value instead of a comparison, and a division
        f["avgpool_hits"] = f["pool_hits"]
        f["avgpool_cells"] = f["pool_cells"]
    return f


def row_features(plan: Plan) -> Counter:
    """A conv model's per-row constant beyond an MLP's (its ``_run`` is a different sequence)."""
    return Counter(conv_row=1) if plan.convolutional else Counter()


def fixed_shape(layer: Layer) -> Counter:
    """A fixed-point conv or pool layer's loop counts (the same for every row)."""
    assert layer.geometry is not None
    return _fixed_conv(layer, layer.geometry) if layer.kind == "conv" else _fixed_pool(layer, layer.geometry)


def _windows(layer: Layer, values: Sequence[int], pad: int) -> list[list[int]]:
    """Each output's window of ``values`` (C, H, W flat), padding as ``pad``, in the scan order (ky, kx)."""
    g = layer.geometry
    assert g is not None
    (c, h, w), (_, oh, ow), (kh, kw) = g.in_shape, g.out_shape, g.kernel
    out = []
    for ch in range(c):
        for oy in range(oh):
            for ox in range(ow):
                window = []
                for ky in range(kh):
                    for kx in range(kw):
                        y, x = oy * g.stride[0] - g.padding[0] + ky, ox * g.stride[1] - g.padding[1] + kx
                        inside = 0 <= y < h and 0 <= x < w
                        window.append(values[(ch * h + y) * w + x] if inside else pad)
                out.append(window)
    return out


def _updates(window: Sequence[int], start: int | None) -> int:
    """Times a running maximum changes while scanning ``window`` (from ``start``, or from its first)."""
    top = window[0] if start is None else start
    count = 0
    for v in window if start is not None else window[1:]:
        if v > top:
            top, count = v, count + 1
    return count


_PAD_NONE = INT256_MIN - 1  # a padding position the fixed max pool skips: never an update


def fixed_values(layer: Layer, inputs: Sequence[int]) -> Counter:
    """The running-maximum updates of a fixed-point max pool on ``inputs`` (padding skipped)."""
    if layer.kind != "maxpool":
        return Counter()
    total = sum(
        _updates([v for v in w if v != _PAD_NONE], INT256_MIN) for w in _windows(layer, inputs, _PAD_NONE)
    )
    return Counter(maxpool_updates=total)


# -- int8 ---------------------------------------------------------------------------------------


def _grid_fill(prefix: str, grid: convplan.Grid) -> Counter:
    c, h, w = grid.channels, grid.height - 2 * grid.pad_rows, grid.width - 2 * grid.pad_cols
    f = Counter({f"{prefix}_calls": 1, f"{prefix}_channels": c, f"{prefix}_lines": c * h})
    if prefix == "grid_in" and w <= 64:
        f["grid_in_words"] = c * h * -(-w // 32)
        f["grid_in_values"] = c * h * w
    else:
        f[f"{prefix}_loop_values"] = c * h * w
    return f


def _int8_conv(walk: convplan.ConvWalk) -> Counter:
    lines = walk.c_out * walk.out_h
    groups = lines * walk.full_groups + lines * (walk.rest > 0)
    sums = groups * walk.pool[0]
    f = Counter(
        conv8_calls=1,
        conv8_channels=walk.c_out,
        conv8_lines=lines,
        conv8_groups=lines * walk.full_groups,
        conv8_rests=lines * (walk.rest > 0),
        conv8_smax=groups * (walk.pool[0] - 1 + walk.pool[1] - 1),
        conv8_hblocks=groups * (walk.pool[1] > 1),
        conv8_puts=walk.c_out * walk.out_h * walk.out_w,
    )
    if walk.piece_words <= 64:
        f["conv8_piece_copies"] = walk.c_out * walk.piece_words
    else:
        f["conv8_piece_loop"] = walk.c_out * walk.piece_words
    if walk.unroll:
        f["conv8_sums"] = sums
        f["conv8_mults"] = sums * len(walk.multiplies)
    else:
        f["conv8_sum_calls"] = sums
        f["conv8_sum_channels"] = sums * walk.c_in
        f["conv8_loop_mults"] = sums * walk.c_in * len(walk.multiplies)
    return f


def _int8_pool(walk: convplan.PoolWalk) -> Counter:
    cells = walk.channels * walk.out_h * walk.out_w
    f = Counter(
        pool8_calls=1, pool8_channels=walk.channels, pool8_lines=walk.channels * walk.out_h, pool8_cells=cells
    )
    f[f"{walk.kind}8_taps"] = cells * (len(walk.taps) - 1)  # a comparison (max) or an add (avg) each
    if walk.kind == "avgpool":
        f["avgpool8_cells"] = cells  # the rounding division
    return f


def int8_shape(plan: Plan, blob: Blob) -> Counter:
    """The int8 conv part's per-row counts: filling the first grid, the conv and pool loops, and
    the Linear layers' bytes copied into a grid."""
    walks = convplan.memory_map(plan, blob)
    f: Counter = Counter()
    if 0 in walks.grids:
        f.update(_grid_fill("grid_in", walks.grids[0]))
    for i, layer in enumerate(plan.layers):
        if layer.kind == "dense" and i + 1 < len(plan.layers) and plan.layers[i + 1].geometry is not None:
            f.update(_grid_fill("buf_grid", walks.grids[i + 1]))
    for walk in walks.convs.values():
        f.update(_int8_conv(walk))
    for pool_walk in walks.pools.values():
        f.update(_int8_pool(pool_walk))
    return f


def call_features(plan: Plan, blob: Blob) -> Counter:
    """What a conv model runs once per call beyond an MLP's (its own code's dispatch and layout: a
    constant per format), and in int8 the padding slots set to 128."""
    if not plan.convolutional:
        return Counter()
    f = Counter(conv_call=1)
    if plan.mode == "int8":
        grids = convplan.memory_map(plan, blob).init_grids
        if grids:
            f.update(grid_init_calls=1, grid_init_slots=sum(g.channels * g.height * g.width for g in grids))
    return f


def scratch_words(plan: Plan, blob: Blob) -> int:
    """Words of scratch memory from 0x80 an int8 conv model reserves (grids and pieces included)."""
    return -(-(convplan.memory_map(plan, blob).end - 128) // 32)


def clamp_path(kind: str, v: int, head: str, prefix: str = "") -> Counter:
    """The branches of clamping ``v`` to int8 and applying ``kind`` (relu / leaky_relu / none): the
    upper clamp, then relu (branchless after it) or the lower clamp and leaky's negative side.
    ``head`` counts the value itself; ``prefix`` names the code (int8 Linear or conv layers)."""
    f = Counter({head: 1, f"{prefix}clamp_hi": int(v > INT8_MAX)})
    if kind != "relu":
        f[f"{prefix}clamp_lo"] = int(v < -128)
    if kind == "leaky_relu":
        f[f"{prefix}leaky_neg"] = int(min(INT8_MAX, max(-128, v)) < 0)
    return f


def put_path(kind: str, v: int) -> Counter:
    """One written conv output's branches (:func:`clamp_path` in the conv kernel's code)."""
    return clamp_path(kind, v, f"conv8_put_{kind}", "conv8_")


def _written(plan: Plan, walks: convplan.Walks, index: int, pre: Sequence[int]) -> list[int]:
    """The values conv ``index`` writes before clamping: its requantized outputs, or with a fused max
    pool the maximum of each window (requantization never decreases, so it commutes with max)."""
    if index + 1 not in walks.fused:
        return list(pre)
    return [max(w) for w in _windows(plan.layers[index + 1], pre, min(pre))]


def int8_values(plan: Plan, blob: Blob, steps: Sequence[LayerTrace]) -> Counter:
    """The value-dependent counts of one row: each written conv output's clamp path, and the
    running-maximum updates of unfused int8 max pools (over a' bytes, padding 0)."""
    walks = convplan.memory_map(plan, blob)
    f: Counter = Counter()
    for i in walks.convs:
        for v in _written(plan, walks, i, steps[i].pre):
            f.update(put_path(plan.layers[i].activation, v))
    for i, pool in walks.pools.items():
        if pool.kind == "maxpool":
            inputs = [v + 128 for v in steps[i - 1].post]
            f["maxpool8_updates"] += sum(_updates(w, None) for w in _windows(plan.layers[i], inputs, 0))
    return f


def int8_bound(plan: Plan, blob: Blob, cost: Callable[[Counter], float]) -> Counter:
    """:func:`int8_values` with every output on its costliest clamp path and every window scan
    updating its maximum at each step: no row costs more."""
    walks = convplan.memory_map(plan, blob)
    f: Counter = Counter()
    for i, walk in walks.convs.items():
        kind = plan.layers[i].activation
        worst = max((put_path(kind, v) for v in INT8_CLAMP_VALUES), key=cost)
        f.update({k: v * walk.c_out * walk.out_h * walk.out_w for k, v in worst.items()})
    for pool in walks.pools.values():
        if pool.kind == "maxpool":
            f["maxpool8_updates"] += pool.channels * pool.out_h * pool.out_w * (len(pool.taps) - 1)
    return f


def fixed_bound(layer: Layer) -> Counter:
    """:func:`fixed_values` at its worst: every valid tap updates the maximum."""
    if layer.kind != "maxpool":
        return Counter()
    return Counter(maxpool_updates=fixed_shape(layer)["pool_hits"])


def cost_of(costs: Mapping[str, float]) -> Callable[[Counter], float]:
    return lambda f: sum(costs.get(k, 0.0) * v for k, v in f.items())
