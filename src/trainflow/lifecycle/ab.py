"""The A/B report: the champion and the challenger compared on the feedback their answers got.

Canary traffic gives each version its own records: accuracy per version with Wilson intervals,
Fisher's exact test on the 2x2 table (right / wrong x version). Shadow traffic gives both
versions' answers on the same records: McNemar's exact test on the records where exactly one
was right (a binomial test on those pairs), which is far more sensitive on the same count.
Regression: RMSE per version with a bootstrap interval, Welch's t-test on squared errors
(canary) or a paired t-test (shadow). Latency percentiles per version come from every logged
call, with or without feedback. A canary is judged on the answers given while both versions
served (from the challenger's first answer on), so a champion's earlier answers, to other
traffic, do not weigh in. The recommendation: promote (the challenger is significantly
better), roll back (significantly worse), keep (no significant difference yet, or too few rows).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from trainflow.lifecycle.feedback import correct, metric_name
from trainflow.params import DataParams


@dataclass
class VersionResult:
    version: str
    role: str  # champion | challenger
    rows: int
    metric: float
    ci_low: float
    ci_high: float
    latency_ms: dict[str, float]


@dataclass
class ABReport:
    metric: str
    mode: str  # canary | shadow
    since: str | None  # canary: answers from the challenger's first one on
    versions: list[VersionResult]
    test: str
    p_value: float | None
    alpha: float
    recommendation: str  # promote | keep | roll back
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def _interval(values: np.ndarray, classification: bool) -> tuple[float, float, float]:
    if not len(values):
        return float("nan"), float("nan"), float("nan")
    if classification:
        k, n = int(values.sum()), len(values)
        ci = stats.binomtest(k, n).proportion_ci(method="wilson")
        return k / n, float(ci.low), float(ci.high)
    rmse = lambda v, axis=-1: np.sqrt(np.mean(v, axis=axis))  # noqa: E731
    if len(values) < 2:
        return float(rmse(values)), float("nan"), float("nan")
    boot = stats.bootstrap((values,), rmse, n_resamples=2000, random_state=0)
    return float(rmse(values)), float(boot.confidence_interval.low), \
        float(boot.confidence_interval.high)  # fmt: skip


def _latency(values: pd.Series) -> dict[str, float]:
    clean = pd.to_numeric(values, errors="coerce").dropna().to_numpy()
    if not len(clean):
        return {}
    p50, p95, p99 = np.percentile(clean, [50, 95, 99])
    return {"calls": len(clean), "p50": round(float(p50), 3), "p95": round(float(p95), 3),
            "p99": round(float(p99), 3)}  # fmt: skip


def ab_report(
    feedback: pd.DataFrame, served: pd.DataFrame, champion: str, challenger: str,
    data: DataParams, alpha: float, min_rows: int,
) -> ABReport:  # fmt: skip
    """Compare `challenger` with `champion` on the joined feedback (lifecycle/feedback.joined)
    and every served call (`served`, for latency)."""
    classification = data.is_classification
    since = None
    shadow = feedback[(feedback["version"] == champion)
                      & (feedback["shadow_version"] == challenger)]  # fmt: skip
    mode = "shadow" if len(shadow) else "canary"
    if mode == "shadow":
        mine = correct(shadow["answer"], shadow["truth"], data)
        theirs = correct(shadow["shadow_answer"], shadow["truth"], data)
        shadowed = served.get("shadow_version", pd.Series(dtype=object)) == challenger
        latency_of = {champion: served.loc[served["version"] == champion, "latency_ms"],
                      challenger: served.loc[shadowed, "shadow_latency_ms"]}  # fmt: skip
    else:  # only while both served: from the challenger's first answer on
        since = served.loc[served["version"] == challenger, "time"].min()
        if isinstance(since, str):
            feedback = feedback[feedback["time"] >= since]
            served = served[served["time"] >= since]
        parts = {v: feedback[feedback["version"] == v] for v in (champion, challenger)}
        mine = correct(parts[champion]["answer"], parts[champion]["truth"], data)
        theirs = correct(parts[challenger]["answer"], parts[challenger]["truth"], data)
        latency_of = {v: served.loc[served["version"] == v, "latency_ms"]
                      for v in (champion, challenger)}  # fmt: skip
    results = []
    for version, role, values in ((champion, "champion", mine),
                                  (challenger, "challenger", theirs)):  # fmt: skip
        metric, low, high = _interval(values, classification)
        results.append(VersionResult(version, role, len(values), round(metric, 6),
                                     round(low, 6), round(high, 6),
                                     _latency(latency_of[version])))  # fmt: skip
    test, p_value = _significance(mine, theirs, mode, classification)
    recommendation, reason = _recommend(results, p_value, alpha, min_rows, classification)
    return ABReport(metric_name(data), mode, since if isinstance(since, str) else None, results,
                    test, p_value, alpha, recommendation, reason)  # fmt: skip


def _significance(mine: np.ndarray, theirs: np.ndarray, mode: str,
                  classification: bool) -> tuple[str, float | None]:  # fmt: skip
    if not len(mine) or not len(theirs):
        return "none (a version has no feedback)", None
    if classification and mode == "shadow":
        only_mine = int(((mine == 1) & (theirs == 0)).sum())
        only_theirs = int(((mine == 0) & (theirs == 1)).sum())
        if only_mine + only_theirs == 0:
            return "McNemar exact (no discordant pairs)", 1.0
        p = stats.binomtest(only_theirs, only_mine + only_theirs, 0.5).pvalue
        return f"McNemar exact ({only_mine} vs {only_theirs} discordant)", float(p)
    if classification:
        table = [[int(mine.sum()), int(len(mine) - mine.sum())],
                 [int(theirs.sum()), int(len(theirs) - theirs.sum())]]  # fmt: skip
        return "Fisher exact (right/wrong x version)", float(stats.fisher_exact(table).pvalue)
    if mode == "shadow":
        return "paired t-test on squared errors", float(stats.ttest_rel(mine, theirs).pvalue)
    return "Welch t-test on squared errors", float(
        stats.ttest_ind(mine, theirs, equal_var=False).pvalue)  # fmt: skip


def _recommend(results: list[VersionResult], p_value: float | None, alpha: float,
               min_rows: int, classification: bool) -> tuple[str, str]:  # fmt: skip
    champion, challenger = results
    few = [r.version for r in results if r.rows < min_rows]
    if few:
        return "keep", (f"too little feedback: {few} below lifecycle.min_ab_rows={min_rows}; "
                        "keep collecting")  # fmt: skip
    better = challenger.metric > champion.metric if classification \
        else challenger.metric < champion.metric  # fmt: skip
    gap = f"{challenger.metric:.4f} vs {champion.metric:.4f}, p={p_value:.3g}"
    if p_value is None or p_value >= alpha:
        return "keep", f"no significant difference at alpha={alpha} ({gap})"
    if better:
        return "promote", f"the challenger is significantly better ({gap})"
    return "roll back", f"the challenger is significantly worse ({gap})"


def report_markdown(report: ABReport) -> str:
    window = f", answers since {report.since}" if report.since else ""
    lines = [
        f"# A/B report ({report.mode}{window})", "",
        f"| version | role | rows with feedback | {report.metric} | 95% interval | "
        "p50 ms | p95 ms | p99 ms |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]  # fmt: skip
    for r in report.versions:
        lat = r.latency_ms
        lines.append(f"| {r.version} | {r.role} | {r.rows} | {r.metric:.4f} | "
                     f"[{r.ci_low:.4f}, {r.ci_high:.4f}] | {lat.get('p50', '-')} | "
                     f"{lat.get('p95', '-')} | {lat.get('p99', '-')} |")  # fmt: skip
    p = "-" if report.p_value is None else f"{report.p_value:.3g}"
    lines += ["", f"Test: {report.test}, p = {p} (alpha {report.alpha}).", "",
              f"**Recommendation: {report.recommendation}**: {report.reason}.", ""]  # fmt: skip
    return "\n".join(lines)
