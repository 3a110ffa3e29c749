"""Fit a neural family's network with Lightning: early stopping, checkpoints, resume, DDP and
dvclive curves."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import pandas as pd
import torch

from trainflow.errors import StageError
from trainflow.live import offline_live_class
from trainflow.model.datamodule import TabularDataModule
from trainflow.model.preprocess import Preprocessor
from trainflow.model.splits import Split, as_split
from trainflow.params import NeuralParams, TrainParams

log = logging.getLogger(__name__)


def quiet_lightning() -> None:
    """Silence the tips and deprecation chatter every run would otherwise print."""
    for pattern in (
        ".*litlogger.*",
        ".*LeafSpec.*",
        ".*does not have many workers.*",
        ".*is smaller than the logging interval.*",
        ".*Trainer.fit` stopped.*",
        ".*Checkpoint directory .* exists and is not empty.*",  # it holds the run's fingerprint
        ".*sync_dist=True.*",  # epoch values come from torchmetrics' compute(), already synced
    ):
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)


def show_progress() -> bool:
    """Lightning's progress bar in a terminal; plain log lines under CI or in a pipe."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true")


SYNC_POINTS = frozenset(
    ("update_train_step_metrics", "update_train_epoch_metrics", "log_eval_end_metrics")
)


def fast_dvclive_logger(live_dir: Path, resume: bool = False):
    """dvclive's Lightning logger minus two costs that grow past a training epoch of this model:
    to decide whether to write a step it scans `inspect.stack()`, which reads the source file of
    every frame (~30 ms a call), and it writes through OfflineLive (trainflow.live). Same files,
    one row per epoch."""
    from dvclive import Live
    from dvclive.lightning import DVCLiveLogger
    from lightning.fabric.loggers.logger import rank_zero_experiment
    from lightning.pytorch.utilities import rank_zero_only

    live_class = offline_live_class()

    class FastDVCLiveLogger(DVCLiveLogger):
        @property
        @rank_zero_experiment
        def experiment(self) -> Live:
            if self._experiment is None:
                self._experiment = live_class(**self._kwargs)
            return self._experiment

        @rank_zero_only
        def log_metrics(self, metrics: dict, step: int | None = None, sync: bool = False) -> None:
            # values are logged once per epoch: the epoch (from 1: dvclive skips a step of 0)
            # is the x of every curve; Lightning's step counts its calls, of
            # `train.steps_per_call` batches each
            step = int(metrics["epoch"]) + 1 if "epoch" in metrics else step
            metrics = {k: v for k, v in metrics.items() if k != "epoch"}  # the x, not a curve
            frame = sys._getframe(1)
            while frame is not None and not sync:
                sync = frame.f_code.co_name in SYNC_POINTS
                frame = frame.f_back
            super(DVCLiveLogger, self).log_metrics(metrics, step, sync)

    return FastDVCLiveLogger(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False, resume=resume)


class CurvesInCheckpoint(L.Callback):
    """Every checkpoint carries the curves written up to it (dvclive's files under `live_dir`):
    DVC deletes a stage's plots before it reruns, so a run resumed after a kill restores them
    from its checkpoint (`restore_curves`) and ends with every row an uninterrupted run has.
    Each epoch's values are all written before its checkpoint is (NetworkModule)."""

    def __init__(self, live_dir: Path) -> None:
        self.live_dir = live_dir

    def state_dict(self) -> dict[str, dict[str, str]]:
        files = sorted(p for p in self.live_dir.rglob("*") if p.is_file())
        return {"files": {str(p.relative_to(self.live_dir)): p.read_text() for p in files}}


def restore_curves(checkpoint: dict, live_dir: Path) -> int:
    """Write the curves a checkpoint carries back under `live_dir`; the number of files."""
    files = checkpoint.get("callbacks", {}).get(CurvesInCheckpoint.__qualname__, {})
    files = files.get("files", {})
    for name, text in files.items():
        path = live_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return len(files)


RANK_VARIABLES = ("RANK", "NODE_RANK", "GROUP_RANK", "LOCAL_RANK", "SLURM_PROCID")


def is_primary_process() -> bool:
    """True unless a distributed launcher made this process a non-zero rank: Lightning's own
    launcher (NODE_RANK, and LOCAL_RANK in the processes it starts), torchrun (RANK) or SLURM
    (SLURM_PROCID). Only the primary process writes the stage's outputs."""
    return all(os.environ.get(name, "0") in ("", "0") for name in RANK_VARIABLES)


@dataclass
class FitResult:
    net: torch.nn.Module
    config: dict
    summary: dict


