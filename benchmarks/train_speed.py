"""Training speed: trainflow's Lightning training (as the train stage runs it) against a plain
PyTorch loop, same network, data, batch size and epochs, measured in one run.

    .venv/bin/python benchmarks/train_speed.py            # after `dvc repro split`
    .venv/bin/python benchmarks/train_speed.py --family resnet --device cuda --precision bf16-mixed

Both sides fit a neural family's network (params.yaml `families.<family>`, batch 512 unless
--batch-size says otherwise) on data/split/train.parquet, run a validation pass on
data/split/val.parquet after every epoch, and start from the same seed. The plain loop is what
one writes by hand: tensors resident on the device, a seeded permutation per epoch, one
fancy-index per batch, AdamW, the task's loss. trainflow's side is `train_network` (early
stopping switched off so both run every epoch), with its checkpoints, torchmetrics, dvclive
logging and `train.steps_per_call` optimizer steps per Lightning step. A bare LightningModule
(same network, loss, optimizer and loaders, one batch per step; no metrics, logging or
checkpoints) shows Lightning's own floor. Figures are train samples per second
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


def network_config(family: str, pre, params, train) -> dict:
    from trainflow.families.neural import tabular_config

    extra = {"n_blocks": params.n_blocks, "width": params.width}
    if family == "resnet":
        extra |= {"hidden_multiplier": params.hidden_multiplier,
                  "residual_dropout": params.residual_dropout}  # fmt: skip
    return tabular_config(family, pre, params, train, extra)


def plain_loop(config, train, val, pre, params, trainer, seed: int, epochs: int,
               device: str) -> tuple[float, float]:  # fmt: skip
    """The hand-written baseline; returns (wall, CPU) seconds for `epochs` epochs (+ val)."""
    from trainflow.model.network import build_network
    from trainflow.model.objective import loss_for
    from trainflow.model.tensors import to_tensors

    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()  # from the cleaned frames, as trainflow
    torch.manual_seed(seed)
    tr, va = to_tensors(train, pre), to_tensors(val, pre)
    xs, y = tuple(b.to(device) for b in tr.blocks), tr.y.to(device)
    vs, v_y = tuple(b.to(device) for b in va.blocks), va.y.to(device)
    net = build_network(config).to(device)
    autocast = trainer.precision.startswith("bf16") and device.startswith("cuda")
    loss_fn = loss_for(pre.task)
    opt = torch.optim.AdamW(
        net.parameters(), lr=params.lr, weight_decay=params.weight_decay, fused=True
    )  # as trainflow's module: the portable square root
    gen = torch.Generator().manual_seed(seed)
    n, bs = len(y), params.batch_size
    for _ in range(epochs):
        net.train()
        order = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n, bs):
            idx = order[i : i + bs]
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(net(*(x[idx] for x in xs)).float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            total = 0.0
            for i in range(0, len(v_y), bs):
                sl = slice(i, i + bs)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                    out = net(*(v[sl] for v in vs)).float()
                total += float(loss_fn(out, v_y[sl])) * len(v_y[sl])
    _sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def trainflow_fit(config, train, val, pre, params, trainer, seed: int,
                  epochs: int) -> tuple[float, float]:  # fmt: skip
    """train_network exactly as the train stage calls it; returns (wall, CPU) seconds."""
    from trainflow.model.training import train_network

    settings = params.model_copy(update={"max_epochs": epochs, "patience": epochs + 1})
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        train_network(config, train, val, pre, settings, trainer, seed, Path(tmp) / "ck",
                      Path(tmp) / "live")  # fmt: skip
        return time.perf_counter() - start, time.process_time() - cpu


def bare_lightning(config, train, val, pre, params, trainer_params, seed: int,
                   epochs: int) -> tuple[float, float]:  # fmt: skip
    """Lightning's floor: the same network, loss, optimizer and loaders in a LightningModule
    with one batch per step, no metrics, logging, checkpoints or early stopping; returns
    (wall, CPU) seconds."""
    import lightning as L

    from trainflow.model.datamodule import TabularDataModule
    from trainflow.model.network import build_network
    from trainflow.model.objective import loss_for

    class Bare(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.loss_fn = build_network(config), loss_for(pre.task)

        def training_step(self, chunk, _):
            ((*blocks, y),) = chunk
            return self.loss_fn(self.net(*blocks), y)

        def validation_step(self, chunk, _):
            ((*blocks, y),) = chunk
            self.loss_fn(self.net(*blocks), y)

        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=params.lr,
                                     weight_decay=params.weight_decay, fused=True)  # fmt: skip

    L.seed_everything(seed, verbose=False)
    trainer = L.Trainer(
        accelerator=trainer_params.accelerator, precision=trainer_params.precision,
        max_epochs=epochs, deterministic=True, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
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
    parser.add_argument("--family", default="mlp", choices=["mlp", "resnet"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (plain loop's device)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--precision", default="32-true", help="32-true or bf16-mixed (GPU)")
    parser.add_argument("--steps-per-call", type=int, help="default: params.yaml train's")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from trainflow.io import read_parquet
    from trainflow.model.preprocess import fit_preprocessor
    from trainflow.model.training import quiet_lightning
    from trainflow.params import load_params

    params = load_params(ROOT / "params.yaml")
    accel = "gpu" if args.device.startswith("cuda") else "cpu"
    update = {"accelerator": accel, "precision": args.precision}
    if args.steps_per_call:
        update["steps_per_call"] = args.steps_per_call
    trainer = params.train.model_copy(update=update)
    family = getattr(params.families, args.family).model_copy(
        update={"batch_size": args.batch_size}
    )
    split = ROOT / "data/split"
    if not (split / "train.parquet").exists():
        sys.exit("data/split/train.parquet missing: run `dvc repro split` first")
    train, val = read_parquet(split / "train.parquet"), read_parquet(split / "val.parquet")
    pre = fit_preprocessor(train, params.data, params.train.preprocess)
    config = network_config(args.family, pre, family, train)
    quiet_lightning()
    rows = len(train) * args.epochs
    print(f"{args.family}: {len(train):,} train rows, {len(val):,} val rows, "
          f"batch {family.batch_size}, {args.epochs} epochs, {trainer.steps_per_call} steps "
          f"per Lightning call, precision {trainer.precision}, {torch.get_num_threads()} "
          f"threads, device {args.device}")  # fmt: skip
    seed = params.seed
    # warm-up: first-call costs (allocator, lazy imports) on both sides
    plain_loop(config, train, val, pre, family, trainer, seed, 1, args.device)
    trainflow_fit(config, train, val, pre, family, trainer, seed, 1)
    bare_lightning(config, train, val, pre, family, trainer, seed, 1)
    runs: dict[str, dict[int, list]] = {"plain": {}, "bare": {}, "trainflow": {}}
    short = max(1, args.epochs // 3)  # a shorter fit: the difference is the per-epoch cost
    for _ in range(args.repeats):
        for epochs in (args.epochs, short):
            runs["plain"].setdefault(epochs, []).append(
                plain_loop(config, train, val, pre, family, trainer, seed, epochs, args.device)
            )
            runs["bare"].setdefault(epochs, []).append(
                bare_lightning(config, train, val, pre, family, trainer, seed, epochs)
            )
            runs["trainflow"].setdefault(epochs, []).append(
                trainflow_fit(config, train, val, pre, family, trainer, seed, epochs)
            )
    names = {"plain": "plain PyTorch loop", "bare": "bare Lightning module",
             "trainflow": "trainflow (Lightning)"}  # fmt: skip
    for key, name in names.items():
        walls = [w for w, _ in runs[key][args.epochs]]
        print(f"{name:24s} best {rows / min(walls):10,.0f} samples/s   "
              f"median {rows / statistics.median(walls):10,.0f} samples/s")  # fmt: skip

    def median(key: str, epochs: int, which: int) -> float:
        return statistics.median(r[which] for r in runs[key][epochs])

    ratios: dict[str, dict[str, float]] = {}
    for key in ("bare", "trainflow"):
        e = args.epochs
        pw, ow = (min(r[0] for r in runs[k][e]) for k in ("plain", key))
        wall = median("plain", e, 0) / median(key, e, 0)
        cpu = median("plain", e, 1) / median(key, e, 1)
        print(f"ratio {names[key]} / plain, whole fit of {e} epochs: wall best {pw / ow:.3f}, "
              f"median {wall:.3f}; CPU time median {cpu:.3f}")  # fmt: skip
        ratios[key] = {"wall": round(wall, 3), "cpu": round(cpu, 3)}
        if short < args.epochs:  # per epoch: (long fit - short fit), setup costs cancelled
            plain_epoch = median("plain", args.epochs, 1) - median("plain", short, 1)
            our_epoch = median(key, args.epochs, 1) - median(key, short, 1)
            print(f"ratio {names[key]} / plain, per epoch (CPU time of {args.epochs} - "
                  f"{short} epochs): {plain_epoch / our_epoch:.3f}")  # fmt: skip

    from trainflow.figures.record import script_command, write_result

    plain = statistics.median(w for w, _ in runs["plain"][args.epochs])
    write_result("train_speed", {
        "family": args.family, "epochs": args.epochs, "repeats": args.repeats,
        "batch_size": family.batch_size, "device": args.device, "precision": trainer.precision,
        "plain_samples_per_s": round(rows / plain), "wall_ratio": ratios["trainflow"]["wall"],
        "cpu_ratio": ratios["trainflow"]["cpu"], "bare_lightning": ratios["bare"],
    }, script_command(sys.argv, ROOT), ROOT)  # fmt: skip


if __name__ == "__main__":
    main()
