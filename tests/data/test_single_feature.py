"""The single-feature leak check: a feature that predicts the target alone (a row number of a
sorted file, the target in disguise, a missingness that tells the outcome) is named with its
score; ordinary features, each partly predictive, are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainflow.data.single_feature import single_feature_check
from trainflow.params import DataParams, SingleFeatureParams

N = 3000
CHECK = SingleFeatureParams()


def frame(task: str, seed: int = 0) -> tuple[pd.DataFrame, DataParams]:
    """Three honest features, each a part of the signal, plus noise."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=N), rng.normal(size=N)
    colour = rng.choice(["red", "green", "blue"], N)
    signal = a + b + (colour == "red") + rng.normal(scale=1.5, size=N)
    out = pd.DataFrame({"a": a, "b": b, "colour": colour, "noise": rng.normal(size=N)})
    if task == "regression":
        out["y"], labels = signal, []
    elif task == "binary":
        out["y"], labels = np.where(signal > 0.3, "yes", "no"), ["no", "yes"]
    else:
        out["y"] = pd.cut(signal, [-np.inf, -1, 1, np.inf], labels=["lo", "mid", "hi"]).astype(str)
        labels = ["hi", "lo", "mid"]
    data = DataParams(target="y", numeric=["a", "b", "noise"], categorical=["colour"],
                      labels=labels)  # fmt: skip
    return out, data


def halves(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(1).permutation(len(table))
    return table.iloc[order[: N * 2 // 3]], table.iloc[order[N * 2 // 3 :]]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_honest_features_pass_and_are_ranked(task):
    table, data = frame(task)
    report = single_feature_check(*halves(table), data, CHECK)
    assert report.flagged == []
    assert set(report.power) == {"a", "b", "colour", "noise"}
    assert report.power["noise"] < 0.05 < min(report.power["a"], report.power["b"])
    assert 0 < report.top[1] < 0.7 and report.to_dict()["top_feature"] in ("a", "b")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_row_number_of_a_file_sorted_by_the_target_is_named(task):
    """The issue's case: the file came sorted by the target, its row number a feature."""
    table, data = frame(task)
    table = table.sort_values("y", kind="stable").reset_index(drop=True)
    table["Unnamed: 0"] = np.arange(1, N + 1)
    data = data.model_copy(update={"numeric": [*data.numeric, "Unnamed: 0"]})
    report = single_feature_check(*halves(table), data, CHECK)
    assert report.top[0] == "Unnamed: 0" and report.top[1] >= CHECK.max_power
    assert report.flagged[0].startswith("'Unnamed: 0' alone predicts 'y' with ")
    assert ("R²" if task == "regression" else "AUROC") in report.flagged[0]


def test_the_target_in_disguise_and_a_telling_missingness_are_named():
    table, data = frame("binary")
    table["status"] = np.where(table["y"] == "yes", "closed", "open")  # recorded afterwards
    table["score"] = table["a"].where(table["y"] == "yes")  # only measured for the positives
    data = data.model_copy(update={"categorical": ["colour", "status"],
                                   "numeric": [*data.numeric, "score"]})  # fmt: skip
    report = single_feature_check(*halves(table), data, CHECK)
    lines = "\n".join(report.flagged)
    assert "'status' alone predicts 'y' with AUROC 1.0000 on val (bound AUROC 0.9800)" in lines
    assert "whether 'score' is missing alone predicts 'y' with AUROC 1.0000" in lines


def test_a_feature_far_above_the_rest_is_named_and_bounds_are_params():
    table, data = frame("binary")
    table["strong"] = np.where(table["y"] == "yes", 1.0, 0.0) + np.random.default_rng(3).normal(
        scale=0.45, size=N
    )  # power about 0.87 (AUROC 0.94): under max_power, 0.4 above a and b
    data = data.model_copy(update={"numeric": [*data.numeric, "strong"]})
    report = single_feature_check(*halves(table), data, SingleFeatureParams(max_lead=0.35))
    assert len(report.flagged) == 1 and "'strong' alone" in report.flagged[0]
    assert "far above every other feature" in report.flagged[0]
    relaxed = SingleFeatureParams(max_lead=0.9)
    assert single_feature_check(*halves(table), data, relaxed).flagged == []
