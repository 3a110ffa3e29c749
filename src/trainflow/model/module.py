"""The LightningModule every neural family trains with: the network, the task's loss, and
torchmetrics collections per split.

Lightning's per-step machinery (hooks, loop bookkeeping, logging state, the backward and
optimizer-step wrappers) costs 0.5-1 ms, as much as a whole optimizer step of a small tabular
network on a CPU. So one training_step takes a *chunk* of batches and makes one optimizer step
per batch itself (manual optimisation): the same updates, in the same order, as one Lightning
step per batch, with that cost paid once per chunk (`train.steps_per_call`). Metrics are
updated once per chunk and logged once per epoch (computed over the epoch, synced across
processes by torchmetrics).

Image columns are augmented on the train split only, inside training_step: kornia's random
affine (rotation, shift, zoom), drawn from the per-epoch seed like dropout, so a resumed run
sees the images an uninterrupted one saw.
"""

from __future__ import annotations

import math

import lightning as L
import torch
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, MetricCollection, R2Score
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    MulticlassAccuracy,
    MulticlassF1Score,
)

from trainflow.model.network import build_network
from trainflow.model.objective import loss_for

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def image_augmentation(augment: dict | None) -> torch.nn.Module | None:
    """kornia's RandomAffine for `augment` = {degrees, translate (share of the side), scale
    (zoom in or out by up to)}; None when there is nothing to augment."""
    if not augment or not any(augment[k] for k in ("degrees", "translate", "scale")):
        return None
    import kornia.augmentation as K

    translate, scale = augment["translate"], augment["scale"]
    return K.RandomAffine(
        degrees=augment["degrees"], translate=(translate, translate) if translate else None,
        scale=(1 - scale, 1 + scale) if scale else None, p=1.0,
    )  # fmt: skip


class RootMeanSquaredError(MeanSquaredError):
    """torchmetrics' mean squared error, square-rooted by the correctly rounded IEEE operation:
    MeanSquaredError(squared=False) takes torch.sqrt, MKL's vector square root, whose last bit
    differs between CPU models, and the val/rmse curve with it (trainflow.numerics)."""

    def compute(self) -> torch.Tensor:
        mse = super().compute()
        return torch.tensor(math.sqrt(float(mse)), dtype=mse.dtype, device=mse.device)


def metric_collection(
    task: str, n_classes: int, prefix: str, full: bool = True
) -> MetricCollection:
    """The task's metrics (the headline one only when `full` is False, as training logs)."""
    # inputs come from our own tensors: no per-step argument validation (a torch.unique each)
    if task == "binary":
        metrics = {"acc": BinaryAccuracy(validate_args=False),
                   "auroc": BinaryAUROC(validate_args=False)}  # fmt: skip
    elif task == "multiclass":
        metrics = {
            "acc": MulticlassAccuracy(n_classes, average="micro", validate_args=False),
            "f1_macro": MulticlassF1Score(n_classes, average="macro", validate_args=False),
        }
    else:
        metrics = {"rmse": RootMeanSquaredError(), "mae": MeanAbsoluteError(),
                   "r2": R2Score()}  # fmt: skip
    if not full:
        metrics = dict(list(metrics.items())[:1])
    return MetricCollection(metrics, prefix=prefix)


