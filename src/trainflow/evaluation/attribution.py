"""Global attributions: how much each feature moves the model's output, on average over a
sample of test rows, from the model's own per-row attributions (TreeSHAP for trees, Integrated
Gradients for networks; see each family's `attributions`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainflow.families.base import Fitted


def mean_abs_attribution(model: Fitted, frame: pd.DataFrame, seed: int, rows: int) -> list[dict]:
    """[{feature, mean_abs_attribution}] sorted largest first, over a seeded sample of `rows`
    rows (summed over classes for a multiclass model)."""
    sample = frame.sample(n=min(rows, len(frame)), random_state=seed)
    attr = np.abs(model.attributions(sample))
    if attr.ndim == 3:
        attr = attr.sum(axis=2)
    names = model.preprocessor.features
    rows = [{"feature": name, "mean_abs_attribution": round(float(v), 6)}
            for name, v in zip(names, attr.mean(axis=0), strict=True)]  # fmt: skip
    return sorted(rows, key=lambda r: -r["mean_abs_attribution"])
