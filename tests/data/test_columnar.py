import numpy as np
import pandas as pd
import pytest

from tests.conftest import messy_frame
from trainflow.data.clean import RECORD_HASH_COLUMN, clean_table, duplicate_records
from trainflow.data.columnar import categorize_text, is_text, map_categories, row_hashes
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.data.split import split_positions
from trainflow.params import SplitParams


def test_map_categories_merges_values_that_become_equal():
    values = pd.Series([" a", "a", "b ", None, " a"], dtype="category")
    out = map_categories(values, lambda c: c.str.strip())
    assert out.tolist()[:3] == ["a", "a", "b"] and pd.isna(out.iloc[3])
    assert sorted(out.cat.categories) == ["a", "b"]
    gone = map_categories(values, lambda c: c.where(c != "b ", None))  # a value made missing
    assert gone.isna().sum() == 2


def test_categorize_text_keeps_values_and_numbers():
    frame = pd.DataFrame({"t": ["x", None, "y"], "n": [1, 2, 3]})
    out = categorize_text(frame)
    assert isinstance(out["t"].dtype, pd.CategoricalDtype) and is_text(out["t"])
    assert out["n"].dtype == np.int64 and not is_text(out["n"])
    assert out["t"].astype("str").equals(frame["t"].astype("str"))


def test_row_hashes_do_not_depend_on_how_text_is_held():
    frame = messy_frame(50)
    columns = [c for c in frame.columns if c != SOURCE_FILE_COLUMN]
    assert (row_hashes(frame, columns) == row_hashes(categorize_text(frame), columns)).all()


def test_cleaning_categoricals_equals_cleaning_strings(data_params):
    raw = messy_frame(300)
    as_str, report_str = clean_table(raw, data_params, [SOURCE_FILE_COLUMN], "t")
    as_cat, report_cat = clean_table(categorize_text(raw), data_params, [SOURCE_FILE_COLUMN], "t")
    assert report_cat == report_str
    assert (as_cat[RECORD_HASH_COLUMN] == as_str[RECORD_HASH_COLUMN]).all()
    for col in data_params.categorical:
        assert as_cat[col].astype("str").equals(as_str[col].astype("str"))


def test_duplicates_are_exact_even_when_hashes_collide():
    frame = pd.DataFrame({"a": [1, 2, 1, 3], "b": ["x", "y", "x", "z"]})
    collide = np.array([7, 7, 7, 9], dtype=np.uint64)  # rows 0, 1, 2 share a hash
    drop = duplicate_records(frame, ["a", "b"], collide)
    assert drop.tolist() == [True, False, False, False]  # 0 repeats 2 (kept); 1 is distinct


def test_stratified_split_keeps_class_shares(data_params):
    clean, _ = clean_table(messy_frame(2000), data_params, [SOURCE_FILE_COLUMN], "t")
    rows = split_positions(clean, data_params, SplitParams(test_size=0.2, val_size=0.25), 3)
    assert sum(len(r) for r in rows.values()) == len(clean)
    assert all((np.diff(r) > 0).all() for r in rows.values())  # row order kept
    positive = (clean["income"] == ">50K").to_numpy()
    share = {name: positive[r].mean() for name, r in rows.items()}
    assert share["train"] == pytest.approx(positive.mean(), abs=0.01)
    assert share["test"] == pytest.approx(positive.mean(), abs=0.01)
    assert len(rows["test"]) == pytest.approx(0.2 * len(clean), abs=2)
