"""Plain-torch networks (no Lightning), so the served bundle needs only torch to run them.

The tabular networks follow Gorishniy et al.: numeric features through periodic or
piecewise-linear embeddings ("On Embeddings for Numerical Features in Tabular Deep Learning",
2022, `rtdl_num_embeddings`), categorical features through one learned embedding each, then an
MLP or a ResNet-style MLP ("Revisiting Deep Learning Models for Tabular Data", 2021,
`rtdl_revisiting_models`). A network is rebuilt from its JSON config (kind + arguments), so no
Python object is ever unpickled.
"""

from __future__ import annotations

import torch
from torch import nn

NUMERIC_EMBEDDINGS = ("periodic", "piecewise_linear", "none")
BACKBONES = ("mlp", "resnet")


def _squeeze(out: torch.Tensor) -> torch.Tensor:
    """[n, 1] -> [n] (one logit or one value per row); [n, k] class logits stay."""
    return out.squeeze(1) if out.shape[1] == 1 else out


def numeric_embedding(config: dict) -> tuple[nn.Module | None, int]:
    """The numeric block and its output width: periodic or piecewise-linear embeddings (one
    `d_embedding` vector per feature), or the standardised values themselves."""
    import rtdl_num_embeddings as rne

    n, kind = config["n_numeric"], config["numeric_embedding"]
    if n == 0:
        return None, 0
    if kind == "none":
        return None, n
    d = config["d_embedding"]
    if kind == "periodic":
        module = rne.PeriodicEmbeddings(
            n, d, n_frequencies=config["n_frequencies"],
            frequency_init_scale=config["frequency_scale"], lite=False,
        )  # fmt: skip
    else:
        bins = [torch.tensor(edges, dtype=torch.float32) for edges in config["bins"]]
        module = rne.PiecewiseLinearEmbeddings(bins, d, activation=False, version="B")
    return module, n * d


class TabularNet(nn.Module):
    """Embedded numerics + one embedding per categorical -> MLP or ResNet -> `n_outputs`
    (one logit for binary, one per class for multiclass, one value for regression)."""

    def __init__(self, **config: object) -> None:
        import rtdl_revisiting_models as rrm

        super().__init__()
        self.numeric, width = numeric_embedding(config)
        cards: list[int] = list(config["cardinalities"])  # type: ignore[arg-type]
        self.categories = rrm.CategoricalEmbeddings(cards, config["d_category"]) if cards else None
        width += len(cards) * int(config["d_category"])  # type: ignore[arg-type]
        common = {"d_in": width, "d_out": config["n_outputs"], "n_blocks": config["n_blocks"],
                  "d_block": config["width"]}  # fmt: skip
        if config["backbone"] == "mlp":
            self.backbone = rrm.MLP(**common, dropout=config["dropout"])
        else:
            self.backbone = rrm.ResNet(
                **common, d_hidden_multiplier=config["hidden_multiplier"],
                dropout1=config["dropout"], dropout2=config["residual_dropout"],
            )  # fmt: skip

        self.slices = _slices(
            [width_per(config)] * int(config["n_numeric"])
            + [int(config["d_category"])] * len(cards)
        )  # type: ignore[arg-type]

    def features(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """The embedded input row, [n, width]: each feature's block in `slices` order (numerics,
        then categoricals): what attributions are computed over."""
        parts = []
        if x_num.shape[1]:
            parts.append(x_num if self.numeric is None else self.numeric(x_num).flatten(1))
        if self.categories is not None:
            parts.append(self.categories(x_cat).flatten(1))
        return torch.cat(parts, dim=1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return _squeeze(self.backbone(features))

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x_num, x_cat))


def width_per(config: dict) -> int:
    """Width of one numeric feature's block: its embedding, or the value itself."""
    return 1 if config["numeric_embedding"] == "none" else int(config["d_embedding"])


def _slices(widths: list[int]) -> list[tuple[int, int]]:
    out, start = [], 0
    for w in widths:
        out.append((start, start + w))
        start += w
    return out


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
        self.n_numeric, self.n_outputs = n_numeric, n_outputs
        self.slices = _slices([1] * n_numeric + [n_outputs] * len(cardinalities))

    def features(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """[numerics | each category's weight row]: the model is linear in these."""
        parts = [x_num, *(emb(x_cat[:, j]) for j, emb in enumerate(self.categories))]
        return torch.cat(parts, dim=1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        out = self.numeric(features[:, : self.n_numeric])
        rest = features[:, self.n_numeric :]
        if rest.shape[1]:
            out = out + rest.unflatten(1, (-1, self.n_outputs)).sum(dim=1)
        return _squeeze(out)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x_num, x_cat))

    def l2_penalty(self) -> torch.Tensor:
        total = self.numeric.weight.pow(2).sum()
        for emb in self.categories:
            total = total + emb.weight.pow(2).sum()
        return total


def build_network(config: dict) -> nn.Module:
    """Rebuild a network from its JSON config (kind + constructor arguments)."""
    args = dict(config)
    kind = args.pop("kind")
    if kind == "linear":
        return LinearBaseline(**args)
    if kind == "tabular":
        return TabularNet(**args)
    raise ValueError(f"unknown network kind {kind!r}")
