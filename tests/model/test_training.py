from pathlib import Path

import pytest
import torch

from trainflow.families.neural import tabular_config
from trainflow.model.training import train_network
from trainflow.params import MLPParams, TrainParams

TINY = MLPParams(width=16, n_blocks=1, d_embedding=4, d_category=4, n_frequencies=8, lr=0.01,
                 batch_size=64, max_epochs=3, patience=2)  # fmt: skip
CPU = TrainParams(accelerator="cpu", steps_per_call=4)


def train_mlp(train, val, pre, params, seed, checkpoints, live, fingerprint="", trainer=CPU):
    config = tabular_config("mlp", pre, params, train, {"n_blocks": params.n_blocks,
                                                        "width": params.width})  # fmt: skip
    return train_network(config, train, val, pre, params, trainer, seed, checkpoints, live,
                         fingerprint)  # fmt: skip


def test_train_network_writes_checkpoints_and_live_metrics(tmp_path, splits, pre):
    result = train_mlp(
        splits["train"], splits["val"], pre, TINY, 0, tmp_path / "ck", tmp_path / "live"
    )
    assert (tmp_path / "ck/best.ckpt").exists() and (tmp_path / "ck/last.ckpt").exists()
    assert (tmp_path / "live/metrics.json").exists()
    epochs = (tmp_path / "live/plots/metrics/val/loss.tsv").read_text().splitlines()[1:]
    assert len(epochs) == result.summary["epochs_run"]  # one row per epoch
    assert not (tmp_path / "live/plots/metrics/epoch.tsv").exists()  # the x, not a curve
    assert result.summary["accelerator"] == "cpu" and 1 <= result.summary["epochs_run"] <= 3
    assert result.config["kind"] == "tabular" and not result.net.training


def test_logged_val_loss_is_the_loss_of_the_kept_network(tmp_path, splits, pre):
    """The best epoch's logged val/loss is the loss over every validation row of the network
    that training returns (the last, smaller batch weighs by its rows, not as a whole batch)."""
    from trainflow.model.objective import loss_for
    from trainflow.model.tensors import to_tensors

    params = TINY.model_copy(update={"batch_size": 48})  # the val split is not a multiple of it
    result = train_mlp(splits["train"], splits["val"], pre, params, 0, tmp_path / "ck",
                       tmp_path / "live")  # fmt: skip
    val = to_tensors(splits["val"], pre)
    assert len(val) % 48
    with torch.no_grad():
        loss = float(loss_for(pre.task)(result.net(*val.blocks), val.y))
    assert result.summary["best_val_loss"] == pytest.approx(loss, rel=1e-5)


