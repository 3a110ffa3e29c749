import pytest

from trainflow.errors import StageError
from trainflow.evaluation.gate import check_gate, failures, gate_summary
from trainflow.params import GateParams

RESULTS = {
    "model": {"accuracy": 0.85, "calibration_error": 0.03, "log_loss": 0.40,
              "fairness": {"sex": {"demographic_parity_difference": 0.19,
                                   "equal_opportunity_difference": 0.10}}},
    "baseline": {"accuracy": 0.86, "calibration_error": 0.02, "log_loss": 0.35},
}  # fmt: skip


def test_every_kind_of_criterion():
    gate = GateParams(
        min={"accuracy": 0.84}, max={"calibration_error": 0.05},
        max_below_baseline={"accuracy": 0.005, "log_loss": 0.1},
        max_fairness_gap={"demographic_parity_difference": 0.15},
    )  # fmt: skip
    checks = check_gate(gate, RESULTS, "binary")
    met = {c["criterion"]: c["met"] for c in checks}
    assert met == {
        "accuracy >= 0.84": True,
        "calibration_error <= 0.05": True,
        "accuracy no worse than baseline by > 0.005": False,  # 0.01 below
        "log_loss no worse than baseline by > 0.1": True,  # lower is better: 0.05 worse
        "demographic_parity_difference over sex <= 0.15": False,
    }
    assert gate_summary(checks) == {"passed": False, "failed": 2, "checked": 5}
    text = failures(checks)
    assert "accuracy no worse than baseline by > 0.005 (measured 0.01)" in text
    assert "demographic_parity_difference over sex <= 0.15 (measured 0.19)" in text


def test_no_criteria_pass():
    assert gate_summary(check_gate(GateParams(), RESULTS, "binary"))["passed"] is True


def test_unknown_metric_names_the_params_key():
    with pytest.raises(StageError, match=r"gate.min.rmse: 'rmse' is not a metric of a binary"):
        check_gate(GateParams(min={"rmse": 1.0}), RESULTS, "binary")
