import numpy as np
import pandas as pd
import pytest

from trainflow.lifecycle.ab import ab_report, report_markdown


def feedback_frame(rights: dict[str, tuple[int, int]], shadow: bool = False) -> pd.DataFrame:
    """Joined feedback where version v got `right` of `n` answers right."""
    rows = []
    for version, (right, n) in rights.items():
        for i in range(n):
            label = ">50K" if i < right else "<=50K"
            rows.append({"id": f"{version}{i}", "version": version, "truth": ">50K", "time": "t1",
                         "answer": {"label": label}, "shadow_version": None,
                         "shadow_answer": None})  # fmt: skip
    return pd.DataFrame(rows)


def served_frame(latency: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"id": f"{v}{i}", "version": v, "latency_ms": ms, "time": "t1"}
            for v, values in latency.items() for i, ms in enumerate(values)]  # fmt: skip
    return pd.DataFrame(rows)


LATENCY = served_frame({"v1": list(np.arange(1, 101.0)), "v2": list(np.arange(2, 202.0, 2))})


@pytest.mark.parametrize(("rights", "advice"), [
    ({"v1": (300, 400), "v2": (370, 400)}, "promote"),
    ({"v1": (370, 400), "v2": (300, 400)}, "roll back"),
    ({"v1": (300, 400), "v2": (305, 400)}, "keep"),
    ({"v1": (30, 40), "v2": (40, 40)}, "keep"),  # clearly better, but under min_ab_rows
])  # fmt: skip
def test_canary_recommendation(data_params, rights, advice):
    report = ab_report(feedback_frame(rights), LATENCY, "v1", "v2", data_params, 0.05, 100)
    assert report.recommendation == advice, report.reason
    assert report.mode == "canary" and report.test.startswith("Fisher")
    champion, challenger = report.versions
    assert champion.metric == pytest.approx(rights["v1"][0] / rights["v1"][1])
    assert champion.ci_low < champion.metric < champion.ci_high
    assert (champion.latency_ms["p50"], challenger.latency_ms["p50"]) == (50.5, 101.0)
    assert f"**Recommendation: {advice}**" in report_markdown(report)


def test_shadow_uses_the_paired_test_on_the_same_records(data_params):
    # 200 records; the challenger right on 20 where the champion is wrong, never the reverse
    frame = feedback_frame({"v1": (150, 200)})
    frame["shadow_version"] = "v2"
    frame["shadow_answer"] = [{"label": ">50K" if i < 170 else "<=50K"} for i in range(200)]
    calls = served_frame({"v1": [10.0] * 200}).assign(shadow_version="v2", shadow_latency_ms=30.0)
    report = ab_report(frame, calls, "v1", "v2", data_params, 0.05, 100)
    assert report.mode == "shadow" and report.test == "McNemar exact (0 vs 20 discordant)"
    assert [v.latency_ms["p50"] for v in report.versions] == [10.0, 30.0]
    assert report.p_value == pytest.approx(2 * 0.5**20)
    assert report.recommendation == "promote"
    # the same 20 of 200 as two independent canary groups: Fisher does not find it at 0.01
    unpaired = ab_report(feedback_frame({"v1": (150, 200), "v2": (170, 200)}), LATENCY, "v1",
                         "v2", data_params, 0.01, 100)  # fmt: skip
    assert unpaired.recommendation == "keep" and unpaired.p_value > report.p_value


def test_canary_counts_only_answers_given_while_both_versions_served(data_params):
    before = feedback_frame({"v1": (100, 400)}).assign(time="t0", id=lambda f: "old" + f["id"])
    during = feedback_frame({"v1": (300, 400), "v2": (305, 400)})
    report = ab_report(pd.concat([before, during]), LATENCY, "v1", "v2", data_params, 0.05, 100)
    assert report.since == "t1" and report.versions[0].rows == 400
    assert report.recommendation == "keep"  # with the old, worse answers it would say promote
    old = served_frame({"v1": [500.0] * 50}).assign(time="t0")
    report = ab_report(during, pd.concat([old, LATENCY]), "v1", "v2", data_params, 0.05, 100)
    assert report.versions[0].latency_ms["p99"] < 500


