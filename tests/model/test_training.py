import torch

from trainflow.model.training import train_baseline, train_mlp
from trainflow.params import TrainParams

TINY = TrainParams(hidden=[16], lr=0.01, batch_size=64, max_epochs=3, patience=2,
                   accelerator="cpu")  # fmt: skip


def test_train_mlp_writes_checkpoints_and_live_metrics(tmp_path, splits, pre):
    result = train_mlp(
        splits["train"], splits["val"], pre, TINY, 0, tmp_path / "ck", tmp_path / "live"
    )
    assert (tmp_path / "ck/best.ckpt").exists() and (tmp_path / "ck/last.ckpt").exists()
    assert (tmp_path / "live/metrics.json").exists()
    assert (tmp_path / "live/plots/metrics/val/loss.tsv").exists()
    assert result.summary["accelerator"] == "cpu" and 1 <= result.summary["epochs_run"] <= 3
    assert result.config["kind"] == "mlp" and not result.net.training


def test_same_seed_same_weights(tmp_path, splits, pre):
    a = train_mlp(splits["train"], splits["val"], pre, TINY, 5, tmp_path / "a", tmp_path / "la")
    b = train_mlp(splits["train"], splits["val"], pre, TINY, 5, tmp_path / "b", tmp_path / "lb")
    for (name, x), (_, y) in zip(
        a.net.state_dict().items(), b.net.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name


def test_baseline(splits, pre):
    result = train_baseline(splits["train"], pre, TINY, 0)
    assert result.config == {"kind": "linear", "n_numeric": len(pre.numeric),
                             "cardinalities": pre.cardinalities, "n_outputs": 1}  # fmt: skip
    assert 0 < result.summary["train_loss"] < 0.7