def _same(a, b) -> bool:
    pairs = zip(a.net.state_dict().values(), b.net.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def test_same_seed_same_weights(tmp_path, splits, pre):
    """Equal weights for one seed; and training moved them: the same seed at another learning
    rate ends elsewhere (a trainer that took no step would end at the same initial weights),
    as does another seed."""
    train, val = splits["train"], splits["val"]
    a = train_mlp(train, val, pre, TINY, 5, tmp_path / "a", tmp_path / "la")
    b = train_mlp(train, val, pre, TINY, 5, tmp_path / "b", tmp_path / "lb")
    for (name, x), (_, y) in zip(
        a.net.state_dict().items(), b.net.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name
    faster = TINY.model_copy(update={"lr": 0.05})
    assert not _same(a, train_mlp(train, val, pre, faster, 5, tmp_path / "c", tmp_path / "lc"))
    assert not _same(a, train_mlp(train, val, pre, TINY, 6, tmp_path / "d", tmp_path / "ld"))


def test_chunked_steps_make_the_updates_one_step_per_call_makes(tmp_path, splits, pre):
    """steps_per_call only changes how many optimizer steps one Lightning call makes: the
    weights after training are the ones a batch-per-call run ends with, bit for bit."""
    one = CPU.model_copy(update={"steps_per_call": 1})
    a = train_mlp(splits["train"], splits["val"], pre, TINY, 3, tmp_path / "a", tmp_path / "la",
                  trainer=one)  # fmt: skip
    b = train_mlp(splits["train"], splits["val"], pre, TINY, 3, tmp_path / "b", tmp_path / "lb",
                  trainer=CPU.model_copy(update={"steps_per_call": 3}))  # fmt: skip
    assert a.summary["epochs_run"] == b.summary["epochs_run"]
    for (name, x), (_, y) in zip(
        a.net.state_dict().items(), b.net.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name


def curve_files(live: Path) -> dict[str, str]:
    """Every file dvclive wrote under a run's folder, by relative path."""
    return {str(p.relative_to(live)): p.read_text() for p in sorted(live.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_resumed_run_ends_with_the_uninterrupted_weights_and_curves(tmp_path, splits, pre):
    """Stop after 2 of 4 epochs (as a killed run leaves its last checkpoint), lose the curves
    (DVC deletes a stage's plots before it reruns), resume: the final weights equal a 4-epoch
    run's bit for bit, and so does every curve file, rows of the first two epochs included."""
    import shutil

    from trainflow.io import run_fingerprint

    four = TINY.model_copy(update={"max_epochs": 4, "patience": 10})
    fp = run_fingerprint([b"same run"])
    train, val = splits["train"], splits["val"]
    whole = train_mlp(train, val, pre, four, 1, tmp_path / "w", tmp_path / "lw", fp)
    two = four.model_copy(update={"max_epochs": 2})
    train_mlp(splits["train"], splits["val"], pre, two, 1, tmp_path / "r", tmp_path / "lr", fp)
    shutil.rmtree(tmp_path / "lr" / "plots")
    resumed = train_mlp(splits["train"], splits["val"], pre, four, 1, tmp_path / "r",
                        tmp_path / "lr", fp)  # fmt: skip
    assert resumed.summary["resumed_after_epoch"] == 1  # epochs 0 and 1 were done
    for (name, x), (_, y) in zip(
        whole.net.state_dict().items(), resumed.net.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name
    curves = curve_files(tmp_path / "lw")
    assert len(curves["plots/metrics/val/loss.tsv"].splitlines()) == 1 + 4  # header + epochs
    assert curve_files(tmp_path / "lr") == curves


def test_a_different_run_does_not_resume(tmp_path, splits, pre):
    from trainflow.model.training import resumable_checkpoint

    folder = tmp_path / "ck"
    assert resumable_checkpoint(folder, "a") is None and (folder / "fingerprint.txt").exists()
    (folder / "last.ckpt").write_bytes(b"x")
    assert resumable_checkpoint(folder, "a") == folder / "last.ckpt"
    assert resumable_checkpoint(folder, "b") is None and not (folder / "last.ckpt").exists()


def test_non_primary_process_reads_but_never_stamps_the_resume_folder(tmp_path):
    from trainflow.model.training import resumable_checkpoint

    folder = tmp_path / "ck"
    assert resumable_checkpoint(folder, "a", primary=False) is None and not folder.exists()
    resumable_checkpoint(folder, "a")
    (folder / "last.ckpt").write_bytes(b"x")
    assert resumable_checkpoint(folder, "a", primary=False) == folder / "last.ckpt"
    assert resumable_checkpoint(folder, "b", primary=False) is None
    assert (folder / "last.ckpt").exists()  # only the primary process clears it


def test_primary_process_from_launcher_variables(monkeypatch):
    from trainflow.model.training import RANK_VARIABLES, is_primary_process

    for name in RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert is_primary_process()
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("NODE_RANK", "0")
    assert is_primary_process()
    monkeypatch.setenv("NODE_RANK", "1")  # local rank 0 of the second node
    assert not is_primary_process()
    monkeypatch.setenv("NODE_RANK", "0")
    monkeypatch.setenv("RANK", "3")  # torchrun
    assert not is_primary_process()


@pytest.mark.slow
def test_compiled_training_keeps_plain_weight_names_and_learns(tmp_path, splits, pre):
    """train.compile: torch.compile (inductor, CPU here) in place; the saved state dict is the
    eager network's, and without dropout (compiled code draws its masks from another random
    stream) the compiled run's loss is the eager one's within 1 % (fused kernels round
    differently, ~1e-5 in a gradient, and Adam's normalisation carries that into the steps)."""
    one = TINY.model_copy(update={"max_epochs": 1, "dropout": 0.0})
    eager = train_mlp(splits["train"], splits["val"], pre, one, 2, tmp_path / "e",
                      tmp_path / "le")  # fmt: skip
    compiled_trainer = CPU.model_copy(update={"compile": True})
    compiled = train_mlp(splits["train"], splits["val"], pre, one, 2, tmp_path / "c",
                         tmp_path / "lc", trainer=compiled_trainer)  # fmt: skip
    assert list(compiled.net.state_dict()) == list(eager.net.state_dict())
    assert not any("_orig_mod" in k for k in compiled.net.state_dict())
    assert compiled.summary["best_val_loss"] == pytest.approx(
        eager.summary["best_val_loss"], rel=0.01
    )
