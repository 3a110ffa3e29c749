import numpy as np
import pandas as pd
import pytest

from trainflow.errors import StageError
from trainflow.model.preprocess import MISSING_INDEX, UNKNOWN_INDEX, Preprocessor, fit_preprocessor
from trainflow.params import PreprocessParams


def test_fitted_on_train_only(splits, pre):
    train = splits["train"]
    assert pre.mean["age"] == pytest.approx(train["age"].mean())
    x_num, _ = pre.transform(train)
    assert np.allclose(x_num.mean(axis=0), 0, atol=1e-5)
    assert "fnlwgt" not in pre.numeric


def test_unknown_missing_and_rare_categories(splits, data_params):
    train = splits["train"].astype({"native_country": "str"})  # split tables hold categoricals
    train.loc[train.index[0], "native_country"] = "Atlantis"  # seen once: rare
    pre = fit_preprocessor(train, data_params, PreprocessParams(min_category_count=2))
    assert "Atlantis" not in pre.vocab["native_country"]
    rows = train.iloc[:3].copy()
    rows["native_country"] = ["Atlantis", None, "Mexico"]
    rows["age"] = [np.nan, 30.0, 1e9]
    x_num, x_cat = pre.transform(rows)
    j = pre.categorical.index("native_country")
    assert x_cat[:, j].tolist() == [
        UNKNOWN_INDEX,
        MISSING_INDEX,
        pre.vocab["native_country"].index("Mexico") + 2,
    ]
    assert x_num[0, pre.numeric.index("age")] == 0.0  # missing numeric -> train mean
    assert np.isfinite(x_num).all()
    assert pre.cardinalities[j] == len(pre.vocab["native_country"]) + 2


def test_log1p_and_constant_columns(splits, data_params):
    train = splits["train"].assign(capital_loss=0.0)
    pre = fit_preprocessor(train, data_params, PreprocessParams(log1p=["capital_gain"]))
    assert pre.std["capital_loss"] == 1.0
    logged = np.log1p(train["capital_gain"])
    assert pre.mean["capital_gain"] == pytest.approx(logged.mean())


def test_json_roundtrip(tmp_path, pre, splits):
    pre.save(tmp_path / "p.json")
    again = Preprocessor.load(tmp_path / "p.json")
    assert again == pre
    a, b = pre.transform(splits["test"]), again.transform(splits["test"])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    (tmp_path / "old.json").write_text('{"format_version": 0}')
    with pytest.raises(StageError, match="format 0 unsupported"):
        Preprocessor.load(tmp_path / "old.json")


def test_errors(pre, splits, data_params):
    with pytest.raises(StageError, match=r"missing feature column\(s\) \['age'\]"):
        pre.transform(splits["test"].drop(columns="age"))
    with pytest.raises(StageError, match="unknown label"):
        pre.encode_target(pd.Series(["maybe"]))
    with pytest.raises(StageError, match="empty"):
        fit_preprocessor(splits["train"].iloc[:0], data_params, PreprocessParams())
    assert pre.encode_target(pd.Series(["<=50K", ">50K"])).tolist() == [0.0, 1.0]
