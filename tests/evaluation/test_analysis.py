import numpy as np
import pandas as pd
import pytest

from trainflow.evaluation.analysis import (
    MISSING,
    confident_errors,
    fairness_gaps,
    permutation_importance_rows,
    report_markdown,
    slice_labels,
    slice_table,
    task_loss,
    worst_slices,
)


def test_slice_labels_values_bands_and_missing():
    assert slice_labels(pd.Series(["a", None, "b"])).tolist() == ["a", MISSING, "b"]
    ages = pd.Series([18.0, 25.0, 40.0, np.nan, 70.0])
    assert slice_labels(ages, [25, 65]).tolist() == ["< 25", "[25, 65)", "[25, 65)", MISSING,
                                                     ">= 65"]  # fmt: skip


def test_text_slices_are_length_bands_in_words():
    texts = pd.Series(["Fine.", "A moving film with a great cast", None, " ".join(["w"] * 50)])
    assert slice_labels(texts, text=True).tolist() == [
        "< 5 words", "[5, 10) words", MISSING, ">= 40 words"]  # fmt: skip
    assert slice_labels(texts, [3], text=True).tolist()[:2] == ["< 3 words", ">= 3 words"]


def test_slice_table_ranks_only_big_enough_slices():
    scores = np.array([0.9, 0.8, 0.2, 0.1, 0.9, 0.6])
    truth = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    groups = pd.Series(["x", "x", "x", "x", "y", "y"])
    table = slice_table("binary", scores, truth, {"g": groups}, ["n", "p"], min_rows=3)
    assert table["g"]["x"]["rows"] == 4 and table["g"]["x"]["accuracy"] == pytest.approx(0.75)
    assert table["g"]["y"] == {"rows": 2}  # too small to rank
    assert worst_slices("binary", table) == [{"slice": "g=x", "rows": 4, "accuracy": 0.75}]


def test_regression_slices_rank_by_rmse_descending():
    truth = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    scores = truth + np.array([0, 0, 0, 5, -5, 5])
    groups = pd.Series(["small"] * 3 + ["big"] * 3)
    table = slice_table("regression", scores, truth, {"g": groups}, [], min_rows=3)
    worst = worst_slices("regression", table)
    assert [w["slice"] for w in worst] == ["g=big", "g=small"] and worst[0]["rmse"] == 5.0


def test_fairness_gaps_on_known_rates():
    scores = np.array([0.9, 0.2, 0.7, 0.1, 0.8, 0.3])
    truth = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    groups = pd.Series(["a", "a", "a", "b", "b", "b"])
    gaps = fairness_gaps(scores, truth, groups, min_rows=1)
    # selection rates: a 2/3, b 1/3; true-positive rates: a 2/2, b 0/1
    assert gaps["demographic_parity_difference"] == pytest.approx(1 / 3, abs=1e-5)
    assert gaps["equal_opportunity_difference"] == pytest.approx(1.0)
    assert gaps["groups_compared"] == 2
    few = fairness_gaps(scores, truth, groups, min_rows=2)  # b has one positive: no TPR
    assert set(few["true_positive_rate"]) == {"a"} and few["equal_opportunity_difference"] == 0


def test_confident_errors_pick_the_surest_mistakes():
    records = pd.DataFrame({"f": [1, 2, 3, 4]})
    scores = np.array([0.99, 0.6, 0.1, 0.02])
    truth = np.array([0.0, 0.0, 1.0, 0.0])
    errors = confident_errors("binary", scores, truth, records, ["no", "yes"], k=5)
    assert errors["f"].tolist() == [1, 3, 2]  # wrong with confidence .99, .9, .6
    assert errors.loc[0, "actual"] == "no" and errors.loc[0, "predicted"] == "yes"
    reg = confident_errors("regression", np.array([1.0, 5.0]), np.array([1.5, 1.0]),
                           records.iloc[:2], [], k=1)  # fmt: skip
    assert reg["f"].tolist() == [2] and reg.loc[0, "abs_error"] == 4.0


def test_permutation_importance_finds_the_signal():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"signal": rng.normal(size=500), "noise": rng.normal(size=500)})
    truth = 3 * x["signal"].to_numpy()
    rows = permutation_importance_rows(
        lambda f: 3 * f["signal"].to_numpy(), x, truth, task_loss("regression"), 3, seed=0
    )
    assert [r["feature"] for r in rows] == ["signal", "noise"]
    assert rows[0]["importance"] > 10 and rows[1]["importance"] == 0.0


def test_task_loss_is_log_loss_for_classes():
    loss = task_loss("binary")
    assert loss(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == pytest.approx(np.log(2))
    multi = task_loss("multiclass")
    assert multi(np.array([[0.25, 0.75]]), np.array([1])) == pytest.approx(-np.log(0.75))


def test_report_markdown_has_every_part():
    checks = [{"criterion": "accuracy >= 0.8", "value": 0.9, "limit": 0.8, "met": True}]
    md = report_markdown("binary", [{"slice": "g=x", "rows": 4, "accuracy": 0.75}], {},
                         pd.DataFrame({"f": [1], "actual": ["no"]}),
                         [{"feature": "f", "importance": 0.1, "std": 0.0}], checks)  # fmt: skip
    for part in ("Success criteria", "| accuracy >= 0.8 |", "| g=x | 4 | 0.75 |",
                 "Most confidently wrong rows (1)", "Permutation importance"):  # fmt: skip
        assert part in md
