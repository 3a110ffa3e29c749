"""What the torch families share: the fitted network, its exports and its attributions.

The weights are a state dict (`model.pt`, loaded with weights_only=True) and the architecture
is rebuilt from the JSON config: nothing is unpickled. Exports: torch.export (`model.pt2`) and
ONNX (`model.onnx`), both checked against the eager network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trainflow.families.base import Fitted
from trainflow.model.network import build_network
from trainflow.model.preprocess import Blocks, Preprocessor
from trainflow.model.splits import Split, as_split
from trainflow.params import NeuralParams

WEIGHTS_FILE = "model.pt"
TORCH_PACKAGES = ("torch", "captum")  # captum: /explain's Integrated Gradients
TABULAR_PACKAGES = (*TORCH_PACKAGES, "rtdl-num-embeddings", "rtdl-revisiting-models")


def serving_modules(family: str) -> tuple[str, ...]:
    """The family's module: the bento ships it and everything it imports."""
    return (f"families/{family}.py",)


@dataclass
class NetworkFitted(Fitted):
    net: torch.nn.Module | None = None

    def _inputs(self, frame: pd.DataFrame) -> Blocks:
        return self.preprocessor.transform(frame)

    @torch.inference_mode()
    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        return self.net(*(torch.from_numpy(b) for b in self._inputs(frame))).numpy()

    def save_files(self, folder: Path) -> None:
        torch.save(self.net.state_dict(), folder / WEIGHTS_FILE)

    def export(self, folder: Path, frame: pd.DataFrame) -> dict:
        from trainflow.model.export import export_and_check

        blocks = self._inputs(frame)
        return export_and_check(self.net, blocks, self.preprocessor.block_names, folder)

    def attributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Integrated Gradients (Captum) on the embedded inputs, summed per feature: each
        feature's contribution to the raw output against the all-missing/unknown row."""
        from trainflow.model.explain import integrated_gradients

        return integrated_gradients(self.net, self._inputs(frame))


def load_network(
    family: str, folder: Path, config: dict, pre: Preprocessor, packages: tuple[str, ...]
) -> NetworkFitted:
    net = build_network(config["network"])
    net.load_state_dict(torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    net.eval()
    return NetworkFitted(family=family, preprocessor=pre, config=config, net=net,
                         files=(WEIGHTS_FILE,), packages=packages,
                         modules=serving_modules(family))  # fmt: skip


def tabular_config(
    backbone: str, pre: Preprocessor, params: NeuralParams, train: pd.DataFrame | Split,
    extra: dict,
) -> dict:  # fmt: skip
    """The network config of an MLP / ResNet family: numeric embeddings (with piecewise-linear
    bins computed on the train split), categorical embeddings, text encoders, the backbone's
    sizes."""
    piecewise = params.numeric_embedding == "piecewise_linear"
    config = {
        "kind": "tabular",
        "backbone": backbone,
        "n_numeric": len(pre.numeric),
        "numeric_embedding": params.numeric_embedding,
        "d_embedding": params.d_embedding,
        "frequency_scale": params.frequency_scale,
        "n_frequencies": params.n_frequencies,
        "bins": quantile_bins(pre, as_split(train), params.n_bins) if piecewise else None,
        "cardinalities": pre.cardinalities,
        "d_category": params.d_category,
        "vocab_sizes": pre.vocab_sizes,
        "d_text": params.d_text,
        "token_dropout": params.token_dropout,
        "dropout": params.dropout,
        "n_outputs": pre.n_outputs,
    }
    if pre.image:  # image columns: each through the CNN, standardised with train statistics
        config |= {"pixel_mean": [pre.pixel_mean[c] for c in pre.image],
                   "pixel_std": [pre.pixel_std[c] for c in pre.image],
                   "cnn_widths": list(params.cnn_widths)}  # fmt: skip
    return config | extra


QUANTILE_ROWS = 2**24
"""torch.quantile's input limit (pytorch#64947): past it, the bins come from a seeded subsample
of this many rows (a fixed seed: the bins are part of the run), as rtdl_num_embeddings
advises."""


def quantile_bins(pre: Preprocessor, train: Split, n_bins: int) -> list[list[float]]:
    """Bin edges per numeric feature for piecewise-linear encoding (rtdl's compute_bins on
    the train split, one column at a time); a feature with fewer distinct values gets fewer
    bins, a constant one a single unit bin."""
    import rtdl_num_embeddings as rne

    keep = None
    if train.rows > QUANTILE_ROWS:
        gen = torch.Generator().manual_seed(0)
        keep = torch.randperm(train.rows, generator=gen)[:QUANTILE_ROWS].sort().values.numpy()
    edges = []
    for col in pre.numeric:
        values = pre.numeric_values(col, train.column(col)).astype(np.float32)
        column = torch.from_numpy(values if keep is None else values[keep]).view(-1, 1)
        distinct = int(column.unique().numel())
        if distinct < 2:
            value = float(column[0, 0]) if len(column) else 0.0
            edges.append([value, value + 1.0])
            continue
        bins = rne.compute_bins(column, n_bins=max(2, min(n_bins, distinct, len(column) - 1)))
        edges.append([float(v) for v in bins[0]])
    return edges


def fit_network(
    family: str, net_config: dict, train: pd.DataFrame | Split, val: pd.DataFrame | Split,
    pre: Preprocessor,
    params: NeuralParams, ctx, packages: tuple[str, ...],
) -> NetworkFitted | None:  # fmt: skip
    """Train a network family with Lightning (trainflow.model.training)."""
    from trainflow.model.training import train_network

    init = None
    if ctx.trainer.init_from is not None:  # transfer learning: this family's source weights
        from trainflow.model.transfer import initial_state, other_meanings

        state, record, source_pre = initial_state(ctx.trainer.init_from.path, family)
        skip = other_meanings(source_pre, pre.to_dict())
        init = (state, record | {"version": ctx.trainer.init_from.version}, skip)
    result = train_network(net_config, train, val, pre, params, ctx.trainer, ctx.seed,
                           ctx.resume_dir, ctx.live_dir, ctx.fingerprint, init)  # fmt: skip
    if result is None:
        return None
    return NetworkFitted(family=family, preprocessor=pre, config={"network": net_config},
                         summary=result.summary, net=result.net, files=(WEIGHTS_FILE,),
                         packages=packages,
                         modules=serving_modules(family))  # fmt: skip
