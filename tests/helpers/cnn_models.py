"""Small conv models as op lists with random weights, each walking different paths of the kernels
(shared by the conv contract and gas-model tests)."""

from __future__ import annotations

import numpy as np

from ml2sc.capture import Activation, Conv, Dense, Op, Pool, Reshape


def _conv(
    rng: np.random.Generator, name: str, c_in: int, c_out: int, k: tuple[int, int], **kw: object
) -> Conv:
    fan = c_in * k[0] * k[1]
    weight = rng.normal(0, 1 / np.sqrt(fan), (c_out, c_in, *k))
    return Conv(name, weight, rng.normal(0, 0.1, c_out), **kw)  # type: ignore[arg-type]


def _dense(rng: np.random.Generator, name: str, n_in: int, n_out: int) -> Dense:
    return Dense(name, rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)), rng.normal(0, 0.1, n_out))


def _models() -> dict[str, list[Op]]:
    rng = np.random.default_rng(7)
    return {
        "lenet-like: fused max pools, flatten, dense": [
            Reshape("in", (1, 12, 12)),
            _conv(rng, "c1", 1, 3, (3, 3)),
            Activation("r1", "relu"),
            Pool("p1", "max", (2, 2), (2, 2)),
            _conv(rng, "c2", 3, 4, (3, 3), padding=(1, 1)),
            Activation("r2", "relu"),
            Pool("p2", "max", (2, 2), (2, 2)),
            Reshape("flat", ()),
            _dense(rng, "fc", 16, 5),
        ],
        "stride, padding, overlapping padded max pool, avg pool, leaky": [
            Reshape("in", (2, 9, 11)),
            _conv(rng, "c1", 2, 4, (3, 5), stride=(2, 2), padding=(1, 2)),
            Activation("r1", "leaky_relu", (0.1,)),
            Pool("p1", "max", (3, 3), (1, 1), (1, 1)),
            _conv(rng, "c2", 4, 3, (2, 2)),
            Pool("p2", "avg", (2, 2), (1, 1), (1, 1)),
            Reshape("flat", ()),
            _dense(rng, "fc", 3 * 5 * 6, 4),
            Activation("s", "sigmoid"),
        ],
        "conv1d from a dense layer (Unflatten), many input channels": [
            _dense(rng, "fc0", 10, 140),
            Activation("r0", "relu"),
            Reshape("unflatten", (70, 2)),
            _conv(rng, "c1", 70, 5, (1, 3), padding=(0, 1), dims=1),
            Activation("r1", "relu"),
            Pool("p1", "avg", (1, 2), (1, 1), dims=1),
            Reshape("flat", ()),
            _dense(rng, "fc", 5, 3),
        ],
    }


MODELS = _models()
