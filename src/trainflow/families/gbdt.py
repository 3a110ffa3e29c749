"""The gradient-boosted trees family: LightGBM, native categorical splits, early stopping on the
val split by LightGBM's own callback, its own GPU option (`device: gpu`, OpenCL).

Why LightGBM (measured on this project's Adult split, docs/models.md): the best accuracy and
AUROC of the default-settings GBDT libraries tried, seconds to fit on 2 cores, native
categoricals, TreeSHAP built in (`pred_contrib`), a 3.5 MB MIT-licensed wheel whose Linux build
carries GPU training, and an ONNX converter (onnxmltools).

The model is saved in LightGBM's own text format (`model.txt`: trees and thresholds as text,
parsed by LightGBM's C++ loader; no code is executed on load, no pickle). Inputs: the
preprocessor's standardised numerics with missing values left missing (trees route them) and
its category ids (unknown / missing / vocabulary) as categorical features. Outputs: raw scores
(logits, or the standardised target), like every family.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.errors import StageError
from trainflow.families.base import FitContext, Fitted
from trainflow.model.preprocess import Preprocessor
from trainflow.model.splits import ParquetSplit, Piece, Split, as_split
from trainflow.params import GBDTParams

NAME = "gbdt"
MODEL_FILE = "model.txt"
ONNX_FILE = "model.onnx"
PACKAGES = ("lightgbm", "scipy", "narwhals")
MODULES = ("families/gbdt.py",)  # the bento ships it and everything it imports
OBJECTIVES = {  # task -> LightGBM objective, and the metric early stopping watches
    "binary": ("binary", "binary_logloss"),
    "multiclass": ("multiclass", "multi_logloss"),
    "regression": ("regression", "l2"),
}

log = logging.getLogger("trainflow.gbdt")


def features(frame: pd.DataFrame, pre: Preprocessor) -> np.ndarray:
    """[numerics (missing: NaN) | category ids], float32: what the booster and its ONNX export
    take."""
    x_num, x_cat, *_ = pre.transform(frame, fill_missing=False)
    return np.concatenate([x_num, x_cat.astype(np.float32)], axis=1)


@dataclass
class BoosterFitted(Fitted):
    booster: object = None  # lightgbm.Booster

    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(features(frame, self.preprocessor), raw_score=True)

    def save_files(self, folder: Path) -> None:
        self.booster.save_model(folder / MODEL_FILE, importance_type="gain")

    def export(self, folder: Path, frame: pd.DataFrame) -> dict:
        """The text model read back must answer exactly as the booster; its ONNX conversion
        (onnxmltools, run by onnxruntime) within the parity tolerance, on the task's scores."""
        import lightgbm as lgb
        import onnxruntime

        from trainflow.families.base import compare_outputs

        x = features(frame, self.preprocessor)
        reloaded = lgb.Booster(model_str=self.booster.model_to_string())  # model.txt's text
        if not np.array_equal(self.booster.predict(x, raw_score=True),
                              reloaded.predict(x, raw_score=True)):  # fmt: skip
            raise StageError(f"export parity: {MODEL_FILE} read back answers differently")
        onnx_bytes = to_onnx(self.booster, x.shape[1], self.task)
        (folder / ONNX_FILE).write_bytes(onnx_bytes)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # the converter declares its label output's shape [1]
        session = onnxruntime.InferenceSession(onnx_bytes, options,
                                               providers=["CPUExecutionProvider"])  # fmt: skip
        onnx_scores = session.run(None, {"x": x})[-1]
        native = self.booster.predict(x)  # scores: probabilities, or the (standardised) value
        if self.task == "binary":
            onnx_scores = onnx_scores[:, 1]
        report = compare_outputs(native, {"onnx": onnx_scores.reshape(native.shape)})
        return report | {"text_model_identical": True}

    def attributions(self, frame: pd.DataFrame) -> np.ndarray:
        """TreeSHAP (LightGBM's own pred_contrib): exact per-feature contributions to the raw
        score; the expected value is dropped."""
        x = features(frame, self.preprocessor)
        contrib = self.booster.predict(x, pred_contrib=True)
        n_features = x.shape[1]
        if self.task == "multiclass":
            k = len(self.preprocessor.labels)
            return contrib.reshape(len(x), k, n_features + 1)[:, :, :-1].transpose(0, 2, 1)
        return contrib[:, :-1]


def to_onnx(booster: object, n_features: int, task: str) -> bytes:
    """The booster as ONNX (ai.onnx.ml TreeEnsemble) through onnxmltools."""
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    for name in ("onnxmltools", "skl2onnx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    model = onnxmltools.convert_lightgbm(
        booster, name="lightgbm", initial_types=[("x", FloatTensorType([None, n_features]))],
        target_opset=15, zipmap=False,
    )  # fmt: skip
    exact_thresholds(model, booster)
    # the converter lists its opsets in set order, which varies between runs: fix the order
    opsets = sorted(model.opset_import, key=lambda o: o.domain)
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    return model.SerializeToString()


