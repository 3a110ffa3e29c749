"""The LightningModule: the MLP, the task's loss, and torchmetrics collections per split."""

from __future__ import annotations

import lightning as L
import torch
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    MulticlassAccuracy,
    MulticlassF1Score,
)

from trainflow.model.network import build_network
from trainflow.model.objective import loss_for


def task_metrics(task: str, n_classes: int, prefix: str, full: bool = True) -> MetricCollection:
    """The task's metrics (the headline one only when `full` is False, as training logs)."""
    if task == "binary":
        metrics = {"acc": BinaryAccuracy(), "auroc": BinaryAUROC()}
    elif task == "multiclass":
        metrics = {"acc": MulticlassAccuracy(n_classes, average="micro"),
                   "f1_macro": MulticlassF1Score(n_classes, average="macro")}  # fmt: skip
    else:
        metrics = {"rmse": MeanSquaredError(squared=False), "mae": MeanAbsoluteError(),
                   "r2": R2Score()}  # fmt: skip
    if not full:
        metrics = dict(list(metrics.items())[:1])
    return MetricCollection(metrics, prefix=prefix)


class TabularModel(L.LightningModule):
    """Binary, multiclass or regression by `task`; regression metrics in the target's units."""

    def __init__(
        self,
        net_config: dict,
        lr: float,
        weight_decay: float,
        task: str = "binary",
        target_mean: float = 0.0,
        target_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = build_network(net_config)
        self.loss_fn = loss_for(task)
        n_classes = int(net_config.get("n_outputs", 1))
        self.train_metrics = task_metrics(task, n_classes, "train/", full=False)
        self.val_metrics = task_metrics(task, n_classes, "val/")

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.net(x_num, x_cat)

    def _for_metrics(
        self, out: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.hparams.task == "regression":
            scale, shift = self.hparams.target_std, self.hparams.target_mean
            return out.float() * scale + shift, y * scale + shift
        return out.float(), y.long()

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x_num, x_cat, y = batch
        out = self(x_num, x_cat)
        loss = self.loss_fn(out, y)
        self.train_metrics(*self._for_metrics(out.detach(), y))
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x_num, x_cat, y = batch
        out = self(x_num, x_cat)
        self.val_metrics(*self._for_metrics(out, y))
        self.log("val/loss", self.loss_fn(out, y), batch_size=len(y), prog_bar=True)
        self.log_dict(self.val_metrics, batch_size=len(y), prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
