"""The quality gate: the KPIs declared in params.gate, checked against the test metrics."""

from __future__ import annotations

from trainflow.errors import StageError
from trainflow.evaluation.metrics import LOWER_IS_BETTER
from trainflow.params import GateParams


def _metric(section: dict, name: str, key: str, task: str) -> float:
    value = section.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        have = sorted(k for k, v in section.items() if isinstance(v, int | float))
        raise StageError(f"{key}: {name!r} is not a metric of a {task} task; have {have}")
    return float(value)


def check_gate(gate: GateParams, results: dict, task: str) -> list[dict]:
    """One row per criterion: what, the measured value, the limit, met or not.

    `results` is metrics/eval.json's content (model, baseline, task). An unknown metric name is
    an error naming the params key.
    """
    model, baseline = results["model"], results["baseline"]
    checks: list[dict] = []

    def add(what: str, value: float, limit: float, met: bool) -> None:
        checks.append({"criterion": what, "value": round(value, 6), "limit": limit, "met": met})

    for name, limit in gate.min.items():
        value = _metric(model, name, f"gate.min.{name}", task)
        add(f"{name} >= {limit:g}", value, limit, value >= limit)
    for name, limit in gate.max.items():
        value = _metric(model, name, f"gate.max.{name}", task)
        add(f"{name} <= {limit:g}", value, limit, value <= limit)
    for name, limit in gate.max_below_baseline.items():
        key = f"gate.max_below_baseline.{name}"
        ours, theirs = _metric(model, name, key, task), _metric(baseline, name, key, task)
        shortfall = ours - theirs if name in LOWER_IS_BETTER else theirs - ours
        add(f"{name} no worse than baseline by > {limit:g}", shortfall, limit, shortfall <= limit)
    for column, gaps in model.get("fairness", {}).items():
        for name, limit in gate.max_fairness_gap.items():
            value = float(gaps[name])
            add(f"{name} over {column} <= {limit:g}", value, limit, value <= limit)
    return checks


def gate_summary(checks: list[dict]) -> dict:
    """What dvc exp show shows: passed (no criteria counts as passed), failed, checked."""
    failed = [c for c in checks if not c["met"]]
    return {"passed": not failed, "failed": len(failed), "checked": len(checks)}


def failures(checks: list[dict]) -> str:
    """The unmet criteria in one line."""
    return "; ".join(f"{c['criterion']} (measured {c['value']:g})" for c in checks if not c["met"])
