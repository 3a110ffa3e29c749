import pytest
import torch

from trainflow.model import datamodule
from trainflow.model.datamodule import IndexBatches, TabularDataModule
from trainflow.model.tensors import TensorBatches


def test_batches_are_gathered_from_tensors(splits, pre):
    dm = TabularDataModule(splits["train"], splits["val"], pre, batch_size=32, seed=7)
    dm.setup()
    batches = [b for (b,) in dm.train_dataloader()]  # one batch per chunk by default
    n = len(splits["train"])
    assert len(batches) == -(-n // 32)
    x_num, x_cat, _ = batches[0]
    assert x_num.shape == (32, len(pre.numeric)) and x_cat.dtype == torch.int64
    seen = torch.cat([b[2] for b in batches])
    assert seen.sum() == dm.train_set.y.sum()  # every row once per epoch
    again = TabularDataModule(splits["train"], splits["val"], pre, 32, seed=7)
    again.setup()
    assert torch.equal(next(iter(again.train_dataloader()))[0][0], x_num)  # seeded shuffle
    (val,) = next(iter(dm.val_dataloader()))
    assert torch.equal(val[0], dm.val_set.blocks[0][:32])  # no shuffle for validation


def test_chunks_hold_steps_per_call_batches_in_order(splits, pre):
    """Chunks of 3 batches: the same batches, in the same order, as one batch per call."""
    single = TabularDataModule(splits["train"], splits["val"], pre, 32, seed=7)
    chunked = TabularDataModule(splits["train"], splits["val"], pre, 32, seed=7, steps_per_call=3)
    for dm in (single, chunked):
        dm.setup()
    loader = chunked.train_dataloader()
    chunks = list(loader)
    n_batches = -(-len(splits["train"]) // 32)
    assert len(loader) == len(chunks) == -(-n_batches // 3)
    assert [len(c) for c in chunks] == [3] * (n_batches // 3) + (
        [n_batches % 3] if n_batches % 3 else []
    )
    flat = [b for c in chunks for b in c]
    for (a,), b in zip(single.train_dataloader(), flat, strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])


def test_tensor_batches_index_by_tensor():
    ds = TensorBatches(
        (torch.arange(10.0).view(10, 1), torch.zeros(10, 1).long()), torch.arange(10.0)
    )
    assert ds[torch.tensor([3, 1])][2].tolist() == [3.0, 1.0] and len(ds) == 10


def test_index_batches_order_is_a_function_of_seed_and_epoch():
    batches = IndexBatches(10, 4, shuffle=True, seed=3)
    first = [b.tolist() for b in batches]
    assert len(first) == len(batches) == 3
    assert sorted(i for b in first for i in b) == list(range(10))
    batches.set_epoch(1)
    second = [b.tolist() for b in batches]
    assert second != first
    fresh = IndexBatches(10, 4, shuffle=True, seed=3)
    fresh.set_epoch(1)  # as after resuming at epoch 1
    assert [b.tolist() for b in fresh] == second
    assert [b.tolist() for b in IndexBatches(5, 2, False, 0)] == [[0, 1], [2, 3], [4]]


def test_index_batches_split_each_global_batch_across_processes(monkeypatch):
    """N processes take the steps one process takes, over the same rows: every global batch
    is shared out row by row (one padded repeat makes the 7 rows 8)."""
    single = [b.tolist() for b in IndexBatches(7, 4, shuffle=True, seed=0)]
    shares = []
    for rank in (0, 1):
        batches = IndexBatches(7, 4, shuffle=True, seed=0)
        monkeypatch.setattr(datamodule, "distributed_share", lambda rank=rank: (rank, 2))
        shares.append([b.tolist() for b in batches])
        assert len(batches) == 2
    assert [len(b) for b in shares[0]] == [len(b) for b in shares[1]] == [2, 2]
    for step, batch in enumerate(single):
        assert set(shares[0][step]) | set(shares[1][step]) == set(batch) | set(single[0][:1])
    assert {i for share in shares for b in share for i in b} == set(range(7))


def test_index_batches_need_a_global_batch_the_processes_divide(monkeypatch):
    batches = IndexBatches(8, 3, shuffle=False, seed=0)
    monkeypatch.setattr(datamodule, "distributed_share", lambda: (0, 2))
    with pytest.raises(ValueError, match=r"batch_size 3 is the global batch.*2 processes"):
        list(batches)