def train_network(
    net_config: dict,
    train: pd.DataFrame | Split,
    val: pd.DataFrame | Split,
    pre: Preprocessor,
    neural: NeuralParams,
    trainer_params: TrainParams,
    seed: int,
    checkpoint_dir: Path,
    live_dir: Path,
    fingerprint: str = "",
    init: tuple[dict, dict, tuple[str, ...]] | None = None,
) -> FitResult | None:
    """Train with early stopping on val/loss; return the best epoch's network (on CPU), or
    None in every process but the primary one of a distributed run.

    `checkpoint_dir` keeps the best and the last epoch's checkpoint while training runs. If it
    holds a last checkpoint of the same run (same `fingerprint`: params, data, code) from a run
    that was killed, training resumes from it; otherwise it is emptied first. Every epoch's
    batch order and dropout masks are functions of the seed and the epoch, so a resumed run
    ends with the weights an uninterrupted run has. `init`: (a source network's state dict,
    its record, prefixes not to take) to start from (trainflow.model.transfer), recorded in
    the summary. Under DDP (`devices` or `num_nodes` > 1) every process runs this function;
    each trains on its share of every batch row.
    """
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from trainflow.model.module import NetworkModule

    quiet_lightning()
    L.seed_everything(seed, workers=True, verbose=False)
    resume_from = resumable_checkpoint(checkpoint_dir, fingerprint, is_primary_process())
    module = NetworkModule(
        net_config, lr=neural.lr, weight_decay=neural.weight_decay, task=pre.task,
        target_mean=pre.target_mean, target_std=pre.target_std, seed=seed,
        augment={"block": pre.block_names.index("x_image"), "degrees": neural.augment_degrees,
                 "translate": neural.augment_translate, "scale": neural.augment_scale}
        if pre.image else None,
    )  # fmt: skip
    init_record = None
    if init is not None:
        from trainflow.model.transfer import load_matching

        init_record = init[1] | load_matching(module.net, init[0], init[2])
        log.info("starting from %s: %d tensors taken, %d fresh", init_record["path"],
                 init_record["tensors_loaded"], len(init_record["tensors_fresh"]))  # fmt: skip
    if trainer_params.compile:
        module.net.compile()  # in place: the state dict keeps its plain names
    train, val = as_split(train), as_split(val)
    data = datamodule(train, val, pre, neural.batch_size, seed, trainer_params)
    checkpoint = ModelCheckpoint(
        dirpath=checkpoint_dir, filename="best", monitor="val/loss", mode="min", save_last=True
    )
    stopping = EarlyStopping(monitor="val/loss", mode="min", patience=neural.patience)
    resumed_epoch = None
    if resume_from is not None:
        state = torch.load(resume_from, map_location="cpu", weights_only=True)
        resumed_epoch = int(state["epoch"])
        if is_primary_process():
            restore_curves(state, live_dir)
        log.info("resuming from %s (epoch %d done)", resume_from, resumed_epoch)
    logger = fast_dvclive_logger(live_dir, resume=resume_from is not None)
    trainer = L.Trainer(
        accelerator=trainer_params.accelerator,
        devices=trainer_params.devices,
        num_nodes=trainer_params.num_nodes,
        strategy=trainer_params.strategy,
        precision=trainer_params.precision,
        use_distributed_sampler=False,  # IndexBatches shares batches across processes itself
        max_epochs=neural.max_epochs,
        deterministic=True,
        callbacks=[CurvesInCheckpoint(live_dir), checkpoint, stopping],
        logger=logger,
        enable_progress_bar=show_progress(),
        enable_model_summary=False,
        num_sanity_val_steps=0,  # the validation code is tested; a pre-flight pass costs a start
        log_every_n_steps=10,
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # every process leaves together: a worker whose peers (rank 0 hosts the rendezvous
        # store) exit under its communication threads aborts ("terminate called ...")
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if not trainer.is_global_zero:
        return None  # the checkpoints, and so the result, are the primary process's
    best = checkpoint.best_model_path
    if not best:
        raise StageError("train: no checkpoint was written (did validation run?)")
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    net_state = {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
    module.net.load_state_dict(net_state)
    net = module.net.cpu().eval()
    summary = {
        "best_val_loss": float(checkpoint.best_model_score),
        "epochs_run": int(trainer.current_epoch),
        "stopped_early": bool(stopping.stopped_epoch > 0),
        "resumed_after_epoch": resumed_epoch,
        "accelerator": type(trainer.accelerator).__name__.removesuffix("Accelerator").lower(),
        "precision": str(trainer.precision),
        "processes": int(trainer.world_size),
        "train_rows": train.rows,
        "val_rows": val.rows,
        "data": "stream" if train.streamed else "memory",
        **({"init_from": init_record} if init_record else {}),
    }
    return FitResult(net=net, config=net_config, summary=summary)


def datamodule(
    train: Split, val: Split, pre: Preprocessor, batch_size: int, seed: int,
    trainer_params: TrainParams,
) -> L.LightningDataModule:  # fmt: skip
    """The in-memory data path, or the streamed one for splits read from Parquet pieces
    (train.data: stream; trainflow.model.stream)."""
    if train.streamed:
        from trainflow.model.stream import StreamingDataModule

        if not val.streamed:
            raise StageError("train: stream the val split with the train split")
        return StreamingDataModule(train, val, pre, batch_size, seed,
                                   trainer_params.steps_per_call,
                                   trainer_params.stream_window)  # fmt: skip
    return TabularDataModule(train.frame(), val.frame(), pre, batch_size, seed,
                             trainer_params.steps_per_call)  # fmt: skip


FINGERPRINT_FILE = "fingerprint.txt"


def resumable_checkpoint(folder: Path, fingerprint: str, primary: bool = True) -> Path | None:
    """The last checkpoint of an interrupted run with this fingerprint, else None (and, in the
    primary process, the folder emptied and stamped with the fingerprint; the other processes
    of a distributed run start after it did, and only read)."""
    last, stamp = folder / "last.ckpt", folder / FINGERPRINT_FILE
    if fingerprint and last.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return last
    if not primary:
        return None
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    stamp.write_text(fingerprint)
    return None
