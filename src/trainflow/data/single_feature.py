"""The single-feature leak check: each feature's predictive power alone, before training.

A column that predicts the target almost perfectly by itself is, in real tables, nearly always
a leak: a row number of a file sorted by the target, a value recorded after the outcome, the
target under another name. The check fits, per feature, the simplest model of that feature
alone on the train split (its values in quantile bins, or its categories, each bin answering
the train rows' mean target) and scores it on the val split: for classification the power is
2 x AUROC - 1 (macro one-vs-rest for several classes; 0 is chance, 1 perfect), for regression
R² (0 or less: no power). Whether a feature is missing is scored the same way: a missingness
that alone predicts the target says how the data was collected, not what it means.

Anchor: the single-feature predictive-power checks of data-validation suites (Deepchecks'
"Feature Label Correlation"); here they are a gate of the pipeline with a declared bound.
Text and image columns are not scored (no one-column model of them is simple).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from trainflow.params import DataParams, SingleFeatureParams

BINS = 20  # quantile bins of a numeric feature (and one for missing)
SMOOTHING = 1.0  # pseudo-rows of the prior in each bin's answer


@dataclass
class SingleFeatureReport:
    metric: str  # "2*auroc-1" | "r2"
    power: dict[str, float] = field(default_factory=dict)  # feature -> power, strongest first
    missing_power: dict[str, float] = field(default_factory=dict)  # feature -> power of is-null
    flagged: list[str] = field(default_factory=list)  # one line each
    flagged_columns: list[str] = field(default_factory=list)  # the features those lines name
    policy: str = "fail"
    bound: str = ""  # max_power as people read it

    @property
    def top(self) -> tuple[str | None, float]:
        return next(iter(self.power.items()), (None, 0.0))

    def to_dict(self) -> dict:
        name, power = self.top
        return {**asdict(self), "top_feature": name, "top_power": power,
                "top_score": as_score(self.metric, power)}  # fmt: skip


def _codes(train: pd.Series, val: pd.Series, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bin codes for train and val: quantile bins of train's values (numbers) or train's
    categories; missing is its own code, a value train never had the prior's (-1)."""
    if numeric:
        tr = pd.to_numeric(train, errors="coerce").to_numpy(dtype=np.float64)
        va = pd.to_numeric(val, errors="coerce").to_numpy(dtype=np.float64)
        present = tr[~np.isnan(tr)]
        edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1])) \
            if len(present) else np.array([])  # fmt: skip
        codes = [np.where(np.isnan(x), len(edges) + 1, np.searchsorted(edges, x, side="left"))
                 for x in (tr, va)]  # fmt: skip
        return codes[0], codes[1]
    tr_text = train.astype("string").fillna("\0missing")
    va_text = val.astype("string").fillna("\0missing")
    index = pd.Index(tr_text.unique())
    return index.get_indexer(tr_text), index.get_indexer(va_text)


def _encode(codes_train: np.ndarray, y_train: np.ndarray, codes_val: np.ndarray) -> np.ndarray:
    """Each val row's answer: its bin's mean of the train targets (one column per class for
    classification), shrunk towards the overall mean by SMOOTHING pseudo-rows."""
    y = y_train.reshape(len(y_train), -1).astype(np.float64)
    prior = y.mean(axis=0)
    size = int(max(codes_train.max(initial=0), codes_val.max(initial=0))) + 1
    sums = np.zeros((size, y.shape[1]))
    np.add.at(sums, codes_train, y)
    counts = np.bincount(codes_train, minlength=size)[:, None]
    means = (sums + SMOOTHING * prior) / (counts + SMOOTHING)
    out = np.where(codes_val[:, None] >= 0, means[np.maximum(codes_val, 0)], prior)
    return out if out.shape[1] > 1 else out[:, 0]


