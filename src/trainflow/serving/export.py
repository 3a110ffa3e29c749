"""Proof that what ships reads requests as evaluation read the data: `check_round_trip` shows
that the saved preprocessor turns raw records, as the server receives them, into exactly the
features the model was evaluated on. (Each family proves its exports answer as it does:
trainflow.families.base.compare_outputs.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.errors import StageError
from trainflow.model.preprocess import Preprocessor
from trainflow.params import DataParams
from trainflow.serving.records import json_records, records_frame


def check_round_trip(
    pre: Preprocessor, data: DataParams, preprocessor_path: Path, clean: pd.DataFrame
) -> dict:
    """The saved preprocessor JSON, fed the rows as raw records (JSON values, the way a request
    carries them, through the server's cleaning), gives bit-identical features to the ones the
    model was evaluated on."""
    expected = pre.transform(clean, fill_missing=False)
    loaded = Preprocessor.load(preprocessor_path)
    records = json_records(clean, data)
    got = loaded.transform(records_frame(records, data), fill_missing=False)
    for name, a, b in (("numeric", expected[0], got[0]), ("categorical", expected[1], got[1])):
        bad = _first_differing_row(a, b)
        if bad is not None:
            raise StageError(
                f"preprocessor round trip: {name} features differ (first row {bad}) after raw "
                f"records -> cleaning -> {preprocessor_path}"
            )
    return {"rows": len(records), "identical": True}


def _first_differing_row(a: np.ndarray, b: np.ndarray) -> int | None:
    """The first row where two feature arrays differ (NaN equals NaN); -1 if their shapes do."""
    if a.shape != b.shape:
        return -1
    same = a == b
    if a.dtype.kind == "f":
        same |= np.isnan(a) & np.isnan(b)
    rows = np.flatnonzero(~same.reshape(len(a), -1).all(axis=1))
    return int(rows[0]) if rows.size else None
