"""Reference profile and per-feature drift (PSI) of a batch."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import messy_frame
from trainflow.data.clean import clean_table
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.serving.drift import drift_report, psi, reference_profile


@pytest.fixture(scope="module")
def clean(data_params):
    frame, _ = clean_table(messy_frame(2000, seed=5), data_params, [SOURCE_FILE_COLUMN], "t")
    return frame


def test_profile_is_json_and_deterministic(clean, data_params):
    profile = reference_profile(clean, data_params)
    assert json.dumps(profile) == json.dumps(reference_profile(clean.copy(), data_params))
    age = profile["numeric"]["age"]
    assert len(age["shares"]) == len(age["edges"]) + 1 and sum(age["shares"]) == pytest.approx(1)
    work = profile["categorical"]["workclass"]
    assert sum(work["shares"].values()) == pytest.approx(1, abs=1e-5)
    assert work["missing_rate"] > 0  # " ?" markers became missing


def test_a_sample_of_the_same_data_is_stable(clean, data_params):
    profile = reference_profile(clean, data_params)
    report = drift_report(profile, clean.sample(800, random_state=1))
    assert report["shifted"] == [] and report["rows"] == 800
    assert all(f["psi"] < 0.1 for f in report["features"]), report["features"]


def test_a_shifted_feature_is_named_first(clean, data_params):
    profile = reference_profile(clean, data_params)
    batch = clean.sample(800, random_state=2).copy()
    batch["age"] = batch["age"] + 25  # an older population
    batch["sex"] = "Female"
    report = drift_report(profile, batch)
    assert set(report["shifted"]) == {"age", "sex"}
    assert {report["features"][0]["feature"], report["features"][1]["feature"]} == {"age", "sex"}
    hours = next(f for f in report["features"] if f["feature"] == "hours_per_week")
    assert hours["status"] == "stable"


def test_missing_rates_and_empty_columns(clean, data_params):
    profile = reference_profile(clean, data_params)
    batch = clean.head(50).copy()
    batch["occupation"] = None
    batch["age"] = np.nan
    rows = {f["feature"]: f for f in drift_report(profile, batch)["features"]}
    assert rows["occupation"]["missing_rate_batch"] == 1.0 and rows["age"]["psi"] is None
    assert rows["age"]["status"] == "no values"


def test_psi_of_identical_shares_is_zero_and_grows_with_shift():
    same = psi(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    small = psi(np.array([0.5, 0.5]), np.array([0.45, 0.55]))
    big = psi(np.array([0.5, 0.5]), np.array([0.1, 0.9]))
    assert same == 0 and 0 < small < 0.1 < 0.25 < big
    assert pd.notna(psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])))  # empty bins: finite


def test_text_is_profiled_by_length_in_words():
    from trainflow.params import DataParams

    data = DataParams(target="y", labels=["a", "b"], numeric=[], categorical=[], text=["t"])
    rng = np.random.default_rng(0)
    short = pd.DataFrame({"t": [" ".join(["w"] * n) for n in rng.integers(3, 12, 500)]})
    profile = reference_profile(short, data)
    assert set(profile["text"]) == {"t"} and profile["text"]["t"]["missing_rate"] == 0
    same = drift_report(profile, short.sample(200, random_state=1))
    assert same["features"][0]["kind"] == "text length (words)" and same["shifted"] == []
    long = pd.DataFrame({"t": [" ".join(["w"] * n) for n in rng.integers(30, 60, 200)]})
    assert drift_report(profile, long)["shifted"] == ["t"]  # whole documents, not snippets
