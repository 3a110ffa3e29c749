"""Plain-torch networks (no Lightning), so the served bundle needs only torch to run them.

The tabular networks follow Gorishniy et al.: numeric features through periodic or
piecewise-linear embeddings ("On Embeddings for Numerical Features in Tabular Deep Learning",
2022, `rtdl_num_embeddings`), categorical features through one learned embedding each, then an
MLP or a ResNet-style MLP ("Revisiting Deep Learning Models for Tabular Data", 2021,
`rtdl_revisiting_models`). Text columns through token embeddings pooled by mean and max
(`TextEncoder`, SWEM-concat: Shen et al., "Baseline Needs More Love", 2018). Image columns
through a small VGG-style CNN (`ImageEncoder`). A network is
rebuilt from its JSON config (kind + arguments), so no Python object is ever unpickled.
"""

from __future__ import annotations

import warnings

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


class TextEncoder(nn.Module):
    """Token ids [n, L] -> [n, 2 * d]: the mean and the element-wise max of the real
    (non-padding) tokens' embeddings (SWEM-concat). Chosen by measurement on the review
    snippets (one group split, 8,568 train texts): test accuracy 0.738 against 0.70 for the
    same embeddings through a width-3 convolution first (Kim-style CNN), in 6 s instead of 9 s.
    An all-padding text gives zeros. While training, each word is dropped (made padding) with
    probability `token_dropout`: a regulariser for small corpora."""

    def __init__(self, vocab_size: int, d: int, token_dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d, padding_idx=0)
        self.token_dropout = token_dropout

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.training and self.token_dropout > 0:
            dropped = torch.rand(ids.shape, device=ids.device) < self.token_dropout
            ids = ids.masked_fill(dropped, 0)
        mask = (ids != 0).unsqueeze(-1)  # [n, L, 1]
        hidden = self.embedding(ids)  # padding's embedding is 0
        mean = hidden.sum(dim=1) / mask.sum(dim=1).clamp(min=1).to(hidden.dtype)
        largest = hidden.masked_fill(~mask, torch.finfo(hidden.dtype).min).amax(dim=1)
        return torch.cat([mean, torch.where(mask.any(dim=1), largest, 0.0)], dim=1)


class PixelScale(nn.Module):
    """uint8 (or float 0-255) pixels [n, k, C, H, W] -> standardised floats, with each image
    column's per-channel train mean and std (0-1 scale) held as buffers."""

    def __init__(self, mean: list[list[float]], std: list[list[float]]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32)[..., None, None])
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32)[..., None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(self.mean.dtype) / 255 - self.mean) / self.std

    def reference(self, size: int) -> torch.Tensor:
        """The train split's mean image ([1, k, C, size, size], 0-255 floats): standardised, all
        zeros; the reference attributions start from."""
        return (self.mean * 255).expand(-1, -1, size, size).unsqueeze(0).clone()


class ImageEncoder(nn.Module):
    """Standardised pixels [n, C, H, W] -> [n, widths[-1]]: per width a stage of two 3x3
    convolutions (batch norm, ReLU) and a 2x2 max pool, then the mean over the positions
    (global average pooling). The small CNN of the MNIST-scale examples; measured in
    benchmarks/image_quality.py against the pixel logistic baseline."""

    def __init__(self, channels: int, widths: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in widths:
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU()]  # fmt: skip
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))


