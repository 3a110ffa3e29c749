"""Choosing the champion on the validation split: every candidate's validation metrics, the
best single family by the selection metric, and (when it does better) a weighted ensemble of
candidates. The test split plays no part here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainflow.evaluation.metrics import LOWER_IS_BETTER, task_metrics
from trainflow.families import ENSEMBLE
from trainflow.families.ensemble import select_weights


def scalar_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)
            and not isinstance(v, bool)}  # fmt: skip


def val_metrics(task: str, scores: np.ndarray, truth: np.ndarray, labels: list[str]) -> dict:
    return scalar_metrics(task_metrics(task, torch.from_numpy(scores), torch.from_numpy(truth),
                                       labels))  # fmt: skip


@dataclass
class Selection:
    metric: str
    lower_is_better: bool
    candidates: dict[str, dict]  # name -> validation metrics
    champion: str  # a family name, or "ensemble"
    weights: dict[str, float]  # the ensemble's members (empty for a single family)
    ensemble_metrics: dict | None = None

    @property
    def champion_value(self) -> float:
        metrics = self.ensemble_metrics if self.champion == ENSEMBLE else \
            self.candidates[self.champion]  # fmt: skip
        return float(metrics[self.metric])

    def to_dict(self) -> dict:
        rows = [{"family": name, **metrics} for name, metrics in self.candidates.items()]
        if self.ensemble_metrics is not None:
            rows.append({"family": ENSEMBLE, **self.ensemble_metrics})
        key = self.metric
        rows.sort(key=lambda r: r[key] if self.lower_is_better else -r[key])
        return {
            "metric": f"val {key}", "lower_is_better": self.lower_is_better,
            "champion": self.champion, "weights": self.weights, "leaderboard": rows,
        }  # fmt: skip


def choose(
    task: str, metric: str, val_scores: dict[str, np.ndarray], truth: np.ndarray,
    labels: list[str], ensemble: bool, rounds: int,
) -> Selection:  # fmt: skip
    """The best candidate by `metric` on validation; an ensemble when it is strictly better."""
    lower = metric in LOWER_IS_BETTER
    candidates = {n: val_metrics(task, s, truth, labels) for n, s in val_scores.items()}
    order = sorted(candidates, key=lambda n: candidates[n][metric] * (1 if lower else -1))
    best = order[0]
    selection = Selection(metric, lower, candidates, best, {})
    if not ensemble or len(val_scores) < 2:
        return selection

    def score_of(scores: np.ndarray) -> float:
        return val_metrics(task, scores, truth, labels)[metric]

    weights = select_weights({n: val_scores[n] for n in order}, score_of, rounds, lower)
    if len(weights) < 2:  # the best single family on its own
        return selection
    mixed = sum(w * val_scores[n] for n, w in weights.items())
    ensemble_metrics = val_metrics(task, mixed, truth, labels)
    selection.ensemble_metrics = ensemble_metrics
    better = (ensemble_metrics[metric] < candidates[best][metric]) if lower else \
        (ensemble_metrics[metric] > candidates[best][metric])  # fmt: skip
    if better:
        selection.champion, selection.weights = ENSEMBLE, weights
    return selection
