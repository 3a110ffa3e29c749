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

    @torch.inference_mode()
    def predict_clean(self, frame: pd.DataFrame) -> np.ndarray:
        """Positive-class probabilities for an already-cleaned feature frame."""
        x_num, x_cat = self.preprocessor.transform(frame)
        logits = self.net(torch.from_numpy(x_num), torch.from_numpy(x_cat))
        return torch.sigmoid(logits).numpy()

    def predict_records(self, records: list[dict]) -> list[dict]:
        """Raw records (source field names, messy values allowed) -> label + probability."""
        # the request schema already typed each field: build the frame with those dtypes
        dtypes = {c: "float64" for c in self.data.numeric_features}
        dtypes |= {c: "str" for c in self.data.categorical_features}
        frame = pd.DataFrame.from_records(records, columns=self.data.features).astype(dtypes)
        clean = clean_features(frame, self.data, "request")
        probs = self.predict_clean(clean)
        negative, positive = self.data.labels[0], self.data.positive_label
        out = []
        for p in probs.tolist():
            pos = round(p, 6)
            label = positive if p >= 0.5 else negative
            out.append({
                "label": label,
                "probability": pos if label == positive else round(1 - p, 6),
                "probabilities": {negative: round(1 - p, 6), positive: pos},
            })  # fmt: skip
        return out
