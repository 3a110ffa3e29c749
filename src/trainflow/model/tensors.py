"""Cleaned frames as tensors, once: what every torch family trains on. Kept apart from the
LightningDataModule so the linear family (L-BFGS, no Lightning) does not import Lightning."""

from __future__ import annotations

import pandas as pd
import torch
from torch.utils.data import Dataset

from trainflow.model.preprocess import Preprocessor


class TensorBatches(Dataset):
    """Indexed by a tensor of row indices; returns the batch (x_num, x_cat, y)."""

    def __init__(self, x_num: torch.Tensor, x_cat: torch.Tensor, y: torch.Tensor) -> None:
        self.x_num, self.x_cat, self.y = x_num, x_cat, y

    def __len__(self) -> int:
        return self.y.shape[0]

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x_num[index], self.x_cat[index], self.y[index]


def to_tensors(frame: pd.DataFrame, pre: Preprocessor) -> TensorBatches:
    x_num, x_cat = pre.transform(frame)
    y = pre.encode_target(frame[pre.target])
    return TensorBatches(torch.from_numpy(x_num), torch.from_numpy(x_cat), torch.from_numpy(y))
