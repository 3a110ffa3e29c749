"""Raw records as a JSON request carries them, to and from cleaned feature frames."""

from __future__ import annotations

import json

import pandas as pd

from trainflow.data.clean import clean_features
from trainflow.params import DataParams


def json_records(frame: pd.DataFrame, data: DataParams) -> list[dict]:
    """A frame's feature columns as the records a JSON request would carry (missing: null)."""
    features = frame[data.features].astype(object)
    return json.loads(features.where(features.notna(), None).to_json(orient="records"))


def records_frame(records: list[dict], data: DataParams) -> pd.DataFrame:
    """Raw records (as a request carries them) -> the cleaned feature frame, by the training
    code's own cleaning."""
    # the request schema already typed each field: build the frame with those dtypes
    dtypes = {c: "float64" for c in data.numeric_features}
    dtypes |= {c: "str" for c in [*data.categorical_features, *data.text_features,
                                  *data.image_features]}  # fmt: skip
    frame = pd.DataFrame.from_records(records, columns=data.features).astype(dtypes)
    return clean_features(frame, data, "request")
