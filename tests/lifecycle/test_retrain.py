import pandas as pd

from tests.conftest import messy_frame
from trainflow.data.clean import clean_table
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.lifecycle.retrain import check_trigger, judge
from trainflow.serving.drift import reference_profile
from trainflow.serving.records import json_records


def joined_frame(frame: pd.DataFrame, data, right: int, version: str = "v1") -> pd.DataFrame:
    records = json_records(frame, data)
    truths = [">50K"] * len(records)
    answers = [{"label": ">50K" if i < right else "<=50K"} for i in range(len(records))]
    return pd.DataFrame({"id": [f"{i:032x}" for i in range(len(records))], "version": version,
                         "record": records, "answer": answers, "truth": truths})  # fmt: skip


def test_trigger_needs_enough_rows_and_a_drop_or_drift(params, data_params):
    clean, _ = clean_table(messy_frame(300), data_params, [SOURCE_FILE_COLUMN], "t")
    profile = reference_profile(clean, data_params)
    same = clean.iloc[:250]
    good = joined_frame(same, data_params, right=215)  # 0.86 live vs 0.87 on test
    fired = check_trigger(params, good, good, profile, 0.87, "v1")
    assert not fired.fired and fired.facts["live_accuracy"] == 0.86
    worse = joined_frame(same, data_params, right=150)  # 0.60: a drop of 0.27
    fired = check_trigger(params, worse, worse, profile, 0.87, "v1")
    assert fired.fired and "worse by 0.2700 > max_metric_drop 0.03" in fired.reasons[0]
    few = worse.iloc[:50]
    fired = check_trigger(params, few, few, profile, 0.87, "v1")
    assert (
        not fired.fired and "only 50 labelled rows (< min_feedback_rows 200)" in fired.reasons[0]
    )
    old = same.assign(age=same["age"] + 40)  # everyone 40 years older: drift, not a drop
    drifted = joined_frame(old, data_params, right=215)
    fired = check_trigger(params, drifted, drifted, profile, 0.87, "v1")
    assert fired.fired and fired.reasons[0].startswith("served records drifted: age PSI")


def test_judge_wins_only_with_a_holdout_gain_and_no_test_loss(params, data_params, predictor):
    clean, _ = clean_table(messy_frame(200), data_params, [SOURCE_FILE_COLUMN], "t")
    holdout = pd.DataFrame(json_records(clean, data_params)).assign(income=clean["income"])
    same = judge(predictor, predictor, holdout, clean, params)
    assert same["gain"] == 0 and not same["wins"]  # a tie is not a win
    assert same["scores"]["test"]["rows"] == 200 and "needs >= 0.0 and > 0" in same["why"]

    class Flipped:  # a production model that answers the opposite
        task = predictor.task

        def predict_clean(self, frame):
            return 1 - predictor.predict_clean(frame)

    flipped = Flipped()
    better, worse = (judge(predictor, flipped, holdout, clean, params),
                     judge(flipped, predictor, holdout, clean, params))  # fmt: skip
    assert better["gain"] == -worse["gain"] != 0
    assert [better["wins"], worse["wins"]] == (
        [True, False] if better["gain"] > 0 else [False, True]
    )


def scripted(task, truths: dict[int, pd.Series], wrong: dict[int, int]):
    """A model that knows the answers of two frames (told apart by their lengths) and gets
    the first `wrong[n]` rows of the frame of length n wrong: a candidate or production
    model of exactly known accuracy on the holdout and on the test split."""

    class Scripted:
        def __init__(self) -> None:
            self.task = task

        def predict_clean(self, frame: pd.DataFrame):
            import numpy as np

            truth = truths[len(frame)].to_numpy(dtype=object)
            p = np.where(truth == ">50K", 0.9, 0.1)
            k = wrong[len(frame)]
            p[:k] = 1 - p[:k]
            return p

    return Scripted()


def test_judge_vetoes_a_holdout_gain_bought_with_a_test_loss_and_needs_min_gain(
    params, data_params, predictor
):
    """A candidate better on the feedback holdout but worse on the test split is refused
    (test-loss veto); a gain below `min_gain` is refused; a candidate better on the holdout
    that loses nothing on test wins."""
    holdout_clean, _ = clean_table(messy_frame(120, seed=3), data_params, [SOURCE_FILE_COLUMN],
                                   "t")  # fmt: skip
    test, _ = clean_table(messy_frame(200, seed=4), data_params, [SOURCE_FILE_COLUMN], "t")
    holdout = pd.DataFrame(json_records(holdout_clean, data_params)).assign(
        income=holdout_clean["income"].to_numpy()
    )
    truths = {120: holdout_clean["income"], 200: test["income"]}
    rule = params.lifecycle.promote.model_copy(update={"min_gain": 0.05, "max_test_loss": 0.01})
    strict = params.model_copy(update={"lifecycle": params.lifecycle.model_copy(
        update={"promote": rule})})  # fmt: skip

    def verdict(candidate_wrong: tuple[int, int], production_wrong: tuple[int, int]) -> dict:
        """Each model's wrong rows as (on the holdout, on test)."""
        candidate, production = (
            scripted(predictor.task, truths, {120: wrong[0], 200: wrong[1]})
            for wrong in (candidate_wrong, production_wrong)
        )
        return judge(candidate, production, holdout, test, strict)

    vetoed = verdict((0, 40), (30, 0))  # +0.25 on the holdout, -0.20 on test
    assert vetoed["gain"] == 0.25 and vetoed["test_loss"] == 0.2 and not vetoed["wins"]
    assert "(loss +0.2000, allowed <= 0.01)" in vetoed["why"]
    small = verdict((0, 0), (3, 0))  # +0.025 on the holdout: real, but under min_gain 0.05
    assert small["gain"] == 0.025 and small["test_loss"] == 0 and not small["wins"]
    better = verdict((0, 1), (30, 0))  # +0.25 on the holdout, -0.005 on test (allowed)
    assert better["gain"] == 0.25 and better["test_loss"] == 0.005 and better["wins"]
    assert better["scores"] == {
        "feedback_holdout": {"rows": 120, "candidate": 1.0, "production": 0.75},
        "test": {"rows": 200, "candidate": 0.995, "production": 1.0},
    }
