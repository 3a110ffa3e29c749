"""Test metrics per task (torchmetrics) and the plot tables dvc plots draws."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional import (
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
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
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_average_precision,
    multiclass_calibration_error,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

# what model_minus_baseline compares, per task (the first is the headline)
HEADLINE = {
    "binary": ("accuracy", "f1", "auroc", "average_precision"),
    "multiclass": ("accuracy", "f1_macro", "auroc_macro", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
# the champion's test metrics that are `dvc exp show` columns (metrics/eval.json)
EXP_SHOW = {"binary": ("accuracy", "auroc"), "multiclass": ("accuracy", "f1_macro"),
            "regression": ("rmse", "r2")}  # fmt: skip
LOWER_IS_BETTER = {"error_rate", "log_loss", "calibration_error", "mse", "rmse", "mae"}
PLOT_POINTS = 2000  # scatter plots keep a seeded sample of this many test rows
CALIBRATION_BINS = 15


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
        "log_loss": round(binary_log_loss(probs, y), 6),
        "calibration_error": round(float(binary_calibration_error(probs, y, n_bins=15)), 6),
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def multiclass_metrics(probs: torch.Tensor, target: torch.Tensor, labels: list[str]) -> dict:
    """Accuracy, macro precision / recall / F1 / AUROC / AP, log loss, calibration error,
    per-class F1 and the confusion matrix (rows: actual, columns: predicted)."""
    k, y = len(labels), target.long()
    per_class = multiclass_f1_score(probs, y, k, average=None).tolist()
    matrix = multiclass_confusion_matrix(probs, y, k).tolist()
    acc = float(multiclass_accuracy(probs, y, k, average="micro"))
    return {
        "accuracy": round(acc, 6),
        "error_rate": round(1.0 - acc, 6),
        "precision_macro": round(float(multiclass_precision(probs, y, k, average="macro")), 6),
        "recall_macro": round(float(multiclass_recall(probs, y, k, average="macro")), 6),
        "f1_macro": round(float(multiclass_f1_score(probs, y, k, average="macro")), 6),
        "auroc_macro": round(float(multiclass_auroc(probs, y, k, average="macro")), 6),
        "average_precision_macro": round(
            float(multiclass_average_precision(probs, y, k, average="macro")), 6
        ),
        "log_loss": round(log_loss(probs, y), 6),
        "calibration_error": round(
            float(multiclass_calibration_error(probs, y, k, n_bins=CALIBRATION_BINS)), 6
        ),
        "f1_per_class": {label: round(f, 6) for label, f in zip(labels, per_class, strict=True)},
        "confusion": {
            actual: dict(zip(labels, row, strict=True))
            for actual, row in zip(labels, matrix, strict=True)
        },
    }


def binary_log_loss(probs: torch.Tensor, target: torch.Tensor) -> float:
    """Mean negative log-likelihood of binary labels under positive-class probabilities."""
    p = probs.double().clamp(1e-12, 1 - 1e-12)
    return float(torch.nn.functional.binary_cross_entropy(p, target.double()))


def log_loss(probs: torch.Tensor, target: torch.Tensor) -> float:
    """Mean negative log-probability of the true class, from [n, k] probabilities."""
    return float(torch.nn.functional.nll_loss(probs.clamp_min(1e-12).log(), target.long()))


def regression_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict:
    """MSE, RMSE, MAE and R² in the target's units."""
    mse = float(mean_squared_error(pred, target))
    return {
        "mse": round(mse, 6),
        "rmse": round(mse**0.5, 6),
        "mae": round(float(mean_absolute_error(pred, target)), 6),
        "r2": round(float(r2_score(pred, target)), 6),
    }


def task_metrics(task: str, scores: torch.Tensor, target: torch.Tensor, labels: list[str]) -> dict:
    """The metrics of `task` from a predictor's scores (see Predictor.predict_clean)."""
    if task == "binary":
        return binary_metrics(scores, target)
    if task == "multiclass":
        return multiclass_metrics(scores, target, labels)
    return regression_metrics(scores, target)


def difference(task: str, model: dict, baseline: dict) -> dict:
    """model - baseline on the task's headline metrics (positive is better except for
    LOWER_IS_BETTER metrics)."""
    return {k: round(model[k] - baseline[k], 6) for k in HEADLINE[task]}


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


def confusion_rows(predicted: np.ndarray, actual: np.ndarray, labels: list[str]) -> list[dict]:
    """One {actual, predicted} row per test example (class indices), for dvc's confusion
    template."""
    names = np.asarray(labels)
    return [
        {"actual": a, "predicted": p} for a, p in zip(names[actual], names[predicted], strict=True)
    ]


def reliability_rows(probs: torch.Tensor, target: torch.Tensor, bins: int) -> list[dict]:
    """The reliability diagram behind the calibration error: per confidence bin (of the
    predicted class's probability), mean confidence vs accuracy and the bin's row count."""
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == target.long()).double()
    which = torch.clamp((confidence.double() * bins).long(), max=bins - 1)
    count = torch.bincount(which, minlength=bins)
    conf_sum = torch.bincount(which, weights=confidence.double(), minlength=bins)
    hit_sum = torch.bincount(which, weights=correct, minlength=bins)
    return [
        {"confidence": round(float(conf_sum[b] / count[b]), 6),
         "accuracy": round(float(hit_sum[b] / count[b]), 6), "rows": int(count[b])}
        for b in range(bins) if count[b] > 0
    ]  # fmt: skip


def residual_rows(pred: torch.Tensor, target: torch.Tensor, seed: int) -> list[dict]:
    """actual, predicted and residual (actual - predicted) for a seeded sample of test rows."""
    n = len(target)
    keep = np.sort(np.random.default_rng(seed).permutation(n)[:PLOT_POINTS])
    actual, predicted = target.numpy()[keep], pred.numpy()[keep]
    return [
        {"actual": round(float(a), 6), "predicted": round(float(p), 6),
         "residual": round(float(a - p), 6)}
        for a, p in zip(actual, predicted, strict=True)
    ]  # fmt: skip