def _optional_blocks(
    rest: tuple[torch.Tensor, ...], has_text: bool, has_image: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The blocks after (x_num, x_cat), in `Preprocessor.block_names` order -> (x_text,
    x_image), None where the network has no such column."""
    blocks = list(rest)
    x_text = blocks.pop(0) if has_text else None
    x_image = blocks.pop(0) if has_image else None
    if blocks:
        raise ValueError(f"{len(blocks)} input block(s) more than the network takes")
    return x_text, x_image


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
        vocab_sizes: list[int] = list(config.get("vocab_sizes", []))  # type: ignore[call-overload]
        d_text = int(config.get("d_text", 0))  # type: ignore[call-overload]
        token_dropout = float(config.get("token_dropout", 0.0))  # type: ignore[arg-type]
        self.texts = nn.ModuleList(TextEncoder(v, d_text, token_dropout) for v in vocab_sizes)
        width += len(vocab_sizes) * 2 * d_text
        pixel_mean: list = list(config.get("pixel_mean", []))  # type: ignore[call-overload]
        widths: list[int] = list(config.get("cnn_widths", []))  # type: ignore[call-overload]
        self.pixels = PixelScale(pixel_mean, config["pixel_std"]) if pixel_mean else None  # type: ignore[arg-type]
        # no image column: no module at all, so a table model's state dict (file bytes
        # included) is what it was before images existed
        self.images: nn.ModuleList | tuple = (
            nn.ModuleList(ImageEncoder(len(mean), widths) for mean in pixel_mean)
            if pixel_mean else ()
        )  # fmt: skip
        width += len(pixel_mean) * (widths[-1] if widths else 0)
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
            + [2 * d_text] * len(vocab_sizes)
            + [widths[-1] if widths else 0] * len(pixel_mean)
        )  # type: ignore[arg-type]

    def features(
        self, x_num: torch.Tensor, x_cat: torch.Tensor, *rest: torch.Tensor
    ) -> torch.Tensor:
        """The embedded input row, [n, width]: each feature's block in `slices` order (numerics,
        categoricals, texts, images): what attributions are computed over. `rest`: x_text
        and / or x_image, as the network has text and image columns."""
        x_text, x_image = _optional_blocks(rest, bool(self.texts), bool(self.images))
        parts = []
        if x_num.shape[1]:
            parts.append(x_num if self.numeric is None else self.numeric(x_num).flatten(1))
        if self.categories is not None:
            parts.append(self.categories(x_cat).flatten(1))
        parts.extend(encoder(x_text[:, j]) for j, encoder in enumerate(self.texts))
        if self.pixels is not None:
            scaled = self.pixels(x_image)
            parts.extend(encoder(scaled[:, j]) for j, encoder in enumerate(self.images))
        return torch.cat(parts, dim=1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return _squeeze(self.backbone(features))

    def forward(
        self, x_num: torch.Tensor, x_cat: torch.Tensor, *rest: torch.Tensor
    ) -> torch.Tensor:
        return self.head(self.features(x_num, x_cat, *rest))


def width_per(config: dict) -> int:
    """Width of one numeric feature's block: its embedding, or the value itself."""
    return 1 if config["numeric_embedding"] == "none" else int(config["d_embedding"])


def _slices(widths: list[int]) -> list[tuple[int, int]]:
    out, start = [], 0
    for w in widths:
        out.append((start, start + w))
        start += w
    return out


TFIDF_ROWS = 1024  # rows compared at once: [rows, L, L] booleans (256 MB at L = 512)


def tfidf_weights(ids: torch.Tensor, idf: torch.Tensor) -> torch.Tensor:
    """Per token position, its share of the text's L2-normalised TF-IDF vector ([n, L]):
    summed over the positions of one word they give count * idf / norm, scikit-learn's
    TfidfVectorizer (raw counts, smooth idf, l2 norm). norm^2 = sum over positions of
    idf^2 * (how often that position's word occurs). Eager calls on many rows go TFIDF_ROWS
    at a time (the same numbers: rows are independent); an export traces one block."""
    rows = ids.shape[0]
    if isinstance(rows, int) and rows > TFIDF_ROWS:  # a symbolic batch (export) is not an int
        return torch.cat([tfidf_weights(part, idf) for part in ids.split(TFIDF_ROWS)])
    weight = idf[ids]  # padding's idf is 0
    repeats = (ids.unsqueeze(2) == ids.unsqueeze(1)).sum(dim=2).to(weight.dtype)
    # 1 / norm as rsqrt, an exact square root and a division on every CPU: torch.sqrt takes
    # MKL's vector square root, whose last bit differs between CPU models (trainflow.numerics)
    inverse = (weight.pow(2) * repeats).sum(dim=1, keepdim=True).clamp(min=1e-24).rsqrt()
    return weight * inverse


