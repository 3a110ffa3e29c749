"""Classification metrics (torchmetrics) and the plot tables dvc plots draws."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_average_precision,
    binary_calibration_error,
    binary_confusion_matrix,
    binary_f1_score,
    binary_precision,
    binary_precision_recall_curve,
    binary_recall,
    binary_roc,
)


def binary_metrics(probs: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> dict:
    """Accuracy, error rate, precision, recall, F1, AUROC, AP, calibration error, confusion."""
    y = target.long()
    acc = float(binary_accuracy(probs, y, threshold=threshold))
    (tn, fp), (fn, tp) = binary_confusion_matrix(probs, y, threshold=threshold).tolist()
    return {
        "accuracy": round(acc, 6),
        "error_rate": round(1.0 - acc, 6),
        "precision": round(float(binary_precision(probs, y, threshold=threshold)), 6),
        "recall": round(float(binary_recall(probs, y, threshold=threshold)), 6),
        "f1": round(float(binary_f1_score(probs, y, threshold=threshold)), 6),
        "auroc": round(float(binary_auroc(probs, y)), 6),
        "average_precision": round(float(binary_average_precision(probs, y)), 6),
        "calibration_error": round(float(binary_calibration_error(probs, y, n_bins=15)), 6),
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def curve_tables(probs: torch.Tensor, target: torch.Tensor, points: int) -> dict[str, list]:
    """ROC and precision-recall curves on `points` evenly spaced thresholds."""
    y = target.long()
    fpr, tpr, _ = binary_roc(probs, y, thresholds=points)
    precision, recall, _ = binary_precision_recall_curve(probs, y, thresholds=points)
    roc = sorted({(round(float(f), 6), round(float(t), 6)) for f, t in zip(fpr, tpr, strict=True)})
    pr = sorted(
        {(round(float(r), 6), round(float(p), 6)) for r, p in zip(recall, precision, strict=True)}
    )
    return {
        "roc": [{"fpr": f, "tpr": t} for f, t in roc],
        "precision_recall": [{"recall": r, "precision": p} for r, p in pr],
    }


def confusion_rows(probs: torch.Tensor, target: torch.Tensor, labels: list[str]) -> list[dict]:
    """One {actual, predicted} row per test example, for dvc's confusion template."""
    predicted = (probs >= 0.5).long().numpy()
    actual = target.long().numpy()
    names = np.asarray(labels)
    return [
        {"actual": a, "predicted": p} for a, p in zip(names[actual], names[predicted], strict=True)
    ]
