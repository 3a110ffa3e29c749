"""A short data profile per column (type, missing %, distinct, range or top values), as JSON
for machines and Markdown for people, written beside each quality gate's report."""

from __future__ import annotations

import pandas as pd

from trainflow.data.clean import RECORD_HASH_COLUMN


def profile_table(frame: pd.DataFrame, top: int = 5) -> dict:
    """Per column: dtype, missing %, distinct count, then min/max/mean or the top values.

    prepare's record hash is left out: it is unique by contract, and counting its distinct
    values would be the profile's most expensive step.
    """
    columns = {}
    for col in frame.columns.drop(RECORD_HASH_COLUMN, errors="ignore"):
        values = frame[col]
        entry = {
            "dtype": str(values.dtype),
            "missing_pct": round(float(values.isna().mean() * 100), 3) if len(values) else 0.0,
            "distinct": int(values.nunique(dropna=True)),
        }
        present = values.dropna()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            if len(present):
                entry |= {"min": float(present.min()), "max": float(present.max()),
                          "mean": round(float(present.mean()), 6)}  # fmt: skip
        else:
            counts = present.value_counts()  # categoricals: counted on codes
            entry["top"] = {str(k): int(v) for k, v in counts[counts > 0].head(top).items()}
        columns[str(col)] = entry
    return {"rows": len(frame), "columns": columns}


def profile_markdown(profile: dict, title: str) -> str:
    lines = [f"# {title}", "", f"{profile['rows']:,} rows, {len(profile['columns'])} columns.", "",
             "| column | type | missing % | distinct | range / top values |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, c in profile["columns"].items():
        if "min" in c:
            detail = f"{c['min']:g} … {c['max']:g} (mean {c['mean']:g})"
        else:
            detail = ", ".join(f"`{k}` {v}" for k, v in c.get("top", {}).items())
        lines.append(
            f"| {name} | {c['dtype']} | {c['missing_pct']:g} | {c['distinct']} | {detail} |"
        )
    return "\n".join(lines) + "\n"


MAX_CLASSES = 20  # a numeric target with more distinct values than this looks like a quantity


def infer_task(target: pd.Series, markers: list[str]) -> tuple[str, list[str]]:
    """What a raw target column looks like: (task, labels). Numbers with many distinct values
    are a regression target; anything else a classification over its distinct values."""
    values = target.dropna().astype(str).str.strip()
    values = values[~values.isin([m.strip() for m in markers]) & (values != "")]
    distinct = sorted(values.unique())
    numeric = pd.to_numeric(pd.Series(distinct), errors="coerce").notna().all()
    if numeric and len(distinct) > MAX_CLASSES:
        return "regression", []
    return ("binary" if len(distinct) == 2 else "multiclass"), distinct
