"""Data drift: a reference profile of the training split, and per-feature drift of a batch.

The profile (shipped in the bundle as reference_profile.json) holds, per numeric feature, the
training split's decile edges with the share of rows in each bin and its missing rate, and per
categorical feature the share of each category (the rarest pooled as "<other>") and its missing
rate. A batch is compared with the population stability index (PSI) over those same bins and
categories, the usual rule of thumb reading < 0.1 as stable, 0.1-0.25 as moderate and > 0.25
as a shift; missing rates are compared too. Imports numpy and pandas only (it runs in the bento).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trainflow.params import DataParams

PROFILE_VERSION = 1
OTHER = "<other>"
MAX_CATEGORIES = 50  # kept by name in the profile; the rest pooled as OTHER
PSI_MODERATE, PSI_SHIFT = 0.1, 0.25
_EPS = 1e-4  # share floor, so an empty bin does not make the PSI infinite


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros_like(counts, dtype=float)


def reference_profile(frame: pd.DataFrame, data: DataParams) -> dict:
    """The training split's per-feature distribution, as JSON-ready data."""
    numeric, categorical = {}, {}
    for col in data.numeric_features:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        present = values[~np.isnan(values)]
        edges = np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9))) if len(present) else []
        counts = np.bincount(np.searchsorted(edges, present, side="right"),
                             minlength=len(edges) + 1)  # fmt: skip
        numeric[col] = {
            "edges": [float(e) for e in edges],
            "shares": [round(float(s), 6) for s in _shares(counts)],
            "missing_rate": round(float(np.isnan(values).mean()) if len(values) else 0.0, 6),
            "mean": float(present.mean()) if len(present) else None,
            "std": float(present.std()) if len(present) else None,
        }
    for col in data.categorical_features:
        series = frame[col]
        present = series.dropna().astype(str)
        counts = present.value_counts()
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
        total = max(len(present), 1)
        shares = {str(k): round(v / total, 6) for k, v in sorted(top)}
        shares[OTHER] = round(max(0.0, 1.0 - sum(v for _, v in top) / total), 6)
        categorical[col] = {"shares": shares,
                            "missing_rate": round(float(series.isna().mean()), 6)}  # fmt: skip
    return {"version": PROFILE_VERSION, "rows": len(frame), "numeric": numeric,
            "categorical": categorical}  # fmt: skip


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
    for col, ref in profile["numeric"].items():
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        present = values[~np.isnan(values)]
        counts = np.bincount(np.searchsorted(ref["edges"], present, side="right"),
                             minlength=len(ref["edges"]) + 1)  # fmt: skip
        value = psi(ref["shares"], _shares(counts)) if len(present) else math.nan
        features.append((col, "numeric", value, ref["missing_rate"], np.isnan(values).mean()))
    for col, ref in profile["categorical"].items():
        series = frame[col]
        known = [k for k in ref["shares"] if k != OTHER]
        observed = series.dropna().astype(str)
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
