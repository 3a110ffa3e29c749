from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, messy_frame
from trainflow.data.contract import (
    contract_view,
    load_suite,
    prepared_suite,
    run_suite,
    severity_of,
    starter_suite,
)
from trainflow.data.profile import profile_markdown, profile_table
from trainflow.data.sources import read_adult_wheel
from trainflow.errors import StageError


@pytest.fixture(scope="module")
def adult_raw(adult_wheel):
    return read_adult_wheel(adult_wheel)


def test_committed_suite_passes_on_real_adult(adult_raw, params):
    suite = load_suite(ROOT / params.validate_.suite)
    report = run_suite(contract_view(adult_raw), suite)
    assert report.success, report.failure_lines()
    assert report.evaluated == len(suite["expectations"]) >= 50


def test_committed_suite_catches_broken_data(adult_raw, params):
    bad = adult_raw.copy()
    bad.loc[:4, "age"] = -3
    bad.loc[10, "workclass"] = " Robot"
    bad.loc[11, "income"] = " maybe"
    report = run_suite(contract_view(bad), load_suite(ROOT / params.validate_.suite))
    assert not report.success and report.failed == 3
    lines = "\n".join(report.failure_lines())
    assert "expect_column_values_to_be_between on column 'age', 5 unexpected" in lines
    assert "['Robot']" in lines and "['maybe']" in lines
    by_column = {o.column: o for o in report.outcomes if not o.success}
    assert by_column["age"].examples == [-3] * 5


def test_missing_column_and_docs(tmp_path, data_params):
    frame = messy_frame(1500)
    suite = starter_suite(frame, data_params, "t")
    report = run_suite(contract_view(frame.drop(columns="sex")), suite, tmp_path / "docs")
    assert not report.success
    assert any("expect_table_columns_to_match_set" in line for line in report.failure_lines())
    assert (tmp_path / "docs/index.html").exists()


def test_same_table_and_suite_give_the_same_docs_bytes(tmp_path, data_params):
    """GX stamps times and random ids into Data Docs; run_suite fixes both (verify needs it)."""
    frame = messy_frame(300)
    suite = starter_suite(frame, data_params, "t")
    pages = []
    for name in ("a", "b"):
        run_suite(contract_view(frame.drop(columns="sex")), suite, tmp_path / name)
        pages.append({p.relative_to(tmp_path / name): p.read_bytes()
                      for p in sorted((tmp_path / name).rglob("*")) if p.is_file()})  # fmt: skip
    assert pages[0] == pages[1] and len(pages[0]) >= 3
    validation = next(p for p in pages[0] if "validations" in p.parts)
    assert "19800101T000000.000000Z" in str(validation) and b"block-0001" in pages[0][validation]


def test_zero_expectations_is_a_failure(data_params):
    report = run_suite(messy_frame(5), {"name": "empty", "expectations": []})
    assert report.evaluated == 0 and not report.success
    assert report.failure_lines() == ["suite 'empty' evaluated zero expectations"]


def test_load_suite_errors(tmp_path):
    with pytest.raises(StageError, match="not found"):
        load_suite(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(StageError, match="not valid JSON"):
        load_suite(tmp_path / "bad.json")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(StageError, match="not an expectation suite"):
        load_suite(Path(tmp_path / "x.json"))


def test_warning_severity_is_counted_but_does_not_fail(data_params):
    frame = messy_frame(1500)
    suite = starter_suite(frame, data_params, "t")
    suite["expectations"].append({
        "type": "expect_column_max_to_be_between", "severity": "warning",
        "kwargs": {"column": "age", "min_value": 0, "max_value": 30},
    })  # fmt: skip
    report = run_suite(contract_view(frame), suite)
    assert report.success and len(report.warnings) == 1 and not report.errors
    expected = {"warnings": 1, "errors": 0, "success": True}
    assert expected.items() <= report.summary()["raw_contract"].items()
    assert "expect_column_max_to_be_between on column 'age'" in report.warning_lines()[0]
    suite["expectations"][-1]["severity"] = "critical"
    assert not run_suite(contract_view(frame), suite).success


def test_severity_mapping():
    assert severity_of("critical") == "error" and severity_of(None) == "error"
    assert severity_of("warning") == "warning" and severity_of("FailureSeverity.INFO") == "warning"


def test_prepared_contract_catches_what_training_relies_on(data_params):
    from trainflow.data.clean import RECORD_HASH_COLUMN, clean_table

    clean, _ = clean_table(messy_frame(300), data_params, [], "t")
    suite = prepared_suite(data_params)
    assert run_suite(clean, suite).success
    broken = clean.copy()
    broken.loc[0, "income"] = None
    broken = pd.concat([broken, broken.iloc[[1]]], ignore_index=True)
    broken["age"] = broken["age"].astype("int64", errors="ignore").fillna(0).astype("int64")
    report = run_suite(broken, suite)
    failed = {(o.expectation, o.column) for o in report.errors}
    assert ("expect_column_values_to_not_be_null", "income") in failed
    assert ("expect_column_values_to_be_of_type", "age") in failed
    assert ("expect_column_values_to_be_unique", RECORD_HASH_COLUMN) in failed


def test_profile(data_params):
    frame = pd.DataFrame({"n": [1.0, 3.0, None], "c": ["a", "a", None]})
    prof = profile_table(frame)
    assert prof["rows"] == 3
    expected = {"min": 1.0, "max": 3.0, "mean": 2.0, "distinct": 2}
    assert expected.items() <= prof["columns"]["n"].items()
    assert prof["columns"]["c"]["top"] == {"a": 2}
    assert prof["columns"]["c"]["missing_pct"] == pytest.approx(33.333, abs=0.01)
    md = profile_markdown(prof, "Profile of t")
    assert "| n | float64 | 33.333 | 2 | 1 … 3 (mean 2) |" in md
