"""Per-sample tensor shapes through a captured op list (pure): what each Conv, Pool and Linear sees.

ml2sc contracts take flat rows; a convolutional model says where a row becomes an image with a
``Reshape`` (``nn.Unflatten(1, (C, H, W))``, ``x.view(-1, C, H, W)``, an ONNX file's 4-D input), and
flattens it back before its Linear layers. Values stay in row-major (C, H, W) order throughout, so
neither step moves a number: only the shapes here change. A 1-D tensor (C, L) is handled as
(C, 1, L), and a Conv1d / pool1d as a 2-D one with kernel height 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

from .capture import Activation, BatchNorm, Conv, Dense, Op, Pool, Reshape, UnsupportedModel

Shape = tuple[int, ...]  # per sample: (n,), (C, L) or (C, H, W)


@dataclass(frozen=True)
class Shapes:
    """The model's flat input size and the shape after each op (``None``: still unknown, before a
    first Linear fixes it)."""

    n_inputs: int
    after: tuple[Shape, ...]


def as_chw(shape: Shape) -> tuple[int, int, int]:
    """(C, H, W) of a (C, L) or (C, H, W) shape."""
    return (shape[0], 1, shape[1]) if len(shape) == 2 else (shape[0], shape[1], shape[2])


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """torch's output length (floor mode, dilation 1)."""
    return (size + 2 * padding - kernel) // stride + 1


def _spatial(op: Conv | Pool, shape: Shape | None, what: str) -> Shape:
    want = 2 if op.dims == 1 else 3
    if shape is None:
        form = "(C, L)" if op.dims == 1 else "(C, H, W)"
        raise UnsupportedModel(
            f"{what} {op.name!r} starts the model, so the height and width of its input are unknown: start "
            f"the model with nn.Unflatten(1, {form}) (x.view(-1, ...)) so that it takes flat rows"
        )
    if len(shape) != want:
        form = "(C, L)" if op.dims == 1 else "(C, H, W)"
        raise UnsupportedModel(
            f"{what} {op.name!r} takes a {form} sample but gets shape {shape}; "
            f"{'reshape it first (nn.Unflatten)' if len(shape) == 1 else 'check the layer order'}"
        )
    c, h, w = as_chw(shape)
    (kh, kw), (sh, sw), (ph, pw) = op.kernel, op.stride, op.padding
    if min(kh, kw, sh, sw) < 1 or min(ph, pw) < 0:
        raise UnsupportedModel(
            f"{what} {op.name!r} has kernel {op.kernel}, stride {op.stride}, padding {op.padding}"
        )
    if isinstance(op, Conv) and op.c_in != c:
        raise UnsupportedModel(f"{what} {op.name!r} expects {op.c_in} input channels but gets {c}")
    if isinstance(op, Pool) and (2 * ph > kh or 2 * pw > kw):
        raise UnsupportedModel(
            f"{what} {op.name!r}: padding {op.padding} is more than half its kernel {op.kernel}"
        )
    oh, ow = conv_out(h, kh, sh, ph), conv_out(w, kw, sw, pw)
    if oh < 1 or ow < 1:
        raise UnsupportedModel(
            f"{what} {op.name!r}: kernel {op.kernel} does not fit its {h}x{w} input (padding {op.padding})"
        )
    channels = op.c_out if isinstance(op, Conv) else c
    return (channels, ow) if op.dims == 1 else (channels, oh, ow)


def _reshape(op: Reshape, shape: Shape | None) -> Shape:
    size = prod(shape) if shape is not None else None
    if not op.shape:  # flatten
        if size is None:
            raise UnsupportedModel(f"{op.name!r} flattens the input, whose size is unknown here")
        return (size,)
    if any(d == 0 or d < -1 for d in op.shape) or list(op.shape).count(-1) > 1:
        raise UnsupportedModel(
            f"{op.name!r} reshapes to {op.shape}: dimensions must be positive (one may be -1)"
        )
    known = prod(d for d in op.shape if d != -1)
    if -1 in op.shape:
        if size is None:
            raise UnsupportedModel(
                f"{op.name!r} reshapes the model's input to {op.shape}: name every dimension (no -1) so "
                "that the input size is known"
            )
        if size % known:
            raise UnsupportedModel(f"{op.name!r} reshapes a sample of size {size} to {op.shape}")
        out = tuple(size // known if d == -1 else d for d in op.shape)
    else:
        out = tuple(op.shape)
    if size is not None and prod(out) != size:
        raise UnsupportedModel(
            f"{op.name!r} reshapes a sample of {size} values to {out} ({prod(out)} values)"
        )
    if len(out) > 3:
        raise UnsupportedModel(
            f"{op.name!r} reshapes to {out}: ml2sc handles (n), (C, L) and (C, H, W) samples"
        )
    return out


def infer_shapes(ops: Sequence[Op]) -> Shapes:
    """Every op's output shape, and the flat input size; an inconsistency is refused by layer name."""
    shape: Shape | None = None
    n_inputs: int | None = None
    after: list[Shape] = []
    for op in ops:
        if isinstance(op, Dense):
            if shape is None:
                n_inputs = op.n_in
            elif len(shape) != 1:
                raise UnsupportedModel(
                    f"Linear {op.name!r} gets a sample of shape {shape}: flatten it first (nn.Flatten)"
                )
            elif shape[0] != op.n_in:
                raise UnsupportedModel(f"layer {op.name!r} expects {op.n_in} inputs but gets {shape[0]}")
            shape = (op.n_out,)
        elif isinstance(op, Conv):
            shape = _spatial(op, shape, "Conv1d" if op.dims == 1 else "Conv2d")
        elif isinstance(op, Pool):
            label = f"{'Max' if op.kind == 'max' else 'Avg'}Pool{op.dims}d"
            shape = _spatial(op, shape, label)
        elif isinstance(op, Reshape):
            first = shape is None
            shape = _reshape(op, shape)
            if first:
                n_inputs = prod(shape)
        elif isinstance(op, (Activation, BatchNorm)):
            pass
        if n_inputs is None and shape is not None:
            n_inputs = prod(shape)
        after.append(shape if shape is not None else ())
    if n_inputs is None:
        raise UnsupportedModel("the model has no Linear or convolution layer")
    return Shapes(n_inputs, tuple(after))
