"""Model capture: modules, functional calls, TorchScript, and clear refusals."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ml2sc.capture import Activation, Dense, ModelLoadError, UnsupportedModel, capture, load_model


def kinds(ops):
    return [op.kind if isinstance(op, Activation) else f"dense{op.n_in}x{op.n_out}" for op in ops]


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 4)
        self.b = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = torch.relu(self.a(torch.flatten(x, 1)))
        x = self.drop(x)
        return F.sigmoid(self.b(x).relu())


def test_sequential_modules() -> None:
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(3, 2), nn.ReLU(), nn.Identity(), nn.Linear(2, 1), nn.Sigmoid()
    )
    ops = capture(model)
    assert kinds(ops) == ["dense3x2", "relu", "dense2x1", "sigmoid"]
    dense = ops[0]
    assert isinstance(dense, Dense)
    assert dense.weight.tolist() == model[1].weight.detach().double().tolist()


def test_functional_calls_through_fx() -> None:
    assert kinds(capture(Functional())) == ["dense5x4", "relu", "dense4x2", "relu", "sigmoid"]


def test_linear_without_bias_gets_zero_bias() -> None:
    ops = capture(nn.Sequential(nn.Linear(3, 2, bias=False)))
    assert ops[0].bias.tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "layer, name", [(nn.ConvTranspose2d(1, 1, 3), "ConvTranspose2d"), (nn.LSTM(3, 3), "LSTM")]
)
def test_unsupported_layer_is_named(layer: nn.Module, name: str) -> None:
    model = nn.Sequential(nn.Linear(3, 3), layer)
    with pytest.raises(UnsupportedModel, match=rf"layer '1' \({name}\) is not supported; supported: Linear"):
        capture(model)


def test_unsupported_function_is_named() -> None:
    class Softplus(nn.Module):  # GELU was this test's example until ml2sc supported it
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return F.softplus(self.fc(x))

    with pytest.raises(UnsupportedModel, match="softplus"):
        capture(Softplus())


def test_residual_graph_is_refused() -> None:
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) + x

    with pytest.raises(UnsupportedModel, match="single chain"):
        capture(Residual())


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(UnsupportedModel, match="expects 4 inputs"):
        capture(nn.Sequential(nn.Linear(3, 2), nn.Linear(4, 1)))


def test_torch_save_and_jit_files(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1), nn.Sigmoid())
    torch.save(model, tmp_path / "whole.pt")
    torch.jit.save(torch.jit.script(model), tmp_path / "scripted.pt")
    torch.jit.save(torch.jit.trace(model, torch.zeros(1, 3)), tmp_path / "traced.pt")
    expected = kinds(capture(model))
    for name in ("whole.pt", "scripted.pt", "traced.pt"):
        ops = capture(load_model(tmp_path / name))
        assert kinds(ops) == expected, name
        assert ops[2].weight.tolist() == model[2].weight.detach().double().tolist()


def test_state_dict_and_missing_files_are_refused(tmp_path: Path) -> None:
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ModelLoadError, match="holds a state_dict, not a whole module"):
        load_model(tmp_path / "sd.pt")
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(tmp_path / "junk.pt")


def test_all_activation_kinds_and_functional_forms() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c, self.d = (
                nn.Linear(3, 4),
                nn.Linear(4, 4),
                nn.Linear(4, 4),
                nn.Linear(4, 3),
            )

        def forward(self, x):
            x = F.leaky_relu(self.a(x), negative_slope=0.2)
            x = torch.tanh(self.b(x))
            x = self.c(x).sigmoid()
            return torch.softmax(self.d(x), dim=-1)

    ops = capture(Mixed())
    assert kinds(ops) == [
        "dense3x4",
        "leaky_relu",
        "dense4x4",
        "tanh",
        "dense4x4",
        "sigmoid",
        "dense4x3",
        "softmax",
    ]
    assert ops[1].params == (0.2,)
    seq = nn.Sequential(
        nn.Linear(2, 2), nn.LeakyReLU(0.05), nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2), nn.Softmax(dim=1)
    )
    assert kinds(capture(seq)) == ["dense2x2", "leaky_relu", "dense2x2", "tanh", "dense2x2", "softmax"]


def test_batchnorm_is_folded_into_the_linear_before_it() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    model.train()
    for _ in range(20):  # give the running statistics real values
        model(torch.randn(16, 5) * 3 + 1)
    model.eval()
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 2)
        model[1].bias.uniform_(-1, 1)
    ops = capture(model)
    assert kinds(ops) == ["dense5x4", "relu", "dense4x2"]
    x = torch.randn(8, 5)
    dense = ops[0]
    folded = x.double() @ torch.tensor(dense.weight).T + torch.tensor(dense.bias)
    with torch.no_grad():
        expected = model[1](model[0](x)).double()
    assert torch.allclose(folded, expected, atol=1e-5)


def test_batchnorm_without_a_linear_before_it_is_refused() -> None:
    with pytest.raises(UnsupportedModel, match="must follow a Linear layer"):
        capture(nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.BatchNorm1d(3)).eval())


def test_softmax_over_another_dim_is_refused() -> None:
    with pytest.raises(UnsupportedModel, match="dim=0"):
        capture(nn.Sequential(nn.Linear(3, 3), nn.Softmax(dim=0)))
