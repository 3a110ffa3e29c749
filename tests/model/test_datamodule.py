import torch

from trainflow.model.datamodule import TabularDataModule, TensorBatches


def test_batches_are_gathered_from_tensors(splits, pre):
    dm = TabularDataModule(splits["train"], splits["val"], pre, batch_size=32, seed=7)
    dm.setup()
    batches = list(dm.train_dataloader())
    n = len(splits["train"])
    assert len(batches) == -(-n // 32)
    x_num, x_cat, _ = batches[0]
    assert x_num.shape == (32, len(pre.numeric)) and x_cat.dtype == torch.int64
    seen = torch.cat([b[2] for b in batches])
    assert seen.sum() == dm.train_set.y.sum()  # every row once per epoch
    again = TabularDataModule(splits["train"], splits["val"], pre, 32, seed=7)
    again.setup()
    assert torch.equal(next(iter(again.train_dataloader()))[0], x_num)  # seeded shuffle
    val = next(iter(dm.val_dataloader()))
    assert torch.equal(val[0], dm.val_set.x_num[:32])  # no shuffle for validation


def test_tensor_batches_index_by_list():
    ds = TensorBatches(
        torch.arange(10.0).view(10, 1), torch.zeros(10, 1).long(), torch.arange(10.0)
    )
    assert ds[[3, 1]][2].tolist() == [3.0, 1.0] and len(ds) == 10
