"""The LightningModule: the MLP, its loss, and one torchmetrics object per split and metric."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC

from trainflow.model.network import build_network


class TabularClassifier(L.LightningModule):
    def __init__(self, net_config: dict, lr: float, weight_decay: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = build_network(net_config)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.train_acc = BinaryAccuracy()
        self.val_acc = BinaryAccuracy()
        self.val_auroc = BinaryAUROC()

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.net(x_num, x_cat)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x_num, x_cat, y = batch
        logits = self(x_num, x_cat)
        loss = self.loss_fn(logits, y)
        self.train_acc(logits, y.long())
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x_num, x_cat, y = batch
        logits = self(x_num, x_cat)
        self.val_acc(logits, y.long())
        self.val_auroc(logits, y.long())
        self.log("val/loss", self.loss_fn(logits, y), batch_size=len(y), prog_bar=True)
        self.log("val/acc", self.val_acc, batch_size=len(y), prog_bar=True)
        self.log("val/auroc", self.val_auroc, batch_size=len(y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
