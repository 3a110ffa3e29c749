"""Training speed: trainflow's Lightning training (as the train stage runs it) against a plain
PyTorch loop, same model, data, batch size and epochs, measured in one run.

    .venv/bin/python benchmarks/train_speed.py            # after `dvc repro split`
    .venv/bin/python benchmarks/train_speed.py --device cuda --epochs 10

Both sides fit the MLP on data/split/train.parquet with params.yaml's `train` settings, run a
validation pass on data/split/val.parquet after every epoch, and start from the same seed. The
plain loop is what one writes by hand: tensors resident on the device, a seeded permutation per
epoch, one fancy-index per batch, AdamW, the task's loss. trainflow's side is `train_mlp` (early
stopping switched off so both run every epoch), with its checkpoints, torchmetrics and dvclive
logging. A bare LightningModule (same network, loss, optimizer and loaders; no metrics,
logging or checkpoints) shows Lightning's own floor. Figures are train samples per second
(train rows x epochs / wall time of the fit), the best and the median of `--repeats`
alternating runs, and the ratios to the plain loop: by wall time, and by CPU time (process
time), which a shared machine's noise (other tenants, CPU steal) inflates far less.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def plain_loop(train, val, pre, params, seed: int, epochs: int, device: str) -> float:
    """The hand-written baseline; returns (wall, CPU) seconds for `epochs` epochs (+ val)."""
    from trainflow.model.datamodule import to_tensors
    from trainflow.model.network import build_network
    from trainflow.model.objective import loss_for
    from trainflow.model.training import mlp_config

    torch.manual_seed(seed)
    tr, va = to_tensors(train, pre), to_tensors(val, pre)
    x_num, x_cat, y = (t.to(device) for t in (tr.x_num, tr.x_cat, tr.y))
    v_num, v_cat, v_y = (t.to(device) for t in (va.x_num, va.x_cat, va.y))
    net = build_network(mlp_config(pre, params)).to(device)
    loss_fn = loss_for(pre.task)
    opt = torch.optim.AdamW(net.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n, bs = len(y), params.batch_size
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n, bs):
            idx = order[i : i + bs]
            loss = loss_fn(net(x_num[idx], x_cat[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            total = 0.0
            for i in range(0, len(v_y), bs):
                sl = slice(i, i + bs)
                total += float(loss_fn(net(v_num[sl], v_cat[sl]), v_y[sl])) * len(v_y[sl])
    _sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def trainflow_fit(train, val, pre, params, seed: int, epochs: int) -> float:
    """train_mlp exactly as the train stage calls it; returns (wall, CPU) seconds of the fit."""
    from trainflow.model.training import train_mlp

    settings = params.model_copy(update={"max_epochs": epochs, "patience": epochs + 1})
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        train_mlp(train, val, pre, settings, seed, Path(tmp) / "ck", Path(tmp) / "live")
        return time.perf_counter() - start, time.process_time() - cpu


def bare_lightning(train, val, pre, params, seed: int, epochs: int) -> float:
    """Lightning's floor: the same network, loss, optimizer and loaders in a LightningModule
    with no metrics, logging, checkpoints or early stopping; returns (wall, CPU) seconds."""
    import lightning as L

    from trainflow.model.datamodule import TabularDataModule
    from trainflow.model.network import build_network
    from trainflow.model.objective import loss_for
    from trainflow.model.training import mlp_config

    class Bare(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.loss_fn = build_network(mlp_config(pre, params)), loss_for(pre.task)

        def training_step(self, batch, _):
            return self.loss_fn(self.net(batch[0], batch[1]), batch[2])

        def validation_step(self, batch, _):
            self.loss_fn(self.net(batch[0], batch[1]), batch[2])

        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=params.lr,
                                     weight_decay=params.weight_decay)  # fmt: skip

    L.seed_everything(seed, verbose=False)
    trainer = L.Trainer(
        accelerator=params.accelerator, max_epochs=epochs, deterministic=True, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    data = TabularDataModule(train, val, pre, params.batch_size, seed)
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit(Bare(), datamodule=data)
    return time.perf_counter() - start, time.process_time() - cpu


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (plain loop's device)")
    parser.add_argument("--batch-size", type=int, help="default: params.yaml train.batch_size")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from trainflow.io import read_parquet
    from trainflow.model.preprocess import fit_preprocessor
    from trainflow.model.training import quiet_lightning
    from trainflow.params import load_params

    params = load_params(ROOT / "params.yaml")
    accel = "gpu" if args.device.startswith("cuda") else "cpu"
    update = {"accelerator": accel} | ({"batch_size": args.batch_size} if args.batch_size else {})
    train_params = params.train.model_copy(update=update)
    split = ROOT / "data/split"
    if not (split / "train.parquet").exists():
        sys.exit("data/split/train.parquet missing: run `dvc repro split` first")
    train, val = read_parquet(split / "train.parquet"), read_parquet(split / "val.parquet")
    pre = fit_preprocessor(train, params.data, train_params.preprocess)
    quiet_lightning()
    rows = len(train) * args.epochs
    print(f"{len(train):,} train rows, {len(val):,} val rows, "
          f"batch {train_params.batch_size}, {args.epochs} epochs, "
          f"{torch.get_num_threads()} threads, device {args.device}")  # fmt: skip
    # warm-up: first-call costs (allocator, lazy imports) on both sides
    plain_loop(train, val, pre, train_params, params.seed, 1, args.device)
    trainflow_fit(train, val, pre, train_params, params.seed, 1)
    bare_lightning(train, val, pre, train_params, params.seed, 1)
    plain, bare, ours = [], [], []
    for _ in range(args.repeats):
        plain.append(plain_loop(train, val, pre, train_params, params.seed, args.epochs,
                                args.device))  # fmt: skip
        bare.append(bare_lightning(train, val, pre, train_params, params.seed, args.epochs))
        ours.append(trainflow_fit(train, val, pre, train_params, params.seed, args.epochs))
    for name, runs in (("plain PyTorch loop", plain), ("bare Lightning module", bare),
                       ("trainflow (Lightning)", ours)):  # fmt: skip
        walls = [w for w, _ in runs]
        print(f"{name:24s} best {rows / min(walls):10,.0f} samples/s   "
              f"median {rows / statistics.median(walls):10,.0f} samples/s")  # fmt: skip
    for name, runs in (("bare Lightning", bare), ("trainflow", ours)):
        (pw, pc), (ow, oc) = (list(zip(*r, strict=True)) for r in (plain, runs))
        print(f"ratio {name} / plain: wall best {min(pw) / min(ow):.3f}, "
              f"median {statistics.median(pw) / statistics.median(ow):.3f}; "
              f"CPU time median {statistics.median(pc) / statistics.median(oc):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
