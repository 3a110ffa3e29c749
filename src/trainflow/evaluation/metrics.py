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


def _points(xs: torch.Tensor, ys: torch.Tensor) -> list[tuple[float, float]]:
    """Distinct finite (x, y) points in a fixed order, so the plot file is deterministic."""
    keep = torch.isfinite(xs) & torch.isfinite(ys)
    pairs = zip(xs[keep].tolist(), ys[keep].tolist(), strict=True)
    return sorted({(round(x, 6), round(y, 6)) for x, y in pairs})


def curve_tables(probs: torch.Tensor, target: torch.Tensor, points: int) -> dict[str, list]:
    """ROC and precision-recall curves on `points` evenly spaced thresholds."""
    y = target.long()
    fpr, tpr, _ = binary_roc(probs, y, thresholds=points)
    precision, recall, _ = binary_precision_recall_curve(probs, y, thresholds=points)
    roc = _points(fpr, tpr)
    pr = _points(recall, precision)  # precision is 0/0 (NaN) where nothing is predicted positive
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
