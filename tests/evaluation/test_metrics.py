from itertools import pairwise

import numpy as np
import pytest
import torch

from trainflow.evaluation.metrics import (
    binary_metrics,
    confusion_rows,
    curve_tables,
    difference,
    multiclass_metrics,
    regression_metrics,
    reliability_rows,
    residual_rows,
)
from trainflow.evaluation.speed import batch_throughput, latency_percentiles
from trainflow.serving.predictor import predicted_classes


def test_metrics_on_known_predictions():
    """Worked by hand: precision, recall and F1 all differ, so a swapped key fails."""
    probs = torch.tensor([0.9, 0.8, 0.3, 0.2, 0.6, 0.7, 0.1])
    target = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    m = binary_metrics(probs, target)
    assert m["confusion"] == {"tn": 2, "fp": 2, "fn": 1, "tp": 2}
    assert m["accuracy"] == pytest.approx(4 / 7, abs=1e-6)
    assert m["error_rate"] == pytest.approx(3 / 7, abs=1e-6)
    assert m["precision"] == pytest.approx(2 / 4, abs=1e-6)
    assert m["recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["f1"] == pytest.approx(4 / 7, abs=1e-6)  # 2PR / (P + R)
    assert m["auroc"] == pytest.approx(10 / 12, abs=1e-6)  # positive above negative pairs
    # precision at each positive, weighted by the recall it adds: 1/3 + 1/3 + (3/5)(1/3)
    assert m["average_precision"] == pytest.approx(13 / 15, abs=1e-6)
    # every score in a bin of its own (15 bins): mean |outcome - probability|
    assert m["calibration_error"] == pytest.approx(2.6 / 7, abs=1e-6)
    nll = -np.log([0.9, 0.8, 0.3, 0.8, 0.4, 0.3, 0.9]).mean()
    assert m["log_loss"] == pytest.approx(nll, abs=1e-5)


def test_perfect_classifier():
    m = binary_metrics(torch.tensor([0.99, 0.01]), torch.tensor([1.0, 0.0]))
    assert m["accuracy"] == 1.0 and m["auroc"] == 1.0 and m["f1"] == 1.0


def test_curves_and_confusion_rows():
    probs = torch.linspace(0, 1, 50)
    target = (probs > 0.5).float()
    tables = curve_tables(probs, target, points=20)
    roc = tables["roc"]
    assert roc[-1] == {"fpr": 1.0, "tpr": 1.0} and len(roc) <= 20
    for a, b in pairwise(roc):  # a perfect ranking: up the left, then across
        assert a["fpr"] <= b["fpr"] and a["tpr"] <= b["tpr"]
    assert all(r["fpr"] == 0.0 for r in roc if r["tpr"] < 1.0)
    assert all(r["tpr"] == 1.0 for r in roc if r["fpr"] > 0.0)
    worked = curve_tables(torch.tensor([0.9, 0.8, 0.3, 0.2, 0.6, 0.7, 0.1]),
                          torch.tensor([1.0, 1, 1, 0, 0, 0, 0]), points=20)["roc"]  # fmt: skip
    assert [(r["fpr"], r["tpr"]) for r in worked] == [
        (0.0, 0.0), (0.0, 0.333333), (0.0, 0.666667), (0.25, 0.666667), (0.5, 0.666667),
        (0.5, 1.0), (0.75, 1.0), (1.0, 1.0),
    ]  # fmt: skip
    predicted = predicted_classes("binary", np.array([0.7, 0.2]))
    rows = confusion_rows(predicted, torch.tensor([0, 0]).numpy(), ["no", "yes"])
    assert rows == [{"actual": "no", "predicted": "yes"}, {"actual": "no", "predicted": "no"}]


def test_multiclass_metrics_on_known_predictions():
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    target = torch.tensor([0, 1, 2, 1])
    m = multiclass_metrics(probs, target, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(0.75) and m["error_rate"] == pytest.approx(0.25)
    assert m["confusion"] == {"a": {"a": 1, "b": 0, "c": 0}, "b": {"a": 1, "b": 1, "c": 0},
                              "c": {"a": 0, "b": 0, "c": 1}}  # fmt: skip
    assert m["f1_per_class"] == {"a": pytest.approx(2 / 3), "b": pytest.approx(2 / 3), "c": 1.0}
    expected_log_loss = -((0.8 * 0.7 * 0.6 * 0.4) ** 0.25)
    assert m["log_loss"] == pytest.approx(-torch.tensor(-expected_log_loss).log().item(), 1e-5)
    assert predicted_classes("multiclass", probs.numpy()).tolist() == [0, 1, 2, 0]


def test_regression_metrics_on_known_predictions():
    pred, target = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 2.0, 4.0, 3.0])
    m = regression_metrics(pred, target)
    assert m["mse"] == pytest.approx(0.5) and m["rmse"] == pytest.approx(0.5**0.5)
    assert m["mae"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(1 - 2 / 5)  # SS_res 2, SS_tot 5
    rows = residual_rows(pred, target, seed=0)
    assert [r["residual"] for r in rows] == [0.0, 0.0, 1.0, -1.0]
    assert difference("regression", m, {**m, "rmse": 2.0})["rmse"] == pytest.approx(
        0.5**0.5 - 2.0, abs=1e-6
    )


def test_reliability_bins_count_every_row():
    probs = torch.tensor([[0.95, 0.05], [0.91, 0.09], [0.4, 0.6], [0.3, 0.7]])
    rows = reliability_rows(probs, torch.tensor([0, 1, 1, 0]), bins=10)
    assert sum(r["rows"] for r in rows) == 4
    assert rows[-1] == {"confidence": 0.93, "accuracy": 0.5, "rows": 2}


def test_curves_drop_undefined_precision_and_are_stable():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])  # no score reaches the top thresholds
    target = torch.tensor([0.0, 1.0, 0.0, 1.0])
    a = curve_tables(probs, target, points=20)
    b = curve_tables(probs.flip(0), target.flip(0), points=20)
    assert a == b
    assert all(row["precision"] == row["precision"] for row in a["precision_recall"])  # no NaN


class FakeClock:
    """time.perf_counter for the speed helpers: each call to `work` advances it exactly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def work(self, seconds: float):
        def run(*_):
            self.now += seconds

        return run


def test_speed_helpers(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr("trainflow.evaluation.speed.time.perf_counter", clock)
    assert batch_throughput(clock.work(0.01), rows=100) == pytest.approx(10_000)
    steps = iter([0.004] + [0.002] * 9 + [0.010])  # warm-up, then 10 timed calls

    def varied(_):
        clock.now += next(steps)

    lat = latency_percentiles(varied, 10)
    assert lat["p50_ms"] == pytest.approx(2.0) and lat["p95_ms"] == pytest.approx(6.4)
