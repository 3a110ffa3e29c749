"""The contract every model family keeps, checked for each family and task alike: it learns,
its folder loads back to the same answers, its exports answer as it does, the served path
(raw JSON records) gives what evaluation sees, and its attributions add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainflow.data.clean import clean_features
from trainflow.families import FAMILIES, family_module, load_fitted, save_fitted
from trainflow.families.base import FitContext
from trainflow.families.ensemble import assemble
from trainflow.model.preprocess import fit_preprocessor
from trainflow.params import (
    DataParams,
    GBDTParams,
    LinearParams,
    MLPParams,
    PreprocessParams,
    ResNetParams,
    TrainParams,
)
from trainflow.serving.predictor import Predictor, json_records
from trainflow.tasks import scores_from_outputs

TASKS = {"binary": ["no", "yes"], "multiclass": ["p", "q", "r"], "regression": []}
NEURAL = {"lr": 0.02, "batch_size": 64, "max_epochs": 4, "patience": 2, "d_embedding": 4,
          "d_category": 4, "n_frequencies": 8, "frequency_scale": 1.0, "width": 16,
          "n_blocks": 1}  # fmt: skip
SETTINGS = {
    "linear": LinearParams(max_iter=50),
    "mlp": MLPParams(**NEURAL),
    "resnet": ResNetParams(**NEURAL),
    "gbdt": GBDTParams(max_rounds=60, early_stopping_rounds=10, num_leaves=7,
                       min_child_samples=5),
}  # fmt: skip
LEARNS = {"binary": ("accuracy", 0.75), "multiclass": ("accuracy", 0.6), "regression": ("r2", 0.5)}


def table(task: str, n: int, seed: int) -> pd.DataFrame:
    """Two numbers (one with gaps), one category (with unseen and missing values) and a target
    that depends on all three."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.uniform(0, 10, size=n)
    c = rng.choice(["red", "green", "blue"], size=n)
    signal = 2 * a + (b > 5) + np.where(c == "red", 1.5, 0.0) + rng.normal(scale=0.3, size=n)
    if task == "binary":
        y = np.where(signal > 1.0, "yes", "no")
    elif task == "multiclass":
        y = np.array(["p", "q", "r"])[np.digitize(signal, [0.0, 2.0])]
    else:
        y = 10 * signal + 50
    frame = pd.DataFrame({"a": a, "b": b, "c": c, "y": y})
    frame.loc[frame.index % 17 == 0, "b"] = np.nan
    frame.loc[frame.index % 23 == 0, "c"] = None
    return frame


def data_params(task: str) -> DataParams:
    return DataParams(target="y", labels=TASKS[task], numeric=["a", "b"], categorical=["c"])


