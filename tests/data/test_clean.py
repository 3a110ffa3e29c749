import numpy as np
import pandas as pd
import pytest

from trainflow.data.clean import (
    clean_features,
    clean_table,
    coerce_types,
    normalise_labels,
    replace_missing_markers,
    strip_whitespace,
)
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.errors import StageError


def test_strip_whitespace_counts_changed_cells():
    frame = pd.DataFrame({"a": [" x", "y ", "z", None], "n": [1, 2, 3, 4]})
    out, changed = strip_whitespace(frame)
    assert out["a"].tolist()[:3] == ["x", "y", "z"] and pd.isna(out["a"].iloc[3])
    assert changed == 2
    assert frame["a"].iloc[0] == " x"  # input untouched


def test_missing_markers_become_missing():
    frame = pd.DataFrame({"a": ["?", "x", "?"], "b": ["y", "?", "y"], "n": [1, 2, 3]})
    out, counts = replace_missing_markers(frame, ["?"])
    assert counts == {"a": 2, "b": 1}
    assert out["a"].isna().tolist() == [True, False, True]


def test_labels_normalised_and_unknown_rejected():
    target = pd.Series(["<=50K.", ">50K", ">50K.", None], name="income")
    mapped, changed = normalise_labels(
        target, {"<=50K.": "<=50K", ">50K.": ">50K"}, ["<=50K", ">50K"], "t"
    )
    assert mapped.tolist()[:3] == ["<=50K", ">50K", ">50K"] and changed == 2
    with pytest.raises(StageError, match=r"target 'income' has label\(s\) \['maybe'\]"):
        normalise_labels(pd.Series(["maybe"], name="income"), {}, ["<=50K", ">50K"], "t")


def test_coerce_types_counts_unparseable_numbers():
    frame = pd.DataFrame({"n": ["1", "x", "inf", None], "c": [1, "a", None, "b"]})
    out, bad = coerce_types(frame, ["n"], ["c"], [])
    assert out["n"].dtype == np.float64
    assert out["n"].isna().tolist() == [False, True, True, True]
    assert bad == {"n": 2}
    assert out["c"].tolist()[:2] == ["1", "a"] and pd.isna(out["c"].iloc[2])


def test_clean_table_on_messy_adult_rows(messy, data_params):
    dup = messy.iloc[[0, 1]].copy()
    dup[SOURCE_FILE_COLUMN] = "adult.test"
    raw = pd.concat([messy, dup, messy.iloc[[2]].assign(income=" ?")], ignore_index=True)
    raw.loc[len(raw) - 1, "income"] = None
    clean, report = clean_table(raw, data_params, [SOURCE_FILE_COLUMN], "raw.parquet")
    assert report.rows_in == len(raw)
    assert report.duplicate_rows_removed == 2
    assert report.rows_missing_target == 1
    assert report.rows_out == len(messy) == len(clean)
    assert report.missing_markers_replaced["workclass"] == (messy["workclass"] == " ?").sum() + 1
    assert set(clean["income"]) == {"<=50K", ">50K"}
    assert not clean["workclass"].str.startswith(" ").any()
    assert clean["workclass"].isna().sum() > 0
    assert "fnlwgt" in clean.columns  # kept in the record, just not a model feature
    # the duplicated record keeps its copy from the later (test) file
    first = clean[(clean["age"] == messy["age"][0]) & (clean["fnlwgt"] == messy["fnlwgt"][0])]
    assert first[SOURCE_FILE_COLUMN].tolist() == ["adult.test"]


def test_clean_table_errors(messy, data_params):
    with pytest.raises(StageError, match=r"raw.parquet: missing column\(s\) \['income'\]"):
        clean_table(messy.drop(columns="income"), data_params, [], "raw.parquet")
    with pytest.raises(StageError, match="no rows left"):
        clean_table(messy.assign(income=None), data_params, [], "raw.parquet")


def test_all_rows_copies_of_one_record(messy, data_params):
    same = pd.concat([messy.iloc[[0]]] * 50, ignore_index=True)
    with pytest.raises(StageError, match="all 50 rows are copies of one record"):
        clean_table(same, data_params, [], "raw.parquet")


def test_clean_features_is_what_serving_applies(messy, data_params):
    out = clean_features(messy, data_params, "request")
    assert list(out.columns) == data_params.features
    assert out["age"].dtype == np.float64
    with pytest.raises(StageError, match=r"request: missing column\(s\) \['age'\]"):
        clean_features(messy.drop(columns="age"), data_params, "request")
