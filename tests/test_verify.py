"""trainflow verify's comparisons (the real rerun in a fresh clone: tests/pipeline)."""

from __future__ import annotations

from trainflow.verify import compare_metrics, compare_outputs, environment_drift, render


def lock(outs: dict[str, str]) -> dict:
    return {"stages": {"s": {"outs": [{"path": p, "md5": m} for p, m in outs.items()]}}}


def test_outputs_are_identical_different_missing_or_tolerated():
    rows = compare_outputs(
        lock({"models/train": "aa", "metrics/speed.json": "11", "reports/eval": "cc"}),
        lock({"models/train": "aa", "metrics/speed.json": "22", "data/new": "dd"}),
    )
    status = {r.path: r.status for r in rows}
    assert status == {"models/train": "identical", "metrics/speed.json": "tolerated",
                      "reports/eval": "missing", "data/new": "missing"}  # fmt: skip
    table = render(rows, [])
    assert "1 of 3 outputs identical" in table and "timings" in table


def test_metric_values_compared_exactly_except_timings():
    before = {"metrics/eval.json": {"model": {"accuracy": 0.85, "auroc": 0.9}},
              "metrics/speed.json": {"speed": {"p50": 1.0}}}  # fmt: skip
    after = {"metrics/eval.json": {"model": {"accuracy": 0.85, "auroc": 0.9000001}},
             "metrics/speed.json": {"speed": {"p50": 2.0}}}  # fmt: skip
    assert compare_metrics(before, after) == ["metrics/eval.json: model.auroc 0.9 -> 0.9000001"]


def test_environment_drift_names_the_package():
    assert environment_drift("# comment\ntorch==2.13.0\npytest==8.0.0.0.1\n") == [
        f"pytest: locked 8.0.0.0.1, installed {__import__('pytest').__version__}"
    ]
    assert environment_drift("no-such-package-xyz==1.0\n") == [
        "no-such-package-xyz: locked 1.0, not installed"
    ]
