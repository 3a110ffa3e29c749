import torch

from trainflow.model.baseline import fit_logistic
from trainflow.model.network import LogisticBaseline, TabularMLP, build_network, embedding_dim


def test_embedding_dim_rule():
    assert embedding_dim(2, 16) == 2
    assert embedding_dim(1000, 16) == 16


def test_mlp_and_logistic_shapes():
    x_num, x_cat = torch.randn(5, 3), torch.randint(0, 4, (5, 2))
    mlp = build_network({"kind": "mlp", "n_numeric": 3, "cardinalities": [4, 4],
                         "embedding_dims": [2, 3], "hidden": [8], "dropout": 0.0})  # fmt: skip
    assert isinstance(mlp, TabularMLP) and mlp.eval()(x_num, x_cat).shape == (5,)
    logit = build_network({"kind": "logistic", "n_numeric": 3, "cardinalities": [4, 4]})
    assert isinstance(logit, LogisticBaseline) and logit(x_num, x_cat).shape == (5,)


def test_logistic_baseline_learns_and_is_deterministic():
    g = torch.Generator().manual_seed(0)
    x_num = torch.randn(400, 2, generator=g)
    x_cat = torch.randint(0, 3, (400, 1), generator=g)
    y = ((x_num[:, 0] + (x_cat[:, 0] == 2).float() * 2 - 1) > 0).float()
    model, info = fit_logistic(x_num, x_cat, y, [3], l2=1e-4, max_iter=100, seed=0)
    acc = ((model(x_num, x_cat) > 0).float() == y).float().mean()
    assert acc > 0.95 and info["lbfgs_iterations"] > 0
    again, _ = fit_logistic(x_num, x_cat, y, [3], l2=1e-4, max_iter=100, seed=0)
    assert torch.equal(model.numeric.weight, again.numeric.weight)
