import pytest
import torch

from trainflow.model.baseline import fit_linear
from trainflow.model.network import LinearBaseline, TabularMLP, build_network, embedding_dim


def test_embedding_dim_rule():
    assert embedding_dim(2, 16) == 2
    assert embedding_dim(1000, 16) == 16


@pytest.mark.parametrize(("n_outputs", "shape"), [(1, (5,)), (3, (5, 3))])
def test_mlp_and_linear_shapes(n_outputs, shape):
    x_num, x_cat = torch.randn(5, 3), torch.randint(0, 4, (5, 2))
    mlp = build_network({"kind": "mlp", "n_numeric": 3, "cardinalities": [4, 4],
                         "embedding_dims": [2, 3], "hidden": [8], "dropout": 0.0,
                         "n_outputs": n_outputs})  # fmt: skip
    assert isinstance(mlp, TabularMLP) and mlp.eval()(x_num, x_cat).shape == shape
    linear = build_network(
        {"kind": "linear", "n_numeric": 3, "cardinalities": [4, 4], "n_outputs": n_outputs}
    )
    assert isinstance(linear, LinearBaseline) and linear(x_num, x_cat).shape == shape


def _toy(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(400, 2, generator=g)
    x_cat = torch.randint(0, 3, (400, 1), generator=g)
    score = x_num[:, 0] + (x_cat[:, 0] == 2).float() * 2 - 1
    return x_num, x_cat, score


def test_logistic_baseline_learns_and_is_deterministic():
    x_num, x_cat, score = _toy()
    y = (score > 0).float()
    model, info = fit_linear(x_num, x_cat, y, [3], "binary", 1, l2=1e-4, max_iter=100, seed=0)
    acc = ((model(x_num, x_cat) > 0).float() == y).float().mean()
    assert acc > 0.95 and info["lbfgs_iterations"] > 0
    again, _ = fit_linear(x_num, x_cat, y, [3], "binary", 1, l2=1e-4, max_iter=100, seed=0)
    assert torch.equal(model.numeric.weight, again.numeric.weight)


def test_softmax_baseline_learns_three_classes():
    x_num, x_cat, score = _toy(1)
    y = torch.bucketize(score, torch.tensor([-0.5, 1.0]))  # classes 0, 1, 2
    model, _ = fit_linear(x_num, x_cat, y, [3], "multiclass", 3, l2=1e-4, max_iter=200, seed=0)
    assert (model(x_num, x_cat).argmax(dim=1) == y).float().mean() > 0.9


def test_ridge_baseline_fits_a_linear_target():
    x_num, x_cat, score = _toy(2)
    y = 2 * score + 0.01 * torch.randn(400, generator=torch.Generator().manual_seed(3))
    model, info = fit_linear(x_num, x_cat, y, [3], "regression", 1, l2=0.0, max_iter=200, seed=0)
    mse = float(((model(x_num, x_cat).detach() - y) ** 2).mean())
    assert mse < 1e-3 and info["train_loss"] < 1e-3
