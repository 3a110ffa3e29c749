"""The linear family, the baseline every run reports against: logistic (binary), softmax
(multiclass) or ridge (regression) regression on the same features, full-batch L-BFGS."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from trainflow.families.base import FitContext
from trainflow.families.neural import (
    TORCH_PACKAGES,
    WEIGHTS_FILE,
    NetworkFitted,
    load_network,
    serving_modules,
)
from trainflow.model.baseline import fit_linear
from trainflow.model.objective import loss_for
from trainflow.model.preprocess import Preprocessor
from trainflow.model.splits import Split, as_split
from trainflow.model.tensors import to_tensors
from trainflow.params import LinearParams

NAME = "linear"


def fit(
    train: pd.DataFrame | Split, val: pd.DataFrame | Split, pre: Preprocessor,
    params: LinearParams, ctx: FitContext,
) -> NetworkFitted:  # fmt: skip
    """Full-batch L-BFGS: the split is held in memory, streamed or not (docs/scale.md)."""
    from trainflow.live import offline_live

    train, val = as_split(train).frame(), as_split(val).frame()
    data, held = to_tensors(train, pre), to_tensors(val, pre)
    images = {"pixel_mean": [pre.pixel_mean[c] for c in pre.image],
              "pixel_std": [pre.pixel_std[c] for c in pre.image],
              "image_size": pre.image_size} if pre.image else {}  # fmt: skip
    with offline_live(ctx.live_dir) as live:

        def on_loss(value: float) -> None:
            live.log_metric("train/loss", value)
            live.next_step()

        net, info = fit_linear(
            data.blocks, data.y, pre.cardinalities, [pre.idf[c] for c in pre.text], task=pre.task,
            n_outputs=pre.n_outputs, l2=params.l2, max_iter=params.max_iter, seed=ctx.seed,
            on_loss=on_loss, images=images,
        )  # fmt: skip
        with torch.no_grad():
            val_loss = float(loss_for(pre.task)(net(*held.blocks), held.y))
        live.summary["val/loss"] = val_loss
    network = {"kind": "linear", "n_numeric": len(pre.numeric),
               "cardinalities": pre.cardinalities, "n_outputs": pre.n_outputs,
               "vocab_sizes": pre.vocab_sizes, **images}  # fmt: skip
    config = {"network": network}
    summary = info | {"best_val_loss": val_loss, "train_rows": len(train), "val_rows": len(val)}
    return NetworkFitted(family=NAME, preprocessor=pre, config=config, summary=summary, net=net,
                         files=(WEIGHTS_FILE,), packages=TORCH_PACKAGES,
                         modules=serving_modules(NAME))  # fmt: skip


def load(folder: Path, config: dict, pre: Preprocessor) -> NetworkFitted:
    return load_network(NAME, folder, config, pre, TORCH_PACKAGES)
