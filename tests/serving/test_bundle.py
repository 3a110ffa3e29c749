import pytest

from tests.conftest import ROOT
from trainflow.errors import StageError
from trainflow.serving.bundle import content_version, serving_requirements
from trainflow.serving.card import model_card

LOCK = (
    "# pins\nbentoml==1.4.39\nnumpy==2.4.6\npandas==3.1.1\npydantic==2.14.3\n"
    "PyYAML==6.0.3\ntorch==2.13.0\nrich==15.0.0\n"
)


def test_serving_requirements_come_from_the_lock():
    reqs = serving_requirements(LOCK)
    assert reqs == ["bentoml==1.4.39", "numpy==2.4.6", "pandas==3.1.1", "pydantic==2.14.3",
                    "PyYAML==6.0.3", "torch==2.13.0"]  # fmt: skip
    with pytest.raises(StageError, match=r"no pinned version for \['torch'\]"):
        serving_requirements(LOCK.replace("torch==2.13.0", ""))


def test_repo_lock_pins_torch_exactly():
    reqs = serving_requirements((ROOT / "requirements.lock").read_text())
    assert "torch==2.13.0" in reqs


def test_content_version_follows_bytes(tmp_path):
    (tmp_path / "a").write_bytes(b"1")
    v1 = content_version(tmp_path, ("a",))
    assert v1 == content_version(tmp_path, ("a",)) and len(v1) == 16
    (tmp_path / "a").write_bytes(b"2")
    assert content_version(tmp_path, ("a",)) != v1


def test_model_card_reports_model_and_baseline(params):
    speed = {"batch_rows_per_s": 1000.0, "single_record_p50_ms": 1.0, "single_record_p95_ms": 2.0}
    scores = dict.fromkeys(("accuracy", "precision", "recall", "f1", "auroc",
                            "average_precision", "calibration_error"), 0.5)  # fmt: skip
    metrics = {
        "eval": {"model": {**scores, "accuracy": 0.85, "speed": speed},
                 "baseline": {**scores, "accuracy": 0.84, "speed": speed}},
        "split": {s: {"rows": 10, "positive_rate": 0.25} for s in ("train", "val", "test")},
        "data_quality": {"expectations_evaluated": 56, "errors": 0, "warnings": 1},
        "prepared_quality": {"expectations_evaluated": 20, "errors": 0},
        "prepare": {"duplicate_rows_removed": 52, "missing_markers_replaced": {"a": 3},
                    "labels_normalised": 7, "rows_out": 100},
        "ingest": {"source": {"kind": "adult_wheel", "uri": "pypi:x", "sha256": "ab" * 32},
                   "rows": 48842, "snapshot_sha256": "cd" * 32},
    }  # fmt: skip
    card = model_card(params, metrics)
    assert "| accuracy | 0.8500 | 0.8400 | +0.0100 |" in card
    assert "56 expectations, 0 errors,\n  1 warnings" in card and "CC BY 4.0" in card
    assert "20 expectations, 0 errors" in card
    assert "Not for decisions about individual people" in card
