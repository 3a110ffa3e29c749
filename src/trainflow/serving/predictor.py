"""Load a trained model folder (any family) and predict raw records with the training code's
own cleaning.

Imports no training library: the model's family module brings its own (torch for the neural
families, LightGBM for trees), so the served bundle holds what its champion needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.families import Fitted, load_fitted, load_schema
from trainflow.families.base import top_features
from trainflow.params import DataParams
from trainflow.serving.records import json_records, records_frame
from trainflow.tasks import class_probabilities, predicted_classes

__all__ = ["Predictor", "class_probabilities", "json_records", "predicted_classes",
           "records_frame"]  # fmt: skip


@dataclass
class Predictor:
    model: Fitted
    data: DataParams

    @classmethod
    def load(cls, folder: Path) -> Predictor:
        return cls(model=load_fitted(folder), data=load_schema(folder))

    @property
    def task(self) -> str:
        return self.model.task

    @property
    def preprocessor(self):
        return self.model.preprocessor

    def predict_clean(self, frame: pd.DataFrame) -> np.ndarray:
        """For an already-cleaned feature frame: binary, the positive-class probability [n];
        multiclass, class probabilities [n, k] in label order; regression, values [n] in the
        target's units."""
        return self.model.scores(frame)

    def truth(self, frame: pd.DataFrame) -> np.ndarray:
        """The target in predict_clean's terms: class indices, or values in target units."""
        target = frame[self.preprocessor.target]
        if self.task == "regression":
            return target.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
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

    def explain_records(self, records: list[dict], top: int) -> list[dict]:
        """Each record's answer and its `top` features by absolute attribution, signed:
        positive pushes towards the positive class (binary), the predicted class (multiclass)
        or a larger value (regression)."""
        frame = records_frame(records, self.data)
        answers = self.predict_records(records)
        attributions = self.model.attributions(frame)
        if attributions.ndim == 3:  # multiclass: towards the predicted class
            picked = [self.data.labels.index(a["label"]) for a in answers]
            attributions = attributions[np.arange(len(picked)), :, picked]
        names = self.preprocessor.features
        tops = top_features(attributions, names, top)
        return [{**answer, "top_features": t} for answer, t in zip(answers, tops, strict=True)]
