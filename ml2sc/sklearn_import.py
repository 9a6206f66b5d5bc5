"""Read a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor`` into the ops ``capture`` returns.

sklearn computes ``x @ coefs_[i] + intercepts_[i]`` with one hidden ``activation`` between layers and
``out_activation_`` after the last: a binary classifier ends in a sigmoid (class = output > 0.5), a
multi-class one in a softmax (class = argmax, an index into ``classes_``), a regressor in the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .capture import Activation, Dense, Op, UnsupportedModel

HIDDEN = {"relu": "relu", "logistic": "sigmoid", "tanh": "tanh", "identity": None}
OUTPUT = {"logistic": "sigmoid", "softmax": "softmax", "identity": None}
SUPPORTED = ("MLPClassifier", "MLPRegressor")


def is_sklearn(model: Any) -> bool:
    """True for any scikit-learn estimator (its class comes from the ``sklearn`` package)."""
    return type(model).__module__.split(".")[0] == "sklearn"


def is_regressor(model: Any) -> bool:
    """True for an ``MLPRegressor``: its outputs are numbers, not class scores."""
    return type(model).__name__ == "MLPRegressor"


def sklearn_ops(model: Any) -> list[Op]:
    """The fitted MLP's layers as :class:`Dense` and :class:`Activation` ops, first to last."""
    kind = type(model).__name__
    if kind not in SUPPORTED:
        raise UnsupportedModel(f"scikit-learn {kind} is not supported; supported: {', '.join(SUPPORTED)}")
    if not hasattr(model, "coefs_"):
        raise UnsupportedModel(f"the {kind} is not fitted: call fit() before translating it")
    if model.activation not in HIDDEN:
        raise UnsupportedModel(f"{kind} activation {model.activation!r} is not supported")
    out = getattr(model, "out_activation_", "identity")
    if out not in OUTPUT:
        raise UnsupportedModel(f"{kind} output activation {out!r} is not supported")
    if kind == "MLPClassifier" and out == "logistic" and model.coefs_[-1].shape[1] > 1:
        raise UnsupportedModel("a multi-label MLPClassifier (several sigmoid outputs) is not supported")
    ops: list[Op] = []
    last = len(model.coefs_) - 1
    for i, (coef, intercept) in enumerate(zip(model.coefs_, model.intercepts_)):
        weight = np.asarray(coef, dtype=np.float64).T.copy()
        ops.append(Dense(f"layer{i}", weight, np.asarray(intercept, dtype=np.float64).copy()))
        activation = OUTPUT[out] if i == last else HIDDEN[model.activation]
        if activation is not None:
            ops.append(Activation(f"{'out' if i == last else 'act'}{i}", activation))
    return ops
