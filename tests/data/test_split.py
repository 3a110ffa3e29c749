import numpy as np
import pandas as pd
import pytest

from tests.conftest import messy_frame
from trainflow.data.clean import clean_table
from trainflow.data.columnar import row_hashes
from trainflow.data.leakage import (
    check_leakage,
    enforce,
    manifest,
    select,
    without_shared_feature_rows,
)
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.data.split import (
    check_disjoint,
    split_positions,
    split_summary,
    split_table,
)
from trainflow.errors import StageError
from trainflow.params import SplitParams


def hashes_by_split(splits: dict[str, pd.DataFrame], columns: list[str]) -> dict[str, np.ndarray]:
    """Each split frame's row hashes: the leakage checks' input, for splits built by hand."""
    return {name: row_hashes(frame, columns) for name, frame in splits.items()}


@pytest.fixture
def clean(data_params):
    frame, _ = clean_table(messy_frame(200), data_params, [SOURCE_FILE_COLUMN], "t")
    return frame


def test_fixed_test_file_and_stratified_val(clean, data_params):
    params = SplitParams(test_source_file="adult.test", val_size=0.25)
    splits = split_table(clean, data_params, params, seed=0)
    assert (splits["test"][SOURCE_FILE_COLUMN] == "adult.test").all()
    assert (splits["train"][SOURCE_FILE_COLUMN] == "adult.data").all()
    assert sum(len(f) for f in splits.values()) == len(clean)
    rate = lambda f: (f["income"] == ">50K").mean()  # noqa: E731
    assert abs(rate(splits["train"]) - rate(splits["val"])) < 0.05
    check_disjoint(split_positions(clean, data_params, params, seed=0), len(clean))
    again = split_table(clean, data_params, params, seed=0)
    assert all(again[k].equals(splits[k]) for k in splits)
    other = split_table(clean, data_params, params, seed=1)
    assert not other["train"].equals(splits["train"])


def test_random_test_split(clean, data_params):
    splits = split_table(clean, data_params, SplitParams(test_size=0.2, val_size=0.2), seed=0)
    assert len(splits["test"]) == pytest.approx(0.2 * len(clean), abs=1)
    summary = split_summary(splits, data_params)
    assert summary["train"]["rows"] == len(splits["train"])
    assert sum(summary["test"]["class_counts"].values()) == len(splits["test"])


def test_hash_split_follows_each_record_not_the_rows_order(data_params):
    """strategy hash: a record's split depends on the record and the seed only (shuffled and
    chunked tables split it alike, as Spark partitions would); sizes met in expectation."""
    clean, _ = clean_table(messy_frame(4000), data_params, [SOURCE_FILE_COLUMN], "t")
    params = SplitParams(strategy="hash", test_size=0.2, val_size=0.25)
    record = lambda frame: frame.apply(tuple, axis=1)  # noqa: E731
    where = lambda frame, seed: {  # noqa: E731
        r: name for name, part in split_table(frame, data_params, params, seed).items()
        for r in record(part)
    }  # fmt: skip
    whole = where(clean, 0)
    assert len(whole) == len(clean)
    shuffled = where(clean.sample(frac=1, random_state=5).reset_index(drop=True), 0)
    assert shuffled == whole
    halves = {**where(clean.iloc[::2].reset_index(drop=True), 0),
              **where(clean.iloc[1::2].reset_index(drop=True), 0)}  # fmt: skip
    assert halves == whole
    sizes = {
        name: sum(v == name for v in whole.values()) / len(whole)
        for name in ("train", "val", "test")
    }
    assert sizes["test"] == pytest.approx(0.2, abs=0.03)
    assert sizes["val"] == pytest.approx(0.8 * 0.25, abs=0.03)
    other = where(clean, 1)
    moved = sum(other[r] != whole[r] for r in whole) / len(whole)
    assert 0.3 < moved < 0.7  # another seed: a fresh draw (independent draws move ~54 %)
    check_disjoint(split_positions(clean, data_params, params, seed=0), len(clean))


