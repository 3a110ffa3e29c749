"""The preprocessor: fitted on the train split only, saved as JSON (no pickle), used by training,
evaluation and serving alike.

Numerics: optional log1p, then standardised with train mean/std; missing -> train mean (0).
Categoricals: index 0 = unknown or rare category, 1 = missing, 2.. = train vocabulary.
Text: token ids of a word-level tokenizer trained on train (trainflow.model.text), [n, columns,
max_tokens], 0 = padding; the tokenizer's JSON and each word's idf are part of the state.
Images: decoded (Pillow), converted to grey or RGB and resized (trainflow.data.images), uint8
[n, columns, channels, size, size]; each channel's train mean and std (pixels scaled to 0-1) are
part of the state, for the networks to standardise with.
Target: binary 0/1, multiclass class index, regression standardised with train mean/std (so one
learning rate suits any target scale; predictions are mapped back).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.data import images
from trainflow.errors import StageError
from trainflow.model import text as text_codec
from trainflow.model.splits import Split, as_split
from trainflow.params import DataParams, PreprocessParams

Blocks = tuple[np.ndarray, ...]
"""A frame as the networks' inputs, in `Preprocessor.block_names` order: float32 numerics
[n, n_num], int64 category ids [n, n_cat], with text columns int64 token ids
[n, n_text, max_tokens], with image columns uint8 pixels [n, n_image, channels, size, size]."""

UNKNOWN_INDEX = 0
MISSING_INDEX = 1
STANDARDISED_LIMIT = 1e4  # standard deviations: real features lie within a few dozen
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Preprocessor:
    numeric: list[str]
    categorical: list[str]
    log1p: list[str]
    mean: dict[str, float]
    std: dict[str, float]
    vocab: dict[str, list[str]]
    target: str
    task: str  # binary | multiclass | regression
    labels: list[str]
    target_mean: float = 0.0  # regression only
    target_std: float = 1.0
    text: list[str] = field(default_factory=list)
    tokenizers: dict[str, dict] = field(default_factory=dict)  # column -> tokenizer.json
    idf: dict[str, list[float]] = field(default_factory=dict)  # column -> idf per token id
    image: list[str] = field(default_factory=list)
    image_size: int = 0  # every image column resized to image_size x image_size
    image_channels: int = 0  # 1 (grey) or 3 (RGB)
    pixel_mean: dict[str, list[float]] = field(default_factory=dict)  # column -> per channel
    pixel_std: dict[str, list[float]] = field(default_factory=dict)

    @property
    def block_names(self) -> tuple[str, ...]:
        """The networks' input names, one per block `transform` returns."""
        return ("x_num", "x_cat", *(("x_text",) if self.text else ()),
                *(("x_image",) if self.image else ()))  # fmt: skip

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.text, *self.image]

    @property
    def packages(self) -> tuple[str, ...]:
        """pip distributions `transform` needs besides numpy and pandas (serving installs them)."""
        return (*(("tokenizers",) if self.text else ()), *(("pillow",) if self.image else ()))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """One image as the networks see it: (channels, size, size)."""
        return (self.image_channels, self.image_size, self.image_size)

    @property
    def vocab_sizes(self) -> list[int]:
        """Token ids per text column (padding and unknown included)."""
        return [text_codec.vocab_size(self.tokenizers[c]) for c in self.text]

    @property
    def cardinalities(self) -> list[int]:
        return [len(self.vocab[c]) + 2 for c in self.categorical]

    @property
    def n_outputs(self) -> int:
        """One logit (binary), one per class (multiclass), one value (regression)."""
        return len(self.labels) if self.task == "multiclass" else 1

    def transform(self, frame: pd.DataFrame, fill_missing: bool = True) -> Blocks:
        """Cleaned features -> the input blocks (see `Blocks`).

        A missing number becomes the train mean (0 after standardising), or NaN with
        `fill_missing=False`, for models that route missing values themselves (trees)."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise StageError(f"preprocessor: missing feature column(s) {missing}")
        n = len(frame)
        x_num = np.zeros((n, len(self.numeric)), dtype=np.float32)
        for j, col in enumerate(self.numeric):
            x_num[:, j] = self.numeric_values(col, frame[col], fill_missing)
        x_cat = np.zeros((n, len(self.categorical)), dtype=np.int64)
        for j, col in enumerate(self.categorical):
            lookup = {v: i + 2 for i, v in enumerate(self.vocab[col])}
            x_cat[:, j] = _lookup(frame[col], lookup, UNKNOWN_INDEX, MISSING_INDEX)
        blocks: list[np.ndarray] = [x_num, x_cat]
        if self.text:
            blocks.append(
                np.stack([text_codec.encode(self.tokenizers[c], frame[c]) for c in self.text], 1)
            )
        if self.image:
            blocks.append(np.stack([images.pixels(frame[c], self.image_size, self.image_channels,
                                                  c) for c in self.image], 1))  # fmt: skip
        return tuple(blocks)

    def numeric_values(self, col: str, values: pd.Series, fill_missing: bool = True) -> np.ndarray:
        """One numeric column as the networks see it (float64; see `transform`)."""
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        if col in self.log1p:
            values = np.log1p(np.clip(values, 0, None))
        values = (values - self.mean[col]) / self.std[col]
        # a value far outside training (1e308 in a request) stays finite in float32: an
        # inf would make a network answer NaN; its order is kept up to the limit
        values = np.clip(values, -STANDARDISED_LIMIT, STANDARDISED_LIMIT)
        if fill_missing:
            values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        return values

    def encode_target(self, target: pd.Series) -> np.ndarray:
        """What the loss compares with: binary float 0/1 (1 = the positive class), multiclass
        int64 class index in `labels` order, regression the standardised float32 value."""
        if self.task == "regression":
            values = target.to_numpy(dtype=np.float64, na_value=np.nan)
            if not np.isfinite(values).all():
                raise StageError(f"target {self.target!r}: missing or non-finite values")
            return ((values - self.target_mean) / self.target_std).astype(np.float32)
        lookup = {label: i for i, label in enumerate(self.labels)}
        codes = _lookup(target, lookup, -1, -1)
        if (codes < 0).any():
            bad = sorted(set(target[codes < 0].astype(str)))[:5]
            raise StageError(f"target {self.target!r}: unknown label(s) {bad}")
        return codes if self.task == "multiclass" else codes.astype(np.float32)

    def decode_values(self, outputs: np.ndarray) -> np.ndarray:
        """Regression outputs (standardised) -> the target's own units."""
        return outputs * self.target_std + self.target_mean

    def to_dict(self) -> dict:
        return {"format_version": FORMAT_VERSION, **asdict(self)}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, raw: dict) -> Preprocessor:
        raw = dict(raw)
        version = raw.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise StageError(
                f"preprocessor format {version!r} unsupported (want {FORMAT_VERSION})"
            )
        return cls(**raw)

    @classmethod
    def load(cls, path: Path) -> Preprocessor:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise StageError(f"{path}: preprocessor not found") from None