class LinearBaseline(nn.Module):
    """A linear model on the same features: a weight per numeric, a weight per category
    (one-hot, written as an embedding), a weight per text word on the text's TF-IDF vector,
    one bias; per output. With the task's loss it is logistic regression (binary), softmax
    regression (multiclass) or ridge regression."""

    def __init__(
        self, n_numeric: int, cardinalities: list[int], n_outputs: int = 1,
        vocab_sizes: list[int] | None = None, pixel_mean: list[list[float]] | None = None,
        pixel_std: list[list[float]] | None = None, image_size: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        vocab_sizes = list(vocab_sizes or [])
        pixel_mean = list(pixel_mean or [])
        # each image column: a weight per standardised pixel and output
        self.pixels = PixelScale(pixel_mean, pixel_std or []) if pixel_mean else None
        self.images: nn.ModuleList | tuple = (  # none for tables: their state dict unchanged
            nn.ModuleList(
                nn.Linear(len(mean) * image_size**2, n_outputs, bias=False) for mean in pixel_mean
            )
            if pixel_mean else ()
        )  # fmt: skip
        for layer in self.images:
            nn.init.zeros_(layer.weight)
        with warnings.catch_warnings():  # no numeric column (text only): the bias is all it holds
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")
            self.numeric = nn.Linear(n_numeric, n_outputs)
        self.categories = nn.ModuleList(nn.Embedding(card, n_outputs) for card in cardinalities)
        self.words = nn.ModuleList(nn.Embedding(size, n_outputs) for size in vocab_sizes)
        for emb in (*self.categories, *self.words):
            nn.init.zeros_(emb.weight)
        for j, size in enumerate(vocab_sizes):  # set from the preprocessor; saved with weights
            self.register_buffer(f"idf{j}", torch.zeros(size))
        self.n_numeric, self.n_outputs = n_numeric, n_outputs
        self.slices = _slices(
            [1] * n_numeric
            + [n_outputs] * (len(cardinalities) + len(vocab_sizes) + len(pixel_mean))
        )

    def features(
        self, x_num: torch.Tensor, x_cat: torch.Tensor, *rest: torch.Tensor
    ) -> torch.Tensor:
        """[numerics | each category's weight row | each text's TF-IDF-weighted word
        weights | each image's pixel weights times its standardised pixels]: the model is
        linear in these. `rest`: x_text and / or x_image."""
        x_text, x_image = _optional_blocks(rest, bool(self.words), bool(self.images))
        parts = [x_num, *(emb(x_cat[:, j]) for j, emb in enumerate(self.categories))]
        for j, emb in enumerate(self.words):
            ids = x_text[:, j]
            parts.append((self._tfidf(x_text, j).unsqueeze(2) * emb(ids)).sum(dim=1))
        if self.pixels is not None:
            scaled = self.pixels(x_image)
            parts.extend(layer(scaled[:, j].flatten(1)) for j, layer in enumerate(self.images))
        return torch.cat(parts, dim=1)

    def _tfidf(self, x_text: torch.Tensor, j: int) -> torch.Tensor:
        """tfidf_weights of text column j, kept while training on the same block: they hold
        no parameter, and full-batch L-BFGS evaluates the model on one batch dozens of times."""
        memo = self.__dict__.setdefault("_tfidf_memo", {})
        if self.training and j in memo and memo[j][0] is x_text:
            return memo[j][1]
        weights = tfidf_weights(x_text[:, j], getattr(self, f"idf{j}"))
        if self.training:
            memo[j] = (x_text, weights)
        return weights

    def head(self, features: torch.Tensor) -> torch.Tensor:
        out = self.numeric(features[:, : self.n_numeric])
        rest = features[:, self.n_numeric :]
        if rest.shape[1]:
            out = out + rest.unflatten(1, (-1, self.n_outputs)).sum(dim=1)
        return _squeeze(out)

    def forward(
        self, x_num: torch.Tensor, x_cat: torch.Tensor, *rest: torch.Tensor
    ) -> torch.Tensor:
        return self.head(self.features(x_num, x_cat, *rest))

    def l2_penalty(self) -> torch.Tensor:
        total = self.numeric.weight.pow(2).sum()
        for layer in (*self.categories, *self.words, *self.images):
            total = total + layer.weight.pow(2).sum()
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