class NetworkModule(L.LightningModule):
    """Binary, multiclass or regression by `task`; regression metrics in the target's units."""

    def __init__(
        self,
        net_config: dict,
        lr: float,
        weight_decay: float,
        task: str = "binary",
        target_mean: float = 0.0,
        target_std: float = 1.0,
        seed: int = 0,
        augment: dict | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False  # several optimizer steps per training_step
        self.net = build_network(net_config)
        # train-time augmentation of the image block (input `augment["block"]`), if any
        self.__dict__["augmenter"] = image_augmentation(augment)
        self.loss_fn = loss_for(task)
        n_classes = int(net_config.get("n_outputs", 1))
        # epoch means over rows: each batch's mean loss enters once per row (an expanded view,
        # no copy). MeanMetric's `weight` would do it, but torchmetrics 1.9 drops the weights
        # when nan_strategy="disable" (and the NaN check of the others syncs a GPU every step)
        self.train_loss = MeanMetric(nan_strategy="disable")
        self.val_loss = MeanMetric(nan_strategy="disable")
        self.train_metrics = metric_collection(task, n_classes, "train/", full=False)
        self.val_metrics = metric_collection(task, n_classes, "val/")
        # the lowest val/loss so far (the epoch the best checkpoint holds), logged as
        # val/best_loss; a buffer, so a resumed run keeps it
        self.register_buffer("best_val_loss", torch.tensor(float("inf")))

    def forward(self, *blocks: torch.Tensor) -> torch.Tensor:
        return self.net(*blocks)

    def _for_metrics(
        self, out: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.hparams.task == "regression":
            scale, shift = self.hparams.target_std, self.hparams.target_mean
            return out.float() * scale + shift, y * scale + shift
        return out.float(), y.long()

    def on_train_epoch_start(self) -> None:
        """Dropout masks from a seed per epoch: a run resumed at epoch k draws what an
        uninterrupted run drew (checkpoints do not carry the global RNG state); each process
        of a DDP run draws its own."""
        rank_offset = 1_000_003 * self.global_rank
        torch.manual_seed(self.hparams.seed * 100_003 + self.current_epoch + rank_offset)

    def training_step(self, chunk: list[Batch], chunk_idx: int) -> None:
        optimizer = self.optimizers()
        # Lightning's wrappers (manual_backward, LightningOptimizer.step: precision plugin,
        # hooks, step counting) run once per chunk, on its last batch; the others step the
        # optimizer directly. Not with 16-bit mixed precision: its gradient scaler lives in
        # those wrappers, so every step goes through them.
        direct = not str(self.trainer.precision).startswith("16")
        losses, outs, targets = [], [], []
        for i, (*blocks, y) in enumerate(chunk):
            if self.augmenter is not None:
                at = self.hparams.augment["block"]
                blocks[at] = self._augmented(blocks[at])
            out = self(*blocks)
            loss = self.loss_fn(out, y)
            optimizer.zero_grad()
            if direct and i < len(chunk) - 1:
                loss.backward()
                optimizer.optimizer.step()
            else:
                self.manual_backward(loss)
                optimizer.step()
            losses.append(loss.detach().expand(len(y)))
            outs.append(out.detach())
            targets.append(y)
        # metrics updated once per chunk (their per-call cost is paid once, like Lightning's)
        self.train_loss.update(torch.cat(losses))
        self.train_metrics.update(*self._for_metrics(torch.cat(outs), torch.cat(targets)))

    def _augmented(self, images: torch.Tensor) -> torch.Tensor:
        """[n, k, C, H, W] pixels (0-255) -> the same, each image randomly moved (floats)."""
        flat = images.flatten(0, 1).float()
        return self.augmenter(flat).unflatten(0, images.shape[:2])

    def on_validation_epoch_start(self) -> None:
        """The epoch's training values, logged here rather than at the epoch's end (which
        Lightning runs after validation): so they are written, with the validation values,
        before the epoch's checkpoint is, and the curves a checkpoint carries are whole."""
        if self.trainer.state.fn == "fit":
            self._log_epoch("train/loss", self.train_loss, self.train_metrics)

    def validation_step(self, chunk: list[Batch], chunk_idx: int) -> None:
        losses, outs, targets = [], [], []
        for *blocks, y in chunk:
            out = self(*blocks)
            losses.append(self.loss_fn(out, y).expand(len(y)))
            outs.append(out)
            targets.append(y)
        self.val_loss.update(torch.cat(losses))
        self.val_metrics.update(*self._for_metrics(torch.cat(outs), torch.cat(targets)))

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val/loss", self.val_loss, self.val_metrics, prog_bar=True)
        if not self.trainer.sanity_checking:
            self.best_val_loss = torch.minimum(self.best_val_loss, values["val/loss"])
            self.log("val/best_loss", self.best_val_loss)

    def _log_epoch(
        self, name: str, loss: MeanMetric, metrics: MetricCollection, prog_bar: bool = False
    ) -> dict[str, torch.Tensor]:
        values = {name: loss.compute(), **metrics.compute()}
        self.log_dict(values, prog_bar=prog_bar)
        loss.reset()
        metrics.reset()
        return values

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # fused: one kernel whose square root is the exact IEEE instruction; the default
        # path takes torch.sqrt, i.e. MKL's vector square root, whose last bit differs between
        # CPU models (trainflow.numerics)
        return torch.optim.AdamW(
            self.parameters(),
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            fused=True,
        )