def _lookup(values: pd.Series, lookup: dict[str, int], unknown: int, missing: int) -> np.ndarray:
    """Each value's index in `lookup` (`unknown` if absent, `missing` if missing).

    Categoricals are looked up once per category, then spread by their codes.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        categorical = values.array  # its categories and codes, without a Series each
        per_category = [lookup.get(str(c), unknown) for c in categorical.categories.tolist()]
        table = np.array([*per_category, missing], dtype=np.int64)  # code -1 -> missing
        return table[categorical.codes]
    codes = values.map(lookup).fillna(unknown).to_numpy(dtype=np.int64, copy=True)
    codes[values.isna().to_numpy()] = missing
    return codes


def fit_preprocessor(
    train: pd.DataFrame | Split, data: DataParams, params: PreprocessParams
) -> Preprocessor:
    """Fit normalisation statistics and vocabularies on the training split only, one column at
    a time (a streamed split is never held whole: trainflow.model.splits)."""
    split = as_split(train)
    if not split.rows:
        raise StageError("preprocessor: training split is empty")
    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    for col in data.numeric_features:
        values = split.column(col).to_numpy(dtype=np.float64, na_value=np.nan)
        if col in params.log1p:  # a fresh array, then in place: one column's memory
            values = np.clip(values, 0, None)
            np.log1p(values, out=values)
        mean[col], std[col] = _mean_std(values)
        del values
    vocab: dict[str, list[str]] = {}
    for col in data.categorical_features:
        counts = _value_counts(split.column(col))
        kept = counts[counts >= params.min_category_count]
        vocab[col] = sorted(kept.index.tolist())
    tokenizers, idf = {}, {}
    for col in data.text_features:
        texts = split.column(col)
        tokenizers[col] = text_codec.fit_tokenizer(texts, params.text)
        ids = text_codec.encode(tokenizers[col], texts)
        idf[col] = text_codec.inverse_document_frequency(
            ids, text_codec.vocab_size(tokenizers[col])
        )
    pixel_mean, pixel_std = {}, {}
    shape = params.image
    for col in data.image_features:
        x = images.pixels(split.column(col), shape.size, shape.channels, col)
        x = x.astype(np.float64) / 255
        pixel_mean[col] = [round(float(v), 6) for v in x.mean(axis=(0, 2, 3))]
        pixel_std[col] = [round(max(float(v), 1e-3), 6) for v in x.std(axis=(0, 2, 3))]
    target_mean, target_std = 0.0, 1.0
    if data.task_type == "regression":
        values = split.column(data.target).to_numpy(dtype=np.float64, na_value=np.nan)
        target_mean, target_std = _mean_std(values)
    return Preprocessor(
        numeric=data.numeric_features,
        categorical=data.categorical_features,
        log1p=[c for c in params.log1p if c in data.numeric_features],
        mean=mean,
        std=std,
        vocab=vocab,
        target=data.target,
        task=data.task_type,
        labels=list(data.labels),
        target_mean=target_mean,
        target_std=target_std,
        text=data.text_features,
        tokenizers=tokenizers,
        idf=idf,
        image=data.image_features,
        image_size=shape.size if data.image_features else 0,
        image_channels=shape.channels if data.image_features else 0,
        pixel_mean=pixel_mean,
        pixel_std=pixel_std,
    )


def _value_counts(values: pd.Series) -> pd.Series:
    """Rows per value as text, missing values left out. A categorical column is counted by
    its codes (no string per row: at 1e8 rows that is gigabytes)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        counts = values.value_counts(dropna=True)
        counts.index = counts.index.astype(str)
        return counts[counts > 0].groupby(level=0).sum()
    return values.dropna().astype(str).value_counts()


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and std of the finite values; std 1 where there is no spread (nothing to scale)."""
    finite = np.isfinite(values)
    finite = values if finite.all() else values[finite]  # no copy when every value counts
    if not finite.size:
        return 0.0, 1.0
    sd = float(finite.std())
    return float(finite.mean()), sd if sd > 1e-12 else 1.0
