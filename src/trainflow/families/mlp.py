"""The MLP family: numeric features through periodic (or piecewise-linear) embeddings,
categorical features through learned embeddings, then an MLP (Gorishniy et al., 2021-2022)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trainflow.families.base import FitContext
from trainflow.families.neural import (
    TABULAR_PACKAGES,
    NetworkFitted,
    fit_network,
    load_network,
    tabular_config,
)
from trainflow.model.preprocess import Preprocessor
from trainflow.model.splits import Split
from trainflow.params import MLPParams

NAME = "mlp"


def fit(
    train: pd.DataFrame | Split,
    val: pd.DataFrame | Split,
    pre: Preprocessor,
    params: MLPParams,
    ctx: FitContext,
) -> NetworkFitted | None:
    config = tabular_config("mlp", pre, params, train,
                            {"n_blocks": params.n_blocks, "width": params.width})  # fmt: skip
    return fit_network(NAME, config, train, val, pre, params, ctx, TABULAR_PACKAGES)


def load(folder: Path, config: dict, pre: Preprocessor) -> NetworkFitted:
    return load_network(NAME, folder, config, pre, TABULAR_PACKAGES)
