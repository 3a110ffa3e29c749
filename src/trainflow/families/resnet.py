"""The ResNet family: the same embedded inputs as the MLP through residual blocks with batch
norm (Gorishniy et al., 2021). Deeper and wider than the MLP: it pays off on a GPU."""

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
from trainflow.params import ResNetParams

NAME = "resnet"


def fit(
    train: pd.DataFrame | Split, val: pd.DataFrame | Split, pre: Preprocessor,
    params: ResNetParams, ctx: FitContext,
) -> NetworkFitted | None:  # fmt: skip
    extra = {"n_blocks": params.n_blocks, "width": params.width,
             "hidden_multiplier": params.hidden_multiplier,
             "residual_dropout": params.residual_dropout}  # fmt: skip
    config = tabular_config("resnet", pre, params, train, extra)
    return fit_network(NAME, config, train, val, pre, params, ctx, TABULAR_PACKAGES)


def load(folder: Path, config: dict, pre: Preprocessor) -> NetworkFitted:
    return load_network(NAME, folder, config, pre, TABULAR_PACKAGES)
