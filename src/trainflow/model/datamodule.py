"""The LightningDataModule: cleaned frames -> tensors once, then whole batches by index, handed
to Lightning in chunks of `steps_per_call` batches (see trainflow.model.module).

Batches are gathered from tensors with one fancy-index per batch, from index tensors sliced out of
a seeded permutation: no per-row Python (no per-row __getitem__ + collate, no sampler yielding
row numbers one by one), which otherwise dominates tabular training time. The loaders are plain
iterables, not torch DataLoaders: with the data already in tensors a DataLoader only adds its
per-batch machinery. On a GPU the tensors move to it once, in setup, and stay there.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import pandas as pd
import torch
from torch.utils.data import Sampler

from trainflow.model.preprocess import Preprocessor
from trainflow.model.tensors import TensorBatches, to_tensors


def distributed_share() -> tuple[int, int]:
    """(this process's rank, the number of processes): (0, 1) outside a distributed run."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def process_share(batch_size: int) -> tuple[int, int]:
    """`distributed_share()`, checked: `batch_size` is the global batch, so it must divide
    among the processes."""
    rank, world = distributed_share()
    if batch_size % world:
        raise ValueError(
            f"train.batch_size {batch_size} is the global batch: it must be a "
            f"multiple of the {world} processes"
        )
    return rank, world


class IndexBatches(Sampler[torch.Tensor]):
    """Batches of row indices as tensors. Shuffled: a permutation drawn from `seed + epoch`, so
    every epoch's order is a function of the epoch alone (a run resumed at epoch k sees the
    order an uninterrupted run saw). `batch_size` is the global batch: under DDP every process
    walks the same batches and takes every world_size-th row of each, so N processes take the
    optimizer steps one process takes, over the same rows (the permutation's first rows repeat
    to make the shares equal)."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int) -> None:
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def _rows(self, world: int) -> torch.Tensor:
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            rows = torch.randperm(self.n, generator=gen)
        else:
            rows = torch.arange(self.n)
        padded = -(-self.n // world) * world
        return torch.cat([rows, rows[: padded - self.n]])

    def __iter__(self) -> Iterator[torch.Tensor]:
        rank, world = process_share(self.batch_size)
        for batch in torch.split(self._rows(world), self.batch_size):
            yield batch[rank::world]

    def __len__(self) -> int:
        _, world = process_share(self.batch_size)
        return -(-(-(-self.n // world) * world) // self.batch_size)  # ceil(padded n / batch)


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def chunked(batches: Iterator[Batch], size: int) -> Iterator[list[Batch]]:
    """Batches in lists of `size` (the last one shorter): one list per Lightning step."""
    chunk: list[Batch] = []
    for batch in batches:
        chunk.append(batch)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class TensorLoader:
    """Iterates a TensorBatches in the batches of an IndexBatches, `chunk` batches at a time
    (a list per Lightning step). `sampler` and `batch_sampler` are the DataLoader attributes
    Lightning reads (for `set_epoch`, and to see whether a loader shuffles)."""

    batch_sampler = None

    def __init__(self, data: TensorBatches, sampler: IndexBatches, chunk: int = 1) -> None:
        self.data, self.sampler, self.chunk = data, sampler, chunk

    def __iter__(self) -> Iterator[list[Batch]]:
        device = self.data.y.device
        batches = (self.data[index.to(device, non_blocking=True)] for index in self.sampler)
        return chunked(batches, self.chunk)

    def __len__(self) -> int:
        return -(-len(self.sampler) // self.chunk)


class TabularDataModule(L.LightningDataModule):
    """Train/val tensors from cleaned frames; shuffling from a seeded generator per epoch.

    Chunks hold `steps_per_call` batches in one process; under DDP one batch each, since DDP
    synchronises gradients once per call of its wrapped module (one backward per step)."""

    def __init__(
        self,
        train: pd.DataFrame,
        val: pd.DataFrame,
        preprocessor: Preprocessor,
        batch_size: int,
        seed: int,
        steps_per_call: int = 1,
    ) -> None:
        super().__init__()
        self.train_frame, self.val_frame = train, val
        self.preprocessor = preprocessor
        self.batch_size = batch_size
        self.seed = seed
        self.steps_per_call = steps_per_call
        self.train_set: TensorBatches | None = None
        self.val_set: TensorBatches | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
            self.train_set = to_device(to_tensors(self.train_frame, self.preprocessor), device)
            self.val_set = to_device(to_tensors(self.val_frame, self.preprocessor), device)

    def _loader(self, data: TensorBatches, shuffle: bool) -> TensorLoader:
        world = self.trainer.world_size if self.trainer else 1
        chunk = self.steps_per_call if world == 1 else 1
        sampler = IndexBatches(len(data), self.batch_size, shuffle, self.seed)
        return TensorLoader(data, sampler, chunk)

    def train_dataloader(self) -> TensorLoader:
        assert self.train_set is not None, "call setup() first"
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> TensorLoader:
        assert self.val_set is not None, "call setup() first"
        return self._loader(self.val_set, shuffle=False)


def to_device(data: TensorBatches, device: torch.device) -> TensorBatches:
    """The whole split resident on `device` (a no-op on the CPU)."""
    if data.y.device == device:
        return data
    return data.to(device)
