"""The LightningDataModule: cleaned frames -> tensors once, then whole batches by index.

Batches are gathered from tensors with one fancy-index per batch (a BatchSampler feeding
indices to the dataset), not per-row __getitem__ + collate, which dominates tabular training time.
"""

from __future__ import annotations

import lightning as L
import pandas as pd
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from trainflow.model.preprocess import Preprocessor


class TensorBatches(Dataset):
    """Indexed by a list of row indices; returns the batch (x_num, x_cat, y)."""

    def __init__(self, x_num: torch.Tensor, x_cat: torch.Tensor, y: torch.Tensor) -> None:
        self.x_num, self.x_cat, self.y = x_num, x_cat, y

    def __len__(self) -> int:
        return self.y.shape[0]

    def __getitem__(self, index: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(index)
        return self.x_num[idx], self.x_cat[idx], self.y[idx]


def to_tensors(frame: pd.DataFrame, pre: Preprocessor) -> TensorBatches:
    x_num, x_cat = pre.transform(frame)
    y = pre.encode_target(frame[pre.target])
    return TensorBatches(torch.from_numpy(x_num), torch.from_numpy(x_cat), torch.from_numpy(y))


class TabularDataModule(L.LightningDataModule):
    """Train/val tensors from cleaned frames; shuffling from a seeded generator."""

    def __init__(
        self,
        train: pd.DataFrame,
        val: pd.DataFrame,
        preprocessor: Preprocessor,
        batch_size: int,
        seed: int,
    ) -> None:
        super().__init__()
        self.train_frame, self.val_frame = train, val
        self.preprocessor = preprocessor
        self.batch_size = batch_size
        self.seed = seed
        self.train_set: TensorBatches | None = None
        self.val_set: TensorBatches | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            self.train_set = to_tensors(self.train_frame, self.preprocessor)
            self.val_set = to_tensors(self.val_frame, self.preprocessor)

    def _loader(self, data: TensorBatches, shuffle: bool) -> DataLoader:
        if shuffle:
            sampler = RandomSampler(data, generator=torch.Generator().manual_seed(self.seed))
        else:
            sampler = SequentialSampler(data)
        batches = BatchSampler(sampler, batch_size=self.batch_size, drop_last=False)
        return DataLoader(data, sampler=batches, batch_size=None)

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup() first"
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_set is not None, "call setup() first"
        return self._loader(self.val_set, shuffle=False)
