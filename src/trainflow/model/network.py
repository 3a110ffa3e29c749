"""Plain-torch networks (no Lightning), so the served bundle needs only torch to run them."""

from __future__ import annotations

import torch
from torch import nn


def embedding_dim(cardinality: int, max_dim: int) -> int:
    """fastai's rule of thumb: grows sub-linearly with the number of categories."""
    return max(1, min(max_dim, round(1.6 * cardinality**0.56)))


def _squeeze(out: torch.Tensor) -> torch.Tensor:
    """[n, 1] -> [n] (one logit or one value per row); [n, k] class logits stay."""
    return out.squeeze(1) if out.shape[1] == 1 else out


class TabularMLP(nn.Module):
    """Normalised numerics + one learned embedding per categorical -> MLP -> `n_outputs`
    (one logit for binary, one per class for multiclass, one value for regression)."""

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        embedding_dims: list[int],
        hidden: list[int],
        dropout: float,
        n_outputs: int = 1,
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, dim)
            for card, dim in zip(cardinalities, embedding_dims, strict=True)
        )
        layers: list[nn.Module] = []
        width = n_numeric + sum(embedding_dims)
        for size in hidden:
            layers += [
                nn.Linear(width, size),
                nn.BatchNorm1d(size),
                nn.ReLU(),
                nn.Dropout(dropout),
            ]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [x_num, *(emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings))]
        return _squeeze(self.mlp(torch.cat(parts, dim=1)))


class LinearBaseline(nn.Module):
    """A linear model on the same features: a weight per numeric, a weight per category
    (one-hot, written as an embedding), one bias; per output. With the task's loss it is
    logistic regression (binary), softmax regression (multiclass) or ridge regression."""

    def __init__(self, n_numeric: int, cardinalities: list[int], n_outputs: int = 1) -> None:
        super().__init__()
        self.numeric = nn.Linear(n_numeric, n_outputs)
        self.categories = nn.ModuleList(nn.Embedding(card, n_outputs) for card in cardinalities)
        for emb in self.categories:
            nn.init.zeros_(emb.weight)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        out = self.numeric(x_num)
        for j, emb in enumerate(self.categories):
            out = out + emb(x_cat[:, j])
        return _squeeze(out)

    def l2_penalty(self) -> torch.Tensor:
        total = self.numeric.weight.pow(2).sum()
        for emb in self.categories:
            total = total + emb.weight.pow(2).sum()
        return total


def build_network(config: dict) -> nn.Module:
    """Rebuild a network from its JSON config (kind + constructor arguments)."""
    kinds = {"mlp": TabularMLP, "linear": LinearBaseline}
    args = dict(config)
    kind = args.pop("kind")
    return kinds[kind](**args)