def cleaned(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    out = clean_features(frame, data, "test")
    out[data.target] = frame[data.target].astype(str) if data.labels else frame[data.target]
    return out


@pytest.fixture(scope="module", params=list(TASKS))
def task_data(request):
    task = request.param
    data = data_params(task)
    train, val, test = (
        cleaned(table(task, n, s), data) for n, s in ((400, 0), (150, 1), (150, 2))
    )
    pre = fit_preprocessor(train, data, PreprocessParams())
    return task, data, pre, train, val, test


def fit_family(name, task_data, tmp_path):
    _, _, pre, train, val, _ = task_data
    ctx = FitContext(seed=0, trainer=TrainParams(accelerator="cpu", steps_per_call=2),
                     resume_dir=tmp_path / "resume", live_dir=tmp_path / "live")  # fmt: skip
    return family_module(name).fit(train, val, pre, SETTINGS[name], ctx)


@pytest.mark.parametrize("name", FAMILIES)
def test_family_contract(name, task_data, tmp_path):
    task, data, _, _, _, test = task_data
    fitted = fit_family(name, task_data, tmp_path)
    assert fitted.family == name and fitted.task == task
    assert (tmp_path / "live/metrics.json").exists()  # a dvclive curve, whatever the family

    # it learns: better than chance on held-out rows
    predictor = Predictor(model=fitted, data=data)
    scores, truth = predictor.predict_clean(test), predictor.truth(test)
    metric, floor = LEARNS[task]
    from trainflow.evaluation.selection import val_metrics

    assert val_metrics(task, scores, truth, data.labels)[metric] > floor
    pre_ = fitted.preprocessor
    assert np.allclose(scores, scores_from_outputs(task, fitted.outputs(test), pre_.target_mean,
                                                   pre_.target_std))  # fmt: skip

    # its folder loads back to the same answers, bit for bit
    save_fitted(fitted, tmp_path / "model", data)
    loaded = load_fitted(tmp_path / "model")
    assert loaded.family == name and loaded.summary == fitted.summary
    assert np.array_equal(loaded.outputs(test), fitted.outputs(test))
    assert fitted.size_bytes(tmp_path / "model") > 0

    # exports answer as it does
    (tmp_path / "exports").mkdir()
    report = loaded.export(tmp_path / "exports", test[data.features])
    assert report["rows"] == len(test) and "onnx_max_abs_diff" in report
    assert (tmp_path / "exports/model.onnx").exists()

    # the served path (raw JSON records, the server's cleaning) gives what evaluation sees
    served = Predictor.load(tmp_path / "model")
    answers = served.predict_records(json_records(test, data))
    if task == "regression":
        assert np.allclose([a["value"] for a in answers], scores, atol=1e-5)
    else:
        probs = scores if task == "multiclass" else np.stack([1 - scores, scores], axis=1)
        got = [[a["probabilities"][label] for label in data.labels] for a in answers]
        assert np.allclose(got, probs, atol=1e-6)

    # attributions: one per feature (per class for multiclass), adding up to the output's
    # distance from the method's reference (TreeSHAP: the expected value; IG: the reference row)
    attr = loaded.attributions(test[data.features])
    k = len(data.labels) if task == "multiclass" else 1
    assert attr.shape == ((len(test), 3, k) if k > 1 else (len(test), 3))
    totals = attr.sum(axis=1)
    outputs = loaded.outputs(test).reshape(totals.shape)
    spread = totals - outputs  # = -reference output, the same for every row
    assert np.allclose(spread, spread[0], atol=0.05 * max(1.0, np.abs(outputs).max()))
    explained = served.explain_records(json_records(test.head(3), data), top=2)
    assert [len(e["top_features"]) for e in explained] == [2, 2, 2]
    assert {f["feature"] for e in explained for f in e["top_features"]} <= {"a", "b", "c"}


def test_weighted_ensemble_contract(task_data, tmp_path):
    task, data, pre, _, _, test = task_data
    members = {}
    for name in ("linear", "gbdt"):
        fitted = fit_family(name, task_data, tmp_path / name)
        save_fitted(fitted, tmp_path / "families" / name, data)
        members[name] = (fitted, tmp_path / "families" / name)
    ensemble = assemble(members, {"linear": 0.25, "gbdt": 0.75})
    expected = 0.25 * members["linear"][0].scores(test) + 0.75 * members["gbdt"][0].scores(test)
    assert np.allclose(ensemble.scores(test), expected)
    assert set(ensemble.packages) >= {"torch", "lightgbm"}
    save_fitted(ensemble, tmp_path / "champion", data)
    loaded = load_fitted(tmp_path / "champion")
    assert loaded.family == "ensemble" and loaded.weights == {"linear": 0.25, "gbdt": 0.75}
    assert np.array_equal(loaded.scores(test), ensemble.scores(test))
    assert np.allclose(scores_from_outputs(task, loaded.outputs(test), pre.target_mean,
                                           pre.target_std), expected)  # fmt: skip
    report = loaded.export(tmp_path / "exports", test[data.features])
    assert set(report) == {"linear", "gbdt"}
    assert (tmp_path / "exports/gbdt/model.onnx").exists()
    assert loaded.size_bytes(tmp_path / "champion") == sum(
        m.size_bytes(tmp_path / "champion/members" / n) for n, (m, _) in members.items()
    )
    assert loaded.attributions(test[data.features]).shape[:2] == (len(test), 3)