def _power(task: str, truth: np.ndarray, answer: np.ndarray) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "regression":
        return max(0.0, float(r2_score(truth, answer)))
    if len(np.unique(truth)) < 2:
        return 0.0
    if task == "binary":
        auroc = roc_auc_score(truth, answer)
    else:
        present = np.unique(truth)
        if len(present) < answer.shape[1]:  # a class absent from val: score the others
            answer = answer[:, present] / answer[:, present].sum(axis=1, keepdims=True)
            truth = np.searchsorted(present, truth)
        auroc = roc_auc_score(truth, answer, multi_class="ovr", average="macro")
    return max(0.0, 2 * float(auroc) - 1)


def _targets(frame: pd.DataFrame, data: DataParams) -> np.ndarray:
    """Regression: the numbers; binary: 1 for the positive (last) label; multiclass: one-hot."""
    y = frame[data.target]
    if data.task_type == "regression":
        return pd.to_numeric(y).to_numpy(dtype=np.float64)
    index = y.astype(str).map({label: i for i, label in enumerate(data.labels)})
    codes = index.to_numpy(dtype=np.int64)
    if data.task_type == "binary":
        return (codes == 1).astype(np.float64)
    return np.eye(len(data.labels))[codes]


def as_score(metric: str, power: float) -> str:
    """A power as people read it: AUROC (classification) or R²."""
    return f"R² {power:.4f}" if metric == "r2" else f"AUROC {(power + 1) / 2:.4f}"


def single_feature_check(
    train: pd.DataFrame, val: pd.DataFrame, data: DataParams, check: SingleFeatureParams
) -> SingleFeatureReport:
    """Every tabular feature's power alone (and its missingness's), strongest first, and what
    breaks the declared bounds: a power of at least `max_power`, or a lead of at least
    `max_lead` over the next strongest feature by one of at least `lead_min_power`."""
    task = data.task_type
    metric = "r2" if task == "regression" else "2*auroc-1"
    report = SingleFeatureReport(metric=metric, policy=check.policy)
    y_train, y_val = _targets(train, data), _targets(val, data)
    truth = y_val if task != "multiclass" else y_val.argmax(axis=1)
    numeric = set(data.numeric_features)
    power, missing = {}, {}
    for col in [*data.numeric_features, *data.categorical_features]:
        tr, va = _codes(train[col], val[col], col in numeric)
        power[col] = round(_power(task, truth, _encode(tr, y_train, va)), 6)
        gaps = train[col].isna().to_numpy()
        if gaps.any() and not gaps.all():
            is_null = (gaps.astype(np.int64), val[col].isna().to_numpy().astype(np.int64))
            missing[col] = round(_power(task, truth, _encode(is_null[0], y_train, is_null[1])), 6)
    report.power = dict(sorted(power.items(), key=lambda kv: (-kv[1], kv[0])))
    report.missing_power = dict(sorted(missing.items(), key=lambda kv: (-kv[1], kv[0])))
    shown = lambda p: as_score(metric, p)  # noqa: E731
    bound = report.bound = shown(check.max_power)

    def flag(col: str, line: str) -> None:
        report.flagged.append(line)
        if col not in report.flagged_columns:
            report.flagged_columns.append(col)

    for col, p in report.power.items():
        if p >= check.max_power:
            flag(col, f"{col!r} alone predicts {data.target!r} with {shown(p)} on val (bound "
                      f"{bound}): a leak?")  # fmt: skip
    for col, p in report.missing_power.items():
        if p >= check.max_power:
            flag(col, f"whether {col!r} is missing alone predicts {data.target!r} with "
                      f"{shown(p)} on val (bound {bound})")  # fmt: skip
    ranked = list(report.power.items())
    lead = len(ranked) > 1 and ranked[0][1] - ranked[1][1] >= check.max_lead
    if lead and ranked[0][1] >= check.lead_min_power:  # one strong predictor among weak ones
        # (a diagnosis date for survival) is common and honest: only a near-perfect one leads
        (top, p1), (second, p2) = ranked[0], ranked[1]
        flag(top, f"{top!r} alone ({shown(p1)}) is far above every other feature (next: "
                  f"{second!r}, {shown(p2)}; split.single_feature.max_lead {check.max_lead:g} "
                  "in power): a leak?")  # fmt: skip
    return report
