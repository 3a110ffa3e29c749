import pytest
import torch

from trainflow.model.baseline import fit_linear
from trainflow.model.network import LinearBaseline, TabularNet, build_network


def tabular(backbone: str, embedding: str, n_outputs: int) -> dict:
    return {
        "kind": "tabular", "backbone": backbone, "n_numeric": 3, "numeric_embedding": embedding,
        "d_embedding": 4, "frequency_scale": 1.0, "n_frequencies": 8,
        "bins": [[-2.0, 0.0, 2.0], [-1.0, 1.0], [0.0, 0.5, 1.0, 3.0]], "cardinalities": [4, 5],
        "d_category": 3, "n_blocks": 2, "width": 8, "dropout": 0.0, "n_outputs": n_outputs,
        "hidden_multiplier": 2.0, "residual_dropout": 0.0,
    }  # fmt: skip


@pytest.mark.parametrize("embedding", ["periodic", "piecewise_linear", "none"])
@pytest.mark.parametrize("backbone", ["mlp", "resnet"])
@pytest.mark.parametrize(("n_outputs", "shape"), [(1, (5,)), (3, (5, 3))])
def test_tabular_networks_shapes_and_feature_blocks(embedding, backbone, n_outputs, shape):
    x_num, x_cat = torch.randn(5, 3), torch.randint(0, 4, (5, 2))
    net = build_network(tabular(backbone, embedding, n_outputs)).eval()
    assert isinstance(net, TabularNet) and net(x_num, x_cat).shape == shape
    width = 1 if embedding == "none" else 4
    assert net.slices == [(0, width), (width, 2 * width), (2 * width, 3 * width),
                          (3 * width, 3 * width + 3), (3 * width + 3, 3 * width + 6)]  # fmt: skip
    assert net.features(x_num, x_cat).shape == (5, 3 * width + 6)
    assert torch.equal(net.head(net.features(x_num, x_cat)), net(x_num, x_cat))


def test_a_table_without_categoricals_or_numerics():
    config = tabular("mlp", "periodic", 1) | {"cardinalities": []}
    assert build_network(config).eval()(
        torch.randn(4, 3), torch.zeros(4, 0, dtype=torch.long)
    ).shape == (4,)
    config = tabular("mlp", "periodic", 1) | {"n_numeric": 0}
    assert build_network(config).eval()(torch.zeros(4, 0), torch.randint(0, 4, (4, 2))).shape == (
        4,
    )


@pytest.mark.parametrize(("n_outputs", "shape"), [(1, (5,)), (3, (5, 3))])
def test_linear_head_of_features_is_the_model(n_outputs, shape):
    x_num, x_cat = torch.randn(5, 3), torch.randint(0, 4, (5, 2))
    linear = build_network(
        {"kind": "linear", "n_numeric": 3, "cardinalities": [4, 4], "n_outputs": n_outputs}
    )
    torch.nn.init.normal_(linear.categories[1].weight)
    assert isinstance(linear, LinearBaseline) and linear(x_num, x_cat).shape == shape
    assert torch.allclose(linear.head(linear.features(x_num, x_cat)), linear(x_num, x_cat))


def test_unknown_network_kind():
    with pytest.raises(ValueError, match="unknown network kind 'rnn'"):
        build_network({"kind": "rnn"})


def _toy(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(400, 2, generator=g)
    x_cat = torch.randint(0, 3, (400, 1), generator=g)
    score = x_num[:, 0] + (x_cat[:, 0] == 2).float() * 2 - 1
    return x_num, x_cat, score


def test_logistic_baseline_learns_and_is_deterministic():
    x_num, x_cat, score = _toy()
    y = (score > 0).float()
    seen = []
    model, info = fit_linear((x_num, x_cat), y, [3], [], "binary", 1, l2=1e-4, max_iter=100,
                             seed=0, on_loss=seen.append)  # fmt: skip
    acc = ((model(x_num, x_cat) > 0).float() == y).float().mean()
    assert acc > 0.95 and info["lbfgs_iterations"] > 0
    assert len(seen) >= info["lbfgs_iterations"] and seen[-1] < seen[0]
    again, _ = fit_linear((x_num, x_cat), y, [3], [], "binary", 1, l2=1e-4, max_iter=100, seed=0)
    assert torch.equal(model.numeric.weight, again.numeric.weight)


def test_softmax_baseline_learns_three_classes():
    x_num, x_cat, score = _toy(1)
    y = torch.bucketize(score, torch.tensor([-0.5, 1.0]))  # classes 0, 1, 2
    model, _ = fit_linear(
        (x_num, x_cat), y, [3], [], "multiclass", 3, l2=1e-4, max_iter=200, seed=0
    )
    assert (model(x_num, x_cat).argmax(dim=1) == y).float().mean() > 0.9


def test_ridge_baseline_fits_a_linear_target():
    x_num, x_cat, score = _toy(2)
    y = 2 * score + 0.01 * torch.randn(400, generator=torch.Generator().manual_seed(3))
    model, info = fit_linear(
        (x_num, x_cat), y, [3], [], "regression", 1, l2=0.0, max_iter=200, seed=0
    )
    mse = float(((model(x_num, x_cat).detach() - y) ** 2).mean())
    assert mse < 1e-3 and info["train_loss"] < 1e-3
