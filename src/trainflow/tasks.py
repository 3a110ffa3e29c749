"""What a model's raw outputs mean for each task, in one place.

Every family outputs the same raw quantities: binary, one logit per row; multiclass, one logit
per class; regression, the standardised target. Scores are what evaluation and serving use:
binary, the positive class's probability [n]; multiclass, class probabilities [n, k] in label
order; regression, the value in the target's units [n].
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def scores_from_outputs(
    task: str, outputs: np.ndarray, target_mean: float = 0.0, target_std: float = 1.0
) -> np.ndarray:
    """Raw outputs -> the task's scores."""
    out = np.asarray(outputs, dtype=np.float64)
    if task == "binary":
        return _sigmoid(out)
    if task == "multiclass":
        return _softmax(out)
    return out * target_std + target_mean


def outputs_from_scores(
    task: str, scores: np.ndarray, target_mean: float = 0.0, target_std: float = 1.0
) -> np.ndarray:
    """The inverse of scores_from_outputs (for a model defined by its scores: an ensemble)."""
    s = np.asarray(scores, dtype=np.float64)
    if task == "binary":
        p = np.clip(s, EPS, 1 - EPS)
        return np.log(p) - np.log1p(-p)
    if task == "multiclass":
        return np.log(np.clip(s, EPS, None))
    return (s - target_mean) / target_std


def class_probabilities(task: str, scores: np.ndarray) -> np.ndarray:
    """A classifier's scores as [n, k] probabilities in label order: binary scores are the
    positive class's probability."""
    return np.stack([1 - scores, scores], axis=1) if task == "binary" else scores


def predicted_classes(task: str, scores: np.ndarray) -> np.ndarray:
    """The predicted class index: binary, positive from 0.5 on (ties go to it); multiclass,
    the most probable class."""
    return (scores >= 0.5).astype(np.int64) if task == "binary" else scores.argmax(axis=1)
