"""Where the model is weak: metrics per slice, fairness gaps, the worst slices and the most
confidently wrong rows, and permutation importance. Pure functions over the test split and a
predictor's scores (see Predictor.predict_clean)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pandas as pd
import torch
from torchmetrics.functional.classification import binary_groups_stat_rates

from trainflow.data.images import longest_side
from trainflow.evaluation.metrics import LOWER_IS_BETTER, log_loss, task_metrics
from trainflow.model.text import word_counts
from trainflow.tasks import class_probabilities, predicted_classes

MISSING = "(missing)"
SLICE_METRICS = {  # what each slice reports, beside its row count
    "binary": ("accuracy", "auroc", "recall"),
    "multiclass": ("accuracy", "f1_macro"),
    "regression": ("rmse", "mae"),
}


TEXT_LENGTH_BANDS = [5.0, 10.0, 20.0, 40.0]  # words: a text column's slices unless banded
IMAGE_SIDE_BANDS = [32.0, 64.0, 128.0, 256.0, 512.0]  # pixels: an image column's slices


def slice_labels(
    values: pd.Series, edges: list[float] | None = None, text: bool = False,
    image: bool = False,
) -> pd.Series:  # fmt: skip
    """Each row's slice of a column: its value, or its band `[a, b)` when `edges` are given;
    a free-text column is sliced by its length in words (`edges`, or TEXT_LENGTH_BANDS), an
    image column by its longer side in pixels (`edges`, or IMAGE_SIDE_BANDS)."""
    if text:
        banded = slice_labels(word_counts(values), edges or TEXT_LENGTH_BANDS)
        return banded.where(banded == MISSING, banded + " words")
    if image:
        banded = slice_labels(longest_side(values), edges or IMAGE_SIDE_BANDS)
        return banded.where(banded == MISSING, banded + " px")
    if edges:
        bounds = [-np.inf, *edges, np.inf]
        names = [_band(a, b) for a, b in pairwise(bounds)]
        numbers = pd.to_numeric(values, errors="coerce")
        banded = pd.cut(numbers, bounds, right=False, labels=names)
        return banded.astype("str").where(numbers.notna(), MISSING)
    return values.astype("str").where(values.notna(), MISSING)


def _band(lo: float, hi: float) -> str:
    if lo == -np.inf:
        return f"< {hi:g}"
    return f">= {lo:g}" if hi == np.inf else f"[{lo:g}, {hi:g})"


def _metrics_of(task: str, scores: np.ndarray, truth: np.ndarray, labels: list[str]) -> dict:
    m = task_metrics(task, torch.from_numpy(scores), torch.from_numpy(truth), labels)
    return {k: m[k] for k in SLICE_METRICS[task]}


def slice_table(
    task: str,
    scores: np.ndarray,
    truth: np.ndarray,
    slices: dict[str, pd.Series],
    labels: list[str],
    min_rows: int,
) -> dict[str, dict[str, dict]]:
    """Per slice column and value: rows and the task's slice metrics (slices below `min_rows`
    get only their row count: their metrics would be noise)."""
    table: dict[str, dict[str, dict]] = {}
    for col, values in slices.items():
        table[col] = {}
        for value in sorted(values.unique()):
            rows = (values == value).to_numpy()
            entry: dict = {"rows": int(rows.sum())}
            if entry["rows"] >= min_rows and _has_both_classes(task, truth[rows]):
                entry |= _metrics_of(task, scores[rows], truth[rows], labels)
            table[col][value] = entry
    return table


def _has_both_classes(task: str, truth: np.ndarray) -> bool:
    """Binary AUROC needs both classes in the slice."""
    return task != "binary" or 0 < truth.sum() < len(truth)


def worst_slices(task: str, table: dict[str, dict[str, dict]], k: int = 5) -> list[dict]:
    """The `k` slices with the worst headline metric (ranked slices only)."""
    metric = SLICE_METRICS[task][0]
    ranked = [
        {"slice": f"{col}={value}", "rows": e["rows"], metric: e[metric]}
        for col, values in table.items()
        for value, e in values.items()
        if metric in e
    ]
    ranked.sort(key=lambda r: r[metric], reverse=metric in LOWER_IS_BETTER)
    return ranked[:k]


def fairness_gaps(scores: np.ndarray, truth: np.ndarray, groups: pd.Series, min_rows: int) -> dict:
    """Binary task, one sensitive column: demographic parity difference (the spread of the
    positive-prediction rate across groups) and equal-opportunity difference (the spread of
    the true-positive rate), over groups with at least `min_rows` rows (`min_rows` positives
    for the true-positive rate). torchmetrics gives each group's tp/fp/tn/fn rates."""
    codes, names = pd.factorize(groups, sort=True)
    rates = binary_groups_stat_rates(
        torch.from_numpy(scores), torch.from_numpy(truth).long(), torch.from_numpy(codes),
        len(names),
    )  # fmt: skip
    sizes = np.bincount(codes, minlength=len(names))
    positives = np.bincount(codes, weights=truth, minlength=len(names))
    selection, tpr = {}, {}
    for g, name in enumerate(names):
        tp, fp, _, fn = (float(v) for v in rates[f"group_{g}"])
        if sizes[g] >= min_rows:
            selection[str(name)] = tp + fp
        if positives[g] >= min_rows:
            tpr[str(name)] = tp / (tp + fn)
    return {
        "demographic_parity_difference": _spread(selection),
        "equal_opportunity_difference": _spread(tpr),
        "groups_compared": len(selection),
        "positive_rate": {k: round(v, 6) for k, v in selection.items()},
        "true_positive_rate": {k: round(v, 6) for k, v in tpr.items()},
    }