def exact_thresholds(model: object, booster: object) -> int:
    """Make the ONNX trees split every float32 input as LightGBM does; returns how many
    thresholds moved.

    LightGBM compares a feature (a float32, as a double) with a double threshold; the ONNX
    TreeEnsemble holds float32 thresholds, and the converter rounds each to the nearest one,
    which can land on the other side of a feature value: after a retrain on feedback, 2 of
    16,276 test rows were answered 0.03 apart. For `x <= t`, the largest float32 not above `t`
    gives the same answer as `t` for every float32 `x`, so each `<=` threshold is rounded down
    (matched to the booster's own double by tree, feature and nearest float32)."""
    doubles: list[dict[tuple[int, float], set[float]]] = []
    for info in booster.dump_model()["tree_info"]:  # type: ignore[attr-defined]
        found: dict[tuple[int, float], set[float]] = {}
        stack = [info["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" not in node:
                continue
            if node["decision_type"] == "<=":
                t = float(node["threshold"])
                found.setdefault((node["split_feature"], float(np.float32(t))), set()).add(t)
            stack += [node["left_child"], node["right_child"]]
        doubles.append(found)
    moved = 0
    for node in model.graph.node:  # type: ignore[attr-defined]
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: a for a in node.attribute}
        values = attrs["nodes_values"].floats
        for i, mode in enumerate(attrs["nodes_modes"].strings):
            tree = attrs["nodes_treeids"].ints[i]
            if mode != b"BRANCH_LEQ" or tree >= len(doubles):
                continue
            match = doubles[tree].get((attrs["nodes_featureids"].ints[i], values[i]), set())
            if len(match) != 1:
                continue
            t = match.pop()
            down = np.float32(t)
            if float(down) > t:
                down = np.nextafter(down, np.float32(-np.inf))
            if float(down) != values[i]:
                values[i] = float(down)
                moved += 1
    return moved


def booster_params(params: GBDTParams, task: str, n_classes: int, seed: int) -> dict:
    objective, metric = OBJECTIVES[task]
    out = {
        "objective": objective, "metric": metric, "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves, "min_data_in_leaf": params.min_child_samples,
        "bagging_fraction": params.subsample, "bagging_freq": 1 if params.subsample < 1 else 0,
        "feature_fraction": params.colsample_bytree, "lambda_l2": params.reg_lambda,
        "device_type": params.device, "num_threads": params.num_threads, "seed": seed,
        "deterministic": True,
        "force_col_wise": True, "verbosity": -1,
    }  # fmt: skip
    if task == "multiclass":
        out["num_class"] = n_classes
    return out


def fit(
    train: pd.DataFrame | Split, val: pd.DataFrame | Split, pre: Preprocessor,
    params: GBDTParams, ctx: FitContext,
) -> BoosterFitted:  # fmt: skip
    import lightgbm as lgb
    from dvclive.lgbm import DVCLiveCallback

    from trainflow.live import offline_live

    for kind, columns in (("text", pre.text), ("image", pre.image)):
        if columns:
            raise StageError(f"families.gbdt: trees read numbers and categories, not the {kind} "
                             f"columns {columns}: leave gbdt out of families")  # fmt: skip
    n_num = len(pre.numeric)
    categorical = list(range(n_num, n_num + len(pre.categorical)))
    names = [f"f{j}" for j in range(n_num + len(pre.categorical))]  # any column name is safe

    def dataset(split: Split, reference: object = None) -> object:
        if split.streamed:
            data, label = streamed_rows(split, pre)
        else:
            frame = split.frame()
            data, label = features(frame, pre), pre.encode_target(frame[pre.target])
        return lgb.Dataset(data, label=label, feature_name=names, categorical_feature=categorical,
                           reference=reference, free_raw_data=False)  # fmt: skip

    train, val = as_split(train), as_split(val)
    train_set = dataset(train)
    val_set = dataset(val, train_set)
    config = booster_params(params, pre.task, len(pre.labels), ctx.seed)
    with offline_live(ctx.live_dir) as live:
        booster = lgb.train(
            config, train_set, num_boost_round=params.max_rounds, valid_sets=[val_set],
            valid_names=["val"],
            callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False),
                       DVCLiveCallback(live=live)],
        )  # fmt: skip
    best = booster.best_iteration or booster.current_iteration()
    best_val_loss = float(booster.best_score["val"][config["metric"]])
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    summary = {
        "best_iteration": int(best),
        "best_val_loss": best_val_loss,
        "train_rows": train.rows, "val_rows": val.rows, "device": params.device,
        "data": "stream" if train.streamed else "memory",
    }  # fmt: skip
    return BoosterFitted(family=NAME, preprocessor=pre, config={"features": names,
                         "categorical": categorical}, summary=summary, booster=booster,
                         files=(MODEL_FILE,), packages=PACKAGES,
                         modules=MODULES)  # fmt: skip


def streamed_rows(split: ParquetSplit, pre: Preprocessor) -> tuple[list, np.ndarray]:
    """A streamed split as LightGBM reads data it does not hold: one `lightgbm.Sequence` per
    Parquet piece (LightGBM samples rows for its bins by index, then reads each piece in one
    range and keeps only the binned values, a byte per feature and row), and the target,
    read column by column."""
    import lightgbm as lgb

    cache: dict = {}  # the last piece read, shared: LightGBM reads the pieces in order

    class PieceRows(lgb.Sequence):
        def __init__(self, piece: Piece) -> None:
            self.piece, self.batch_size = piece, piece.rows

        def __len__(self) -> int:
            return self.piece.rows

        def __getitem__(self, idx: int | slice) -> np.ndarray:
            if cache.get("piece") != self.piece:
                cache.clear()
                rows = features(split.read(self.piece, pre.features), pre)
                # LightGBM's Sequence path takes doubles: float32 values widen exactly, so
                # the bins and trees are those of the in-memory float32 matrix
                cache.update(piece=self.piece, rows=rows.astype(np.float64))
            return cache["rows"][idx]

    pieces = split.pieces()
    label = np.concatenate([pre.encode_target(split.read(p, [pre.target])[pre.target])
                            for p in pieces])  # fmt: skip
    return [PieceRows(p) for p in pieces], label


def load(folder: Path, config: dict, pre: Preprocessor) -> BoosterFitted:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
    return BoosterFitted(family=NAME, preprocessor=pre, config=config, booster=booster,
                         files=(MODEL_FILE,), packages=PACKAGES,
                         modules=MODULES)  # fmt: skip
