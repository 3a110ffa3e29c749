"""Cleaned frames as tensors, once: what every torch family trains on. Kept apart from the
LightningDataModule so the linear family (L-BFGS, no Lightning) does not import Lightning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from trainflow.model.preprocess import Preprocessor


class TensorBatches(Dataset):
    """The input blocks (see `Preprocessor.block_names`) and the target, indexed by a tensor
    of row indices: a batch is (*blocks, y)."""

    def __init__(self, blocks: tuple[torch.Tensor, ...], y: torch.Tensor) -> None:
        self.blocks, self.y = blocks, y

    def __len__(self) -> int:
        return self.y.shape[0]

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (*(block[index] for block in self.blocks), self.y[index])

    def take(self, index: torch.Tensor) -> TensorBatches:
        """The rows at `index`, as TensorBatches."""
        return TensorBatches(tuple(block[index] for block in self.blocks), self.y[index])

    def to(self, device: torch.device) -> TensorBatches:
        return TensorBatches(tuple(b.to(device) for b in self.blocks), self.y.to(device))


def from_arrays(blocks: tuple[np.ndarray, ...], y: np.ndarray) -> TensorBatches:
    """Numpy blocks and target as tensors sharing their memory (no torch op runs)."""
    return TensorBatches(tuple(torch.from_numpy(b) for b in blocks), torch.from_numpy(y))


def to_tensors(frame: pd.DataFrame, pre: Preprocessor) -> TensorBatches:
    return from_arrays(pre.transform(frame), pre.encode_target(frame[pre.target]))