def test_hash_split_with_a_test_file_draws_only_val(clean, data_params):
    params = SplitParams(strategy="hash", test_source_file="adult.test", val_size=0.3)
    splits = split_table(clean, data_params, params, seed=0)
    assert (splits["test"][SOURCE_FILE_COLUMN] == "adult.test").all()
    assert not (splits["train"][SOURCE_FILE_COLUMN] == "adult.test").any()
    assert len(splits["val"]) > 0 and len(splits["train"]) > len(splits["val"])
    with pytest.raises(StageError, match=r"strategy hash leaves \['val'\] empty"):
        split_table(clean.head(3), data_params, SplitParams(strategy="hash", val_size=0.01), 0)


def test_overlap_is_rejected(clean, data_params):
    rows = split_positions(clean, data_params, SplitParams(test_source_file="adult.test"), 0)
    check_disjoint(rows, len(clean))
    shared = {**rows, "test": np.concatenate([rows["test"], rows["train"][:3]])}
    with pytest.raises(StageError, match=r"3 record\(s\) appear in both train and test"):
        check_disjoint(shared, len(clean))
    twice = {**rows, "val": np.concatenate([rows["val"], rows["val"][:2]])}
    with pytest.raises(StageError, match=r"2 record\(s\) appear twice in val"):
        check_disjoint(twice, len(clean))


def test_split_errors(clean, data_params):
    with pytest.raises(StageError, match=r"no rows come from 'nope\.csv'"):
        split_table(clean, data_params, SplitParams(test_source_file="nope.csv"), 0)
    with pytest.raises(StageError, match="single class"):
        split_table(clean.assign(income="<=50K"), data_params, SplitParams(), 0)
    one_pos = pd.concat([clean[clean.income == "<=50K"], clean[clean.income == ">50K"].iloc[:1]])
    with pytest.raises(StageError, match="need at least 2 per class"):
        split_table(one_pos, data_params, SplitParams(), 0)


def leakage(splits, data, params, dropped=0):
    return check_leakage(
        splits,
        hashes_by_split(splits, data.features),
        data,
        params,
        dropped,
        hashes_by_split(splits, data.record_columns),
    )


