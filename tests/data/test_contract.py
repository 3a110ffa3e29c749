from pathlib import Path

import pytest

from tests.conftest import ROOT, messy_frame
from trainflow.data.contract import contract_view, load_suite, run_suite, starter_suite
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
