import pandas as pd
import pytest

from tests.conftest import messy_frame
from trainflow.data.clean import clean_table
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.data.split import check_disjoint, split_summary, split_table
from trainflow.errors import StageError
from trainflow.params import SplitParams


@pytest.fixture
def clean(data_params):
    frame, _ = clean_table(messy_frame(200), data_params, [SOURCE_FILE_COLUMN], "t")
    return frame


def record_columns(data):
    return [*data.numeric, *data.categorical, data.target]


def test_fixed_test_file_and_stratified_val(clean, data_params):
    params = SplitParams(test_source_file="adult.test", val_size=0.25)
    splits = split_table(clean, data_params, params, seed=0)
    assert (splits["test"][SOURCE_FILE_COLUMN] == "adult.test").all()
    assert (splits["train"][SOURCE_FILE_COLUMN] == "adult.data").all()
    assert sum(len(f) for f in splits.values()) == len(clean)
    rate = lambda f: (f["income"] == ">50K").mean()  # noqa: E731
    assert abs(rate(splits["train"]) - rate(splits["val"])) < 0.05
    check_disjoint(splits, record_columns(data_params))
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


def test_overlap_is_rejected(clean, data_params):
    splits = split_table(clean, data_params, SplitParams(test_source_file="adult.test"), 0)
    splits["test"] = pd.concat([splits["test"], splits["train"].iloc[:3]])
    with pytest.raises(StageError, match=r"3 record\(s\) appear in both train and test"):
        check_disjoint(splits, record_columns(data_params))


def test_split_errors(clean, data_params):
    with pytest.raises(StageError, match=r"no rows come from 'nope\.csv'"):
        split_table(clean, data_params, SplitParams(test_source_file="nope.csv"), 0)
    with pytest.raises(StageError, match="single class"):
        split_table(clean.assign(income="<=50K"), data_params, SplitParams(), 0)
    one_pos = pd.concat([clean[clean.income == "<=50K"], clean[clean.income == ">50K"].iloc[:1]])
    with pytest.raises(StageError, match="need at least 2 per class"):
        split_table(one_pos, data_params, SplitParams(), 0)
