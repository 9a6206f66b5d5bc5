"""Small real datasets that ship with scikit-learn (offline) and a deterministic trainer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REGRESSION = ("diabetes",)


@dataclass(frozen=True)
class Split:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


def load_split(name: str, test_size: float = 0.25, seed: int = 0) -> Split:
    """``breast_cancer``, ``digits``, ``wine``, ``iris`` (split stratified) or ``diabetes``
    (regression), split with a fixed seed."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "wine": datasets.load_wine,
        "iris": datasets.load_iris,
        "diabetes": datasets.load_diabetes,
    }
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(loaders)}")
    x, y = loaders[name](return_X_y=True)
    stratify = None if name in REGRESSION else y
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=stratify
    )
    return Split(name, x_train, y_train, x_test, y_test)


def train_mlp(
    split: Split,
    hidden: tuple[int, ...] = (16, 8),
    epochs: int = 300,
    seed: int = 0,
    lr: float = 0.01,
):
    """Train a ReLU MLP on standardized features, then fold the standardization into the
    first Linear layer so that the returned model takes raw features.

    Two classes give one sigmoid output (binary cross-entropy); more give logits (argmax).
    """
    import torch
    from torch import nn

    torch.manual_seed(seed)
    mean = split.x_train.mean(axis=0)
    std = split.x_train.std(axis=0)
    std[std == 0] = 1.0
    x = torch.tensor((split.x_train - mean) / std, dtype=torch.float32)
    binary = split.n_classes == 2
    sizes = (split.n_features, *hidden)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], 1 if binary else split.n_classes))
    model = nn.Sequential(*layers)
    if binary:
        y = torch.tensor(split.y_train, dtype=torch.float32).unsqueeze(1)
        loss_fn: nn.Module = nn.BCEWithLogitsLoss()
    else:
        y = torch.tensor(split.y_train, dtype=torch.long)
        loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        first = model[0]
        scale = torch.tensor(1.0 / std, dtype=torch.float32)
        shift = torch.tensor(mean / std, dtype=torch.float32)
        first.bias -= first.weight @ shift
        first.weight *= scale
    if binary:
        model.append(nn.Sigmoid())
    return model.eval()


def torch_predict(model, x: np.ndarray) -> np.ndarray:
    """Float PyTorch classes for raw feature rows, with the same head rule as the contract."""
    import torch

    with torch.no_grad():
        out = model(torch.tensor(x, dtype=torch.float32)).numpy()
    if out.shape[1] == 1:
        return (out[:, 0] > 0.5).astype(int)
    return out.argmax(axis=1)


def train_regressor(split: Split, hidden: tuple[int, ...] = (32,), epochs: int = 60, seed: int = 0):
    """A ReLU MLP with one linear output, trained on standardized features and targets; both
    standardizations are folded into the first and last Linear layers, so the model maps raw
    features to raw targets (diabetes: 25 to 346). Stopped early (60 epochs of AdamW, weight decay
    0.01): on diabetes the test R^2 is 0.31 there and falls below 0 by 500 epochs, an overfit model
    whose large gain no 8-bit format carries well."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    mean, std = split.x_train.mean(axis=0), split.x_train.std(axis=0)
    std[std == 0] = 1.0
    y_mean, y_std = float(split.y_train.mean()), float(split.y_train.std()) or 1.0
    x = torch.tensor((split.x_train - mean) / std, dtype=torch.float32)
    y = torch.tensor((split.y_train - y_mean) / y_std, dtype=torch.float32).unsqueeze(1)
    sizes = (split.n_features, *hidden)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        first, last = model[0], model[-1]
        first.bias -= first.weight @ torch.tensor(mean / std, dtype=torch.float32)
        first.weight *= torch.tensor(1.0 / std, dtype=torch.float32)
        last.weight *= y_std
        last.bias.mul_(y_std).add_(y_mean)
    return model.eval()
