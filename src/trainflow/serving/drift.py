"""Data drift: a reference profile of the training split, and per-feature drift of a batch.

The profile (shipped in the bundle as reference_profile.json) holds, per numeric feature, the
training split's decile edges with the share of rows in each bin and its missing rate, per
categorical feature the share of each category (the rarest pooled as "<other>") and its
missing rate, per text feature the same as a numeric one over each text's length in words, and
per image feature over each image's mean grey level (its brightness).
A batch is compared with the population stability index (PSI) over those same bins and
categories, the usual rule of thumb reading < 0.1 as stable, 0.1-0.25 as moderate and > 0.25
as a shift; missing rates are compared too. Imports numpy and pandas only (it runs in the bento).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trainflow.data.images import brightness
from trainflow.model.text import word_counts
from trainflow.params import DataParams

PROFILE_VERSION = 1
OTHER = "<other>"
MAX_CATEGORIES = 50  # kept by name in the profile; the rest pooled as OTHER
PSI_MODERATE, PSI_SHIFT = 0.1, 0.25
_EPS = 1e-4  # share floor, so an empty bin does not make the PSI infinite


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros_like(counts, dtype=float)


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _bin_shares(edges: list[float] | np.ndarray, present: np.ndarray) -> np.ndarray:
    """Share of the values in each bin between consecutive edges (and below / above them)."""
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return _shares(counts)


def _categories(series: pd.Series) -> pd.Series:
    return series.dropna().astype(str)


def _words(series: pd.Series) -> np.ndarray:
    return word_counts(series).to_numpy(dtype=float, na_value=np.nan)


def _value_profile(values: np.ndarray) -> dict:
    present = values[~np.isnan(values)]
    edges = np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9))) if len(present) else []
    return {
        "edges": [float(e) for e in edges],
        "shares": [round(float(s), 6) for s in _bin_shares(edges, present)],
        "missing_rate": round(float(np.isnan(values).mean()) if len(values) else 0.0, 6),
        "mean": float(present.mean()) if len(present) else None,
        "std": float(present.std()) if len(present) else None,
    }


def reference_profile(frame: pd.DataFrame, data: DataParams) -> dict:
    """The training split's per-feature distribution, as JSON-ready data."""
    numeric = {col: _value_profile(_numbers(frame[col])) for col in data.numeric_features}
    text = {col: _value_profile(_words(frame[col])) for col in data.text_features}
    image = {col: _value_profile(brightness(frame[col])) for col in data.image_features}
    categorical = {}
    for col in data.categorical_features:
        series = frame[col]
        present = _categories(series)
        counts = present.value_counts()
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
        total = max(len(present), 1)
        shares = {str(k): round(v / total, 6) for k, v in sorted(top)}
        shares[OTHER] = round(max(0.0, 1.0 - sum(v for _, v in top) / total), 6)
        categorical[col] = {"shares": shares,
                            "missing_rate": round(float(series.isna().mean()), 6)}  # fmt: skip
    return {"version": PROFILE_VERSION, "rows": len(frame), "numeric": numeric,
            "categorical": categorical, **({"text": text} if text else {}),
            **({"image": image} if image else {})}  # fmt: skip


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=float), _EPS)
    a = np.maximum(np.asarray(actual, dtype=float), _EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def _status(value: float) -> str:
    if value > PSI_SHIFT:
        return "shift"
    return "moderate" if value > PSI_MODERATE else "stable"


def drift_report(profile: dict, frame: pd.DataFrame) -> dict:
    """Per-feature PSI and missing rates of a cleaned batch against the profile; features
    sorted by PSI, largest first."""
    features = []
    measured = [(col, "numeric", ref, _numbers(frame[col])) for col, ref in
                profile["numeric"].items()]  # fmt: skip
    measured += [(col, "text length (words)", ref, _words(frame[col])) for col, ref in
                 profile.get("text", {}).items()]  # fmt: skip
    measured += [(col, "image brightness", ref, brightness(frame[col])) for col, ref in
                 profile.get("image", {}).items()]  # fmt: skip
    for col, kind, ref, values in measured:
        present = values[~np.isnan(values)]
        shares = _bin_shares(ref["edges"], present)
        value = psi(ref["shares"], shares) if len(present) else math.nan
        features.append((col, kind, value, ref["missing_rate"], np.isnan(values).mean()))
    for col, ref in profile["categorical"].items():
        series = frame[col]
        known = [k for k in ref["shares"] if k != OTHER]
        observed = _categories(series)
        counts = observed.value_counts()
        batch = [float(counts.get(k, 0)) for k in known]
        batch.append(float(len(observed) - sum(batch)))
        expected = [ref["shares"][k] for k in known] + [ref["shares"][OTHER]]
        value = psi(expected, _shares(np.array(batch))) if len(observed) else math.nan
        features.append((col, "categorical", value, ref["missing_rate"], series.isna().mean()))
    rows = [
        {"feature": col, "kind": kind, "psi": None if math.isnan(v) else round(v, 4),
         "status": "no values" if math.isnan(v) else _status(v),
         "missing_rate_reference": round(float(m_ref), 4),
         "missing_rate_batch": round(float(m_new), 4)}
        for col, kind, v, m_ref, m_new in features
    ]  # fmt: skip
    rows.sort(key=lambda r: -1.0 if r["psi"] is None else r["psi"], reverse=True)
    shifted = [r["feature"] for r in rows if r["status"] == "shift"]
    return {"rows": len(frame), "reference_rows": profile["rows"], "shifted": shifted,
            "thresholds": {"moderate": PSI_MODERATE, "shift": PSI_SHIFT},
            "features": rows}  # fmt: skip
