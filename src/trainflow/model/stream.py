"""The streamed data path (`train.data: stream`): batches read from the split's Parquet pieces
while training runs, so a split larger than memory trains in the memory of a few row groups.

Train, per epoch: the pieces (row groups, trainflow.model.splits) are put in an order drawn from
`seed + epoch` and dealt to the processes of a distributed run, each piece to the process with
the fewest rows so far, so every process reads its own pieces only. A process reads `window`
pieces at a time (the next window is read and preprocessed on a thread while the current one
trains), shuffles their rows together with what the last window left over (a permutation drawn
from seed, epoch, process and window), and cuts batches of `batch_size / processes` rows. Every
process takes the same number of steps, `ceil(rows / batch_size)` as in memory: a process whose
pieces run out starts them again, one with more stops. One process alone sees every row once
per epoch, the last batch the smaller one, as in memory. Each epoch's batches are a function of
the seed and the epoch, so a run killed and resumed at an epoch boundary ends as an
uninterrupted one does.

Validation: the pieces in file order, cut into batches exactly as the in-memory path cuts them
(each process taking every world-th row of each batch, the last batch padded with the split's
first rows): the same batches, so the same val/loss, whichever path reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import lightning as L
import numpy as np
import torch

from trainflow.errors import StageError
from trainflow.model.datamodule import Batch, chunked, process_share
from trainflow.model.preprocess import Preprocessor
from trainflow.model.splits import ParquetSplit, Piece
from trainflow.model.tensors import TensorBatches, from_arrays


def deal_pieces(pieces: list[Piece], seed: int, epoch: int, world: int) -> list[list[Piece]]:
    """Each process's pieces for one epoch: the pieces in an order drawn from seed + epoch,
    each dealt to the process with the fewest rows so far (the lowest rank on a tie)."""
    gen = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(len(pieces), generator=gen).tolist()
    shares: list[list[Piece]] = [[] for _ in range(world)]
    rows = [0] * world
    for i in order:
        rank = min(range(world), key=lambda r: (rows[r], r))
        shares[rank].append(pieces[i])
        rows[rank] += pieces[i].rows
    return shares


def window_generator(*keys: int) -> torch.Generator:
    """A generator seeded by several integers (seed, epoch, process, window)."""
    state = np.random.SeedSequence([k & 0xFFFFFFFF for k in keys]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def concat(parts: list[TensorBatches]) -> TensorBatches:
    if len(parts) == 1:
        return parts[0]
    blocks = tuple(torch.cat([p.blocks[j] for p in parts]) for j in range(len(parts[0].blocks)))
    return TensorBatches(blocks, torch.cat([p.y for p in parts]))


Arrays = tuple[tuple[np.ndarray, ...], np.ndarray]
"""Read pieces before they become tensors: the input blocks and the target, as numpy."""


def prefetched(loads: list[Callable[[], Arrays]]) -> Iterator[TensorBatches]:
    """Each load's result in order, the next one running on a thread meanwhile (pyarrow and
    numpy release the GIL while they read and convert).

    The thread runs numpy and pyarrow only; its arrays become tensors here, on the training
    thread. A torch op run on a second thread gives that thread its own OpenMP team, and while
    both teams live, OpenMP counts more threads than cores and stops spinning between parallel
    regions: every op of the training thread then waits on a futex wake-up (measured: 1.45x
    the epoch time at 1e7 rows on 2 cores, half the CPU idle)."""
    if not loads:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainflow-stream") as pool:
        pending = pool.submit(loads[0])
        for nxt in loads[1:]:
            current, pending = pending.result(), pool.submit(nxt)
            yield as_tensors(current)
        yield as_tensors(pending.result())


def as_tensors(arrays: Arrays) -> TensorBatches:
    """Read arrays as tensors sharing their memory (no torch op runs: safe on any thread)."""
    return from_arrays(*arrays)


class StreamReader:
    """Pieces of one split -> tensors (the features and the target only)."""

    def __init__(self, split: ParquetSplit, pre: Preprocessor) -> None:
        self.split, self.pre = split, pre
        self.columns = [*pre.features, pre.target]

    def arrays(self, pieces: list[Piece]) -> Arrays:
        """The pieces read and preprocessed, in numpy and pyarrow alone (see `prefetched`)."""
        parts = []
        for piece in pieces:
            frame = self.split.read(piece, self.columns)
            target = self.pre.encode_target(frame[self.pre.target])
            parts.append((self.pre.transform(frame), target))
        if len(parts) == 1:
            return parts[0]
        blocks = tuple(np.concatenate([p[0][j] for p in parts]) for j in range(len(parts[0][0])))
        return blocks, np.concatenate([p[1] for p in parts])

    def load(self, pieces: list[Piece]) -> TensorBatches:
        return as_tensors(self.arrays(pieces))

    def loads(self, pieces: list[Piece], window: int) -> list[Callable[[], Arrays]]:
        groups = [pieces[i : i + window] for i in range(0, len(pieces), window)]
        return [lambda g=g: self.arrays(g) for g in groups]


class TrainStream:
    """One process's shuffled train batches for the epoch set by `set_epoch` (see module doc)."""

    def __init__(self, reader: StreamReader, batch_size: int, seed: int, window: int) -> None:
        self.reader, self.batch_size, self.seed, self.window = reader, batch_size, seed, window
        self.rows = reader.split.rows
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def steps(self) -> int:
        return -(-self.rows // self.batch_size)

    def __len__(self) -> int:
        return self.steps()

    def __iter__(self) -> Iterator[Batch]:
        rank, world = process_share(self.batch_size)
        cuts = -(-world // max(1, len(self.reader.split.groups)))
        mine = deal_pieces(self.reader.split.pieces(cuts), self.seed, self.epoch, world)[rank]
        if not mine:
            raise StageError(f"train: the train split's {self.rows} rows are too few to share "
                             f"among {world} processes")  # fmt: skip
        local, steps = self.batch_size // world, self.steps()
        emitted, k, carry = 0, 0, None
        while True:  # a process whose pieces run out before `steps` starts them again
            for data in prefetched(self.reader.loads(mine, self.window)):
                data = data if carry is None else concat([carry, data])
                order = torch.randperm(len(data), generator=window_generator(
                    self.seed, self.epoch, rank, k))  # fmt: skip
                k += 1
                full = min(len(order) // local, steps - emitted)
                for b in range(full):
                    yield data[order[b * local : (b + 1) * local]]
                emitted += full
                if emitted == steps:
                    return
                carry = data.take(order[full * local :])
            if emitted == steps - 1 and len(carry):  # every row seen: the last, smaller batch
                yield carry[torch.arange(len(carry))]
                return


class ValStream:
    """Validation batches in file order, cut as trainflow.model.datamodule.IndexBatches cuts
    them unshuffled."""

    def __init__(self, reader: StreamReader, batch_size: int, window: int) -> None:
        self.reader, self.batch_size, self.window = reader, batch_size, window
        self.rows = reader.split.rows

    def set_epoch(self, epoch: int) -> None:
        """Validation's order never changes."""

    def __len__(self) -> int:
        _, world = process_share(self.batch_size)
        return -(-(-(-self.rows // world) * world) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        rank, world = process_share(self.batch_size)
        size = self.batch_size
        carry, first = None, None
        for data in prefetched(self.reader.loads(self.reader.split.pieces(), self.window)):
            data = data if carry is None else concat([carry, data])
            first = first if first is not None else data.take(torch.arange(min(world, len(data))))
            full = len(data) // size
            for b in range(full):
                yield tuple(t[rank::world] for t in data[torch.arange(b * size, (b + 1) * size)])
            carry = data.take(torch.arange(full * size, len(data)))
        if carry is not None and len(carry):  # padded with the first rows, as in memory
            last = concat([carry, first.take(torch.arange((-len(carry)) % world))])
            yield tuple(t[rank::world] for t in last[torch.arange(len(last))])


class StreamLoader:
    """Batches of a TrainStream / ValStream on `device`, `chunk` at a time (a list per
    Lightning step, as trainflow.model.datamodule.TensorLoader hands them). `sampler` is what
    Lightning calls `set_epoch` on."""

    batch_sampler = None

    def __init__(self, stream: TrainStream | ValStream, device: torch.device, chunk: int) -> None:
        self.sampler, self.device, self.chunk = stream, device, chunk

    def __iter__(self) -> Iterator[list[Batch]]:
        batches = (tuple(t.to(self.device, non_blocking=True) for t in b) for b in self.sampler)
        return chunked(batches, self.chunk)

    def __len__(self) -> int:
        return -(-len(self.sampler) // self.chunk)


class StreamingDataModule(L.LightningDataModule):
    """Train and val streamed from Parquet pieces (see the module doc); `window` pieces in
    memory at a time, plus the one being read."""

    def __init__(
        self, train: ParquetSplit, val: ParquetSplit, preprocessor: Preprocessor,
        batch_size: int, seed: int, steps_per_call: int = 1, window: int = 4,
    ) -> None:  # fmt: skip
        super().__init__()
        self.train_split, self.val_split = train, val
        self.preprocessor = preprocessor
        self.batch_size, self.seed = batch_size, seed
        self.steps_per_call, self.window = steps_per_call, window

    def _loader(self, stream: TrainStream | ValStream) -> StreamLoader:
        world = self.trainer.world_size if self.trainer else 1
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        return StreamLoader(stream, device, self.steps_per_call if world == 1 else 1)

    def train_dataloader(self) -> StreamLoader:
        reader = StreamReader(self.train_split, self.preprocessor)
        return self._loader(TrainStream(reader, self.batch_size, self.seed, self.window))

    def val_dataloader(self) -> StreamLoader:
        reader = StreamReader(self.val_split, self.preprocessor)
        return self._loader(ValStream(reader, self.batch_size, self.window))
