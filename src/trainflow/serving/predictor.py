"""Load a trained model folder and predict raw records with the training code's own cleaning.

Imports only torch, numpy and pandas (no Lightning), so the served bundle stays light.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trainflow import paths
from trainflow.data.clean import clean_features
from trainflow.errors import StageError
from trainflow.model.network import build_network
from trainflow.model.preprocess import Preprocessor
from trainflow.params import DataParams


def class_probabilities(task: str, scores: np.ndarray) -> np.ndarray:
    """A classifier's scores (see Predictor.predict_clean) as [n, k] probabilities in label
    order: binary scores are the positive class's probability."""
    return np.stack([1 - scores, scores], axis=1) if task == "binary" else scores


def predicted_classes(task: str, scores: np.ndarray) -> np.ndarray:
    """The predicted class index: binary, positive from 0.5 on (ties go to it); multiclass,
    the most probable class."""
    return (scores >= 0.5).astype(np.int64) if task == "binary" else scores.argmax(axis=1)


def json_records(frame: pd.DataFrame, data: DataParams) -> list[dict]:
    """A frame's feature columns as the records a JSON request would carry (missing: null)."""
    features = frame[data.features].astype(object)
    return json.loads(features.where(features.notna(), None).to_json(orient="records"))


def records_frame(records: list[dict], data: DataParams) -> pd.DataFrame:
    """Raw records (as a request carries them) -> the cleaned feature frame, by the training
    code's own cleaning."""
    # the request schema already typed each field: build the frame with those dtypes
    dtypes = {c: "float64" for c in data.numeric_features}
    dtypes |= {c: "str" for c in data.categorical_features}
    frame = pd.DataFrame.from_records(records, columns=data.features).astype(dtypes)
    return clean_features(frame, data, "request")


@dataclass
class Predictor:
    net: torch.nn.Module
    preprocessor: Preprocessor
    data: DataParams

    @classmethod
    def load(
        cls,
        folder: Path,
        weights: str = paths.MODEL_WEIGHTS.name,
        config: str = paths.MODEL_CONFIG.name,
    ) -> Predictor:
        schema, preprocessor = paths.DATA_SCHEMA.name, paths.PREPROCESSOR.name
        for name in (weights, config, preprocessor, schema):
            if not (folder / name).exists():
                raise StageError(f"{folder / name}: missing from the model folder")
        net = build_network(json.loads((folder / config).read_text()))
        net.load_state_dict(torch.load(folder / weights, map_location="cpu", weights_only=True))
        net.eval()
        pre = Preprocessor.load(folder / preprocessor)
        data = DataParams.model_validate(json.loads((folder / schema).read_text()))
        return cls(net=net, preprocessor=pre, data=data)

    @property
    def task(self) -> str:
        return self.preprocessor.task

    @torch.inference_mode()
    def predict_clean(self, frame: pd.DataFrame) -> np.ndarray:
        """For an already-cleaned feature frame: binary, the positive-class probability [n];
        multiclass, class probabilities [n, k] in label order; regression, values [n] in the
        target's units."""
        x_num, x_cat = self.preprocessor.transform(frame)
        out = self.net(torch.from_numpy(x_num), torch.from_numpy(x_cat))
        if self.task == "binary":
            return torch.sigmoid(out).numpy()
        if self.task == "multiclass":
            return torch.softmax(out, dim=1).numpy()
        return self.preprocessor.decode_values(out.numpy().astype(np.float64))

    def truth(self, frame: pd.DataFrame) -> np.ndarray:
        """The target in predict_clean's terms: class indices, or values in target units."""
        target = frame[self.preprocessor.target]
        if self.task == "regression":
            return target.to_numpy(dtype=np.float64, na_value=np.nan)
        return self.preprocessor.encode_target(target)

    def predict_records(self, records: list[dict]) -> list[dict]:
        """Raw records (source field names, messy values allowed) -> label + probabilities
        (classification) or value (regression)."""
        scores = self.predict_clean(records_frame(records, self.data))
        if self.task == "regression":
            return [{"value": round(float(v), 6)} for v in scores.tolist()]
        probs = class_probabilities(self.task, scores).round(6)
        labels = self.data.labels
        best = predicted_classes(self.task, scores)  # as evaluation thresholds
        return [
            {"label": labels[b], "probability": float(row[b]),
             "probabilities": dict(zip(labels, map(float, row), strict=True))}
            for b, row in zip(best.tolist(), probs, strict=True)
        ]  # fmt: skip
