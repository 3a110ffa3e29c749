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