def regression_data():
    from trainflow.params import DataParams

    return DataParams(target="body_mass_g", task="regression", numeric=["flipper_length_mm"],
                      categorical=["species"])  # fmt: skip


def regression_feedback(errors: dict[str, np.ndarray], shadow: np.ndarray | None = None):
    """Joined feedback of a regression: version v answered truth + errors[v][i]; in shadow
    mode the challenger's answers on the same records are truth + shadow[i]."""
    rows = []
    for version, errs in errors.items():
        for i, err in enumerate(errs):
            truth = 4000.0 + 10 * i
            rows.append({"id": f"{version}{i}", "version": version, "truth": truth,
                         "time": "t1", "answer": {"value": truth + float(err)},
                         "shadow_version": None if shadow is None else "v2",
                         "shadow_answer": None if shadow is None
                         else {"value": truth + float(shadow[i])}})  # fmt: skip
    return pd.DataFrame(rows)


def rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(errors**2)))


@pytest.mark.parametrize(("v1_scale", "v2_scale", "advice"), [
    (300.0, 200.0, "promote"),  # the challenger's errors are smaller: lower RMSE is better
    (200.0, 300.0, "roll back"),
    (250.0, 255.0, "keep"),
])  # fmt: skip
def test_regression_canary_compares_rmse_the_right_way_round(v1_scale, v2_scale, advice):
    rng = np.random.default_rng(7)
    errors = {"v1": rng.normal(0, v1_scale, 400), "v2": rng.normal(0, v2_scale, 400)}
    report = ab_report(regression_feedback(errors), LATENCY, "v1", "v2", regression_data(),
                       0.05, 100)  # fmt: skip
    assert report.metric == "rmse" and report.mode == "canary"
    assert report.test == "Welch t-test on squared errors"
    assert report.recommendation == advice, report.reason
    for result, errs in zip(report.versions, errors.values(), strict=True):
        assert result.metric == pytest.approx(rmse(errs), abs=1e-6)
        assert result.ci_low < result.metric < result.ci_high  # a bootstrap interval around it
        assert result.ci_high - result.ci_low < 0.25 * result.metric  # 400 rows: a tight one
    p_expected = stats_welch(errors["v1"] ** 2, errors["v2"] ** 2)
    assert report.p_value == pytest.approx(p_expected)
    assert (report.p_value < 0.05) == (advice != "keep")


def stats_welch(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import stats

    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_regression_shadow_pairs_the_same_records_and_finds_a_small_gain():
    """On the same 300 records the challenger's error is the champion's minus 10 g, every
    time: a paired t-test sees it at once; as two unpaired groups it is lost in the spread."""
    rng = np.random.default_rng(3)
    champion = rng.normal(0, 200, 300)
    challenger = champion - np.sign(champion) * 10
    frame = regression_feedback({"v1": champion}, shadow=challenger)
    calls = served_frame({"v1": [10.0] * 300}).assign(shadow_version="v2", shadow_latency_ms=20.0)
    report = ab_report(frame, calls, "v1", "v2", regression_data(), 0.05, 100)
    assert report.mode == "shadow" and report.test == "paired t-test on squared errors"
    assert report.recommendation == "promote" and report.p_value < 1e-6, report.reason
    assert [v.metric for v in report.versions] == [
        pytest.approx(rmse(champion), abs=1e-6),
        pytest.approx(rmse(challenger), abs=1e-6),
    ]
    unpaired = ab_report(regression_feedback({"v1": champion, "v2": challenger}), LATENCY,
                         "v1", "v2", regression_data(), 0.05, 100)  # fmt: skip
    assert unpaired.recommendation == "keep" and unpaired.p_value > 0.05
    assert "**Recommendation: promote**" in report_markdown(report)