def with_groups_and_time(clean):
    n = len(clean)
    return clean.assign(
        household=[f"h{i // 3}" for i in range(n)],
        ts=pd.to_datetime("2026-01-01", utc=True) + pd.to_timedelta(np.arange(n) // 2, unit="D"),
    )


def test_group_split_keeps_groups_together(clean, data_params):
    data = data_params.model_copy(update={"group_column": "household"})
    frame = with_groups_and_time(clean)
    splits = split_table(frame, data, SplitParams(strategy="group", test_size=0.25), seed=0)
    groups = {n: set(f["household"]) for n, f in splits.items()}
    assert not (groups["train"] & groups["test"]) and not (groups["train"] & groups["val"])
    assert sum(len(f) for f in splits.values()) == len(frame)
    report = leakage(splits, data, SplitParams(strategy="group", shared_feature_rows="allow"))
    assert report.groups_in_two_splits == 0


def test_time_split_orders_train_val_test(clean, data_params):
    data = data_params.model_copy(update={"time_column": "ts"})
    frame = with_groups_and_time(clean).sample(frac=1, random_state=1)
    params = SplitParams(strategy="time", test_size=0.2, val_size=0.2, shared_feature_rows="allow")
    splits = split_table(frame, data, params, seed=0)
    assert splits["train"]["ts"].max() < splits["val"]["ts"].min()
    assert splits["val"]["ts"].max() < splits["test"]["ts"].min()  # one instant, one split
    assert leakage(splits, data, params).passed
    with pytest.raises(StageError, match="time column 'ts' has 1 missing"):
        split_table(frame.assign(ts=frame["ts"].where(frame.index != 0)), data, params, 0)


def test_leakage_gate_verdicts(clean, data_params):
    """Another record with a test row's feature values is counted, not leakage (unless
    shared_feature_rows says fail); the same record in two splits is."""
    splits = split_table(clean, data_params, SplitParams(test_source_file="adult.test"), 0)
    copy = splits["test"].iloc[:2].assign(fnlwgt=1.0)  # same features, another record
    splits["train"] = pd.concat([splits["train"], copy], ignore_index=True)
    allowed = leakage(splits, data_params, SplitParams(shared_feature_rows="allow"))
    assert allowed.passed and allowed.feature_collisions >= 2
    assert leakage(splits, data_params, SplitParams()).passed  # the default: allow
    fail = leakage(splits, data_params, SplitParams(shared_feature_rows="fail"))
    assert not fail.passed and fail.feature_collisions >= 2
    with pytest.raises(StageError, match=r"leakage gate: \d+ train/val row\(s\) have the same"):
        enforce(fail)
    keep, dropped = without_shared_feature_rows(hashes_by_split(splits, data_params.features))
    assert dropped >= 2
    report = leakage(select(splits, keep), data_params, SplitParams(), dropped)
    assert report.passed and report.feature_collisions == 0
    assert report.feature_collisions_dropped == dropped


def test_the_same_record_in_two_splits_is_blocked(clean, data_params):
    splits = split_table(clean, data_params, SplitParams(test_source_file="adult.test"), 0)
    splits["train"] = pd.concat([splits["train"], splits["test"].iloc[:3]], ignore_index=True)
    report = leakage(splits, data_params, SplitParams(shared_feature_rows="allow"))
    assert not report.passed and report.records_in_two_splits == 3
    assert "3 record(s) are in two splits" in report.problems[0]
    moved = splits["test"].iloc[:1].assign(fnlwgt=123.0)  # a weight differs: another record
    splits["train"] = pd.concat([splits["train"].iloc[:-3], moved], ignore_index=True)
    assert leakage(splits, data_params, SplitParams(shared_feature_rows="allow")).passed


def test_group_in_two_splits_is_blocked(clean, data_params):
    data = data_params.model_copy(update={"group_column": "household"})
    frame = with_groups_and_time(clean)
    params = SplitParams(test_source_file="adult.test", shared_feature_rows="allow")
    splits = split_table(frame, data, params, 0)  # the fixed test file ignores households
    report = leakage(splits, data, params)
    assert not report.passed and report.groups_in_two_splits > 0
    assert "group(s) of 'household' appear in two splits" in report.problems[0]


def test_time_overlap_is_blocked(clean, data_params):
    data = data_params.model_copy(update={"time_column": "ts"})
    params = SplitParams(strategy="time", shared_feature_rows="allow")
    splits = split_table(with_groups_and_time(clean), data, params, 0)
    splits["train"] = pd.concat([splits["train"], splits["test"].iloc[:1]], ignore_index=True)
    report = leakage(splits, data, params)
    assert report.time_overlap and any("time overlap on 'ts'" in p for p in report.problems)


def test_manifest_hashes_every_record(clean, data_params):
    splits = split_table(clean, data_params, SplitParams(test_source_file="adult.test"), 0)
    rows, summary = manifest(hashes_by_split(splits, data_params.record_columns))
    assert len(rows) == len(clean) and set(rows["split"]) == {"train", "val", "test"}
    fixed = SplitParams(test_source_file="adult.test")
    resplit = split_table(clean, data_params, fixed, 0)
    again = manifest(hashes_by_split(resplit, data_params.record_columns))[1]
    assert again == summary and summary["test"]["rows"] == len(splits["test"])


@pytest.mark.parametrize("split", [SplitParams(test_source_file="adult.test"),
                                   SplitParams(test_size=0.2, val_size=0.2)])  # fmt: skip
def test_feedback_rows_are_training_rows_and_leave_the_other_splits_as_they_were(
    clean, data_params, split
):
    params = split
    feedback = clean.iloc[:30].copy()
    feedback[SOURCE_FILE_COLUMN] = "feedback/feedback.jsonl"
    both = pd.concat([clean.astype({SOURCE_FILE_COLUMN: str}), feedback], ignore_index=True)
    before = split_positions(clean, data_params, params, seed=0)
    after = split_positions(both, data_params, params, seed=0)
    check_disjoint(after, len(both))
    assert np.array_equal(after["test"], before["test"])
    assert np.array_equal(after["val"], before["val"])
    assert np.array_equal(
        after["train"], np.sort(np.r_[before["train"], len(clean) + np.arange(30)])
    )
