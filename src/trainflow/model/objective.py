"""What each task optimises: the loss, shared by the MLP and the baseline."""

from __future__ import annotations

from torch import nn


def loss_for(task: str) -> nn.Module:
    """Binary: BCE on one logit; multiclass: cross-entropy over class logits; regression: MSE
    on the standardised target."""
    losses = {"binary": nn.BCEWithLogitsLoss, "multiclass": nn.CrossEntropyLoss,
              "regression": nn.MSELoss}  # fmt: skip
    return losses[task]()