def _spread(values: dict[str, float]) -> float:
    return round(max(values.values()) - min(values.values()), 6) if len(values) > 1 else 0.0


def confident_errors(
    task: str,
    scores: np.ndarray,
    truth: np.ndarray,
    records: pd.DataFrame,
    labels: list[str],
    k: int,
) -> pd.DataFrame:
    """The `k` test rows the model got most confidently wrong: a wrong class with the highest
    probability, or the largest absolute residual. Feature values beside the answer."""
    if task == "regression":
        out = records.assign(actual=truth, predicted=scores, abs_error=np.abs(truth - scores))
        return out.nlargest(k, "abs_error").reset_index(drop=True)
    probs = class_probabilities(task, scores)
    predicted = predicted_classes(task, scores)
    names = np.asarray(labels)
    out = records.assign(
        actual=names[truth.astype(int)],
        predicted=names[predicted],
        confidence=probs[np.arange(len(probs)), predicted],
    )[predicted != truth.astype(int)]
    return out.nlargest(k, "confidence").reset_index(drop=True)


def permutation_importance_rows(
    predict: Callable[[pd.DataFrame], np.ndarray],
    features: pd.DataFrame,
    truth: np.ndarray,
    loss: Callable[[np.ndarray, np.ndarray], float],
    repeats: int,
    seed: int,
) -> list[dict]:
    """sklearn's permutation importance with the task's loss: how much the test loss grows when
    one feature's values are shuffled (mean and std over `repeats` seeded shuffles)."""
    from sklearn.inspection import permutation_importance

    def scorer(_: object, x: pd.DataFrame, y: np.ndarray) -> float:
        return -loss(predict(x), y)

    result = permutation_importance(
        _Fitted(), features, truth, scoring=scorer, n_repeats=repeats, random_state=seed
    )
    rows = [
        {"feature": col, "importance": round(float(m), 6), "std": round(float(s), 6)}
        for col, m, s in zip(
            features.columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return sorted(rows, key=lambda r: -r["importance"])


class _Fitted:
    """Stands in for an sklearn estimator: the scorer calls our predictor itself."""

    def fit(self, *_: object) -> _Fitted:
        return self


def task_loss(task: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """Log loss (binary, multiclass) or mean squared error (regression), on predictor scores."""

    def classes(scores: np.ndarray, truth: np.ndarray) -> float:
        probs = torch.from_numpy(class_probabilities(task, scores))
        return log_loss(probs, torch.from_numpy(truth))

    def mse(scores: np.ndarray, truth: np.ndarray) -> float:
        return float(np.mean((scores - truth) ** 2))

    return mse if task == "regression" else classes


def _md_table(rows: list[dict]) -> str:
    if not rows:
        return "(none)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def report_markdown(
    task: str,
    worst: list[dict],
    fairness: dict[str, dict],
    errors: pd.DataFrame,
    importance: list[dict],
    checks: list[dict],
) -> str:
    """reports/eval/analysis.md: the gate, the worst slices, fairness, errors, importance."""
    parts = ["# Where the model is weak (test split)\n"]
    parts += ["## Success criteria (params.gate)\n", _md_table(checks)]
    parts += [f"## Worst slices by {SLICE_METRICS[task][0]}\n", _md_table(worst)]
    if fairness:
        rows = [{"column": col, **{k: v for k, v in gaps.items() if not isinstance(v, dict)}}
                for col, gaps in fairness.items()]  # fmt: skip
        rates = [
            {"column": col, "group": g, "positive_rate": rate,
             "true_positive_rate": gaps["true_positive_rate"].get(g)}
            for col, gaps in fairness.items() for g, rate in gaps["positive_rate"].items()
        ]  # fmt: skip
        parts += ["## Fairness gaps\n", _md_table(rows), "\nPer group:\n", _md_table(rates)]
    parts += [f"## Most confidently wrong rows ({len(errors)})\n",
              _md_table(errors.astype(object).to_dict("records"))]  # fmt: skip
    if importance:
        parts += ["## Permutation importance (increase in test loss)\n", _md_table(importance)]
    return "\n".join(parts)
