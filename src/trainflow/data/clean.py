"""Cleaning: the one implementation used by prepare (training data) and by the served model.

Each step is a pure function that returns the new frame and a count of what it changed, so the
prepare stage can report exactly what cleaning did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from trainflow.data.columnar import category_counts, is_text, map_categories
from trainflow.data.xxhash import spark_row_hash
from trainflow.errors import StageError
from trainflow.params import DataParams, label_text

RECORD_HASH_COLUMN = "_record_hash"
"""Added by prepare: Spark's xxhash64 of the record's columns (data.record_columns; int64, the
same in both engines: trainflow.data.xxhash), unique per row.
The prepared gate checks its uniqueness, split's manifest and disjointness check use it."""


@dataclass
class CleaningReport:
    """What cleaning changed, for metrics/prepare.json."""

    rows_in: int = 0
    rows_out: int = 0
    cells_whitespace_stripped: int = 0
    missing_markers_replaced: dict[str, int] = field(default_factory=dict)
    labels_normalised: int = 0
    rows_missing_target: int = 0
    numeric_values_unparseable: dict[str, int] = field(default_factory=dict)
    duplicate_rows_removed: int = 0
    times_unparseable: int = 0
    columns_not_used: list[str] = field(default_factory=list)  # in the source, not in params

    def to_dict(self) -> dict:
        return asdict(self)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


def require_columns(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StageError(f"{where}: missing column(s) {missing}")


def strip_whitespace(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Strip leading/trailing spaces from every text cell; return the count of changed cells."""
    out = frame.copy(deep=False)
    changed = 0
    for col in _text_columns(out):
        values = out[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            if not is_text(values):
                continue
            cats = values.cat.categories
            stripped_cats = cats.str.strip()
            changed += int(category_counts(values)[np.asarray(stripped_cats != cats)].sum())
            out[col] = map_categories(values, lambda c: c.str.strip())
            continue
        if isinstance(values.dtype, pd.StringDtype):
            stripped = values.str.strip()
        else:  # an object column may mix strings with other values: strip only the strings
            is_str = values.map(lambda v: isinstance(v, str)).astype(bool)
            if not is_str.any():
                continue
            stripped = values.where(~is_str, values[is_str].str.strip())
        changed += int((values.notna() & (stripped != values)).sum())
        out[col] = stripped
    return out, changed


def replace_missing_markers(
    frame: pd.DataFrame, markers: list[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Turn missing markers such as '?' (after stripping) into real missing values."""
    out = frame.copy(deep=False)
    counts: dict[str, int] = {}
    if not markers:
        return out, counts
    for col in _text_columns(out):
        values = out[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            hit_cats = values.cat.categories.isin(markers)
            hits = int(category_counts(values)[hit_cats].sum())
            if hits:
                counts[col] = hits
                out[col] = values.cat.remove_categories(values.cat.categories[hit_cats])
            continue
        hit = values.isin(markers)
        if hit.any():
            counts[col] = int(hit.sum())
            out[col] = values.mask(hit, np.nan)
    return out, counts


def labels_as_text(target: pd.Series) -> pd.Series:
    """A class target spelled as params spell labels (trainflow.params.label_text): a column of
    numbers or booleans becomes text, 1 and 1.0 both "1"; text stays as it is."""
    if isinstance(target.dtype, pd.CategoricalDtype):
        if is_text(target):
            return target
        return map_categories(target, lambda c: pd.Index([label_text(v) for v in c]))
    if pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        text = target.map(lambda v: label_text(v.item() if hasattr(v, "item") else v),
                          na_action="ignore")  # fmt: skip
        return text.astype(object).where(target.notna(), None)
    return target


def normalise_labels(
    target: pd.Series, label_map: dict[str, str], labels: list[str], where: str
) -> tuple[pd.Series, int]:
    """Map raw label spellings (e.g. '>50K.') to canonical labels; unknown labels are an error."""
    if isinstance(target.dtype, pd.CategoricalDtype):
        spellings = target.cat.categories.isin(list(label_map))
        changed = int(category_counts(target)[spellings].sum())
        mapped = map_categories(target, lambda c: c.map(lambda v: label_map.get(v, v)))
        present = mapped.cat.categories[category_counts(mapped) > 0]
    else:
        mapped = target.replace(label_map) if label_map else target
        changed = int(target.isin(list(label_map)).sum()) if label_map else 0
        present = mapped.dropna().unique()
    unknown = sorted(set(map(str, present)) - set(labels))
    if unknown:
        raise StageError(
            f"{where}: target {target.name!r} has label(s) {unknown[:5]} not in data.labels "
            f"{labels} (add them to data.labels or data.label_map)"
        )
    return mapped, changed


def numeric_target(target: pd.Series, where: str) -> pd.Series:
    """A regression target as float64; missing stays missing (the row is dropped), but a value
    that is not a finite number is an error: silently dropping it would bias the target."""
    numbers = _to_numbers(target)
    bad = ~np.isfinite(numbers) & target.notna().to_numpy()
    if bad.any():
        examples = sorted(set(map(str, target[bad].head(100))))[:5]
        raise StageError(
            f"{where}: target {target.name!r} has {int(bad.sum())} value(s) that are not finite "
            f"numbers, e.g. {examples} (a regression target; list data.labels for classes)"
        )
    return pd.Series(numbers, index=target.index, name=target.name)


def as_text_category(values: pd.Series) -> pd.Series:
    """A text column as a categorical of strings (missing values stay missing)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values if is_text(values) else map_categories(values, lambda c: c.astype(str))
    return values.astype("str").astype("category")


def as_free_text(values: pd.Series) -> pd.Series:
    """A free-text column as strings in Unicode NFC (one spelling of "é", so equal texts hash
    equal); missing values stay missing, and a blank text (nothing but white space) is one."""
    text = values.astype(object).where(values.notna(), None)
    strings = pd.Series(text, index=values.index, dtype="str").str.normalize("NFC")
    return strings.where(~strings.str.fullmatch(r"\s*").fillna(False).astype(bool), None)


def _to_numbers(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):  # parse each distinct value once
        parsed = pd.to_numeric(pd.Series(values.cat.categories), errors="coerce")
        numbers = np.append(parsed.to_numpy(dtype=np.float64, na_value=np.nan), np.nan)
        return numbers[values.cat.codes.to_numpy()]  # code -1 (missing) -> the trailing NaN
    parsed = pd.to_numeric(values, errors="coerce")
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def coerce_types(
    frame: pd.DataFrame, numeric: list[str], categorical: list[str], text: list[str],
    image: list[str] | tuple[str, ...] = (),
) -> tuple[pd.DataFrame, dict[str, int]]:  # fmt: skip
    """Numerics to float64 (unparseable -> missing, counted), categoricals to categoricals of
    strings, free text to NFC strings, images (base64 of the file) to strings as they are."""
    out = frame.copy(deep=False)
    bad: dict[str, int] = {}
    for col in numeric:
        dtype = out[col].dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iu":  # nothing to parse or non-finite
            out[col] = out[col].astype(np.float64)
            continue
        numbers = _to_numbers(out[col])
        numbers[~np.isfinite(numbers)] = np.nan
        newly_missing = int((np.isnan(numbers) & out[col].notna().to_numpy()).sum())
        if newly_missing:
            bad[col] = newly_missing
        out[col] = pd.Series(numbers, index=out.index)
    for col in categorical:
        out[col] = as_text_category(out[col])
    for col in text:
        out[col] = as_free_text(out[col])
    for col in image:
        values = out[col]
        out[col] = pd.Series(values.astype(object).where(values.notna(), None),
                             index=out.index, dtype="str")  # fmt: skip
    return out, bad


def duplicate_records(frame: pd.DataFrame, columns: list[str], hashes: np.ndarray) -> np.ndarray:
    """Rows that repeat a later row on `columns` (keep the last copy), exactly.

    Only rows whose 64-bit hash occurs twice can be copies; those few are compared by value, so
    a hash collision never drops a distinct record.
    """
    drop = np.zeros(len(frame), dtype=bool)
    ordered = np.sort(hashes)  # sorting beats a hash table on 1e7 random 64-bit keys
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size:
        suspects = np.flatnonzero(pd.Index(hashes).isin(np.unique(repeated)))
        drop[suspects] = frame.iloc[suspects].duplicated(subset=columns, keep="last").to_numpy()
    return drop


def clean_features(frame: pd.DataFrame, data: DataParams, where: str) -> pd.DataFrame:
    """Clean feature columns only: what serving applies to incoming raw records."""
    require_columns(frame, data.features, where)
    out = frame[data.features]
    out, _ = strip_whitespace(out)
    out, _ = replace_missing_markers(out, data.missing_markers)
    out, _ = coerce_types(out, data.numeric_features, data.categorical_features,
                          data.text_features, data.image_features)  # fmt: skip
    return out


def clean_table(
    raw: pd.DataFrame, data: DataParams, keep: list[str], where: str
) -> tuple[pd.DataFrame, CleaningReport]:
    """Clean the raw table for training: schema columns + target + `keep` columns.

    Columns in data.drop stay (they are part of the record, just not model features). Exact
    duplicate records (all schema columns and the target) are removed, keeping the last copy, so
    a record in both the training file and a later fixed test file stays in the test file.
    """
    report = CleaningReport(rows_in=len(raw))
    schema = [*data.numeric, *data.categorical, *data.text, *data.image]
    require_columns(raw, [*schema, data.target], where)
    known = {*schema, data.target, *keep, *data.record_keep}
    report.columns_not_used = [str(c) for c in raw.columns if c not in known]
    out = raw[[*schema, data.target, *[k for k in keep if k in raw.columns]]]
    out, report.cells_whitespace_stripped = strip_whitespace(out)
    out, report.missing_markers_replaced = replace_missing_markers(out, data.missing_markers)
    if data.is_classification:
        target, report.labels_normalised = normalise_labels(
            labels_as_text(out[data.target]), data.label_map, data.labels, where
        )
    else:
        target = numeric_target(out[data.target], where)
    out = out.assign(**{data.target: target})
    missing_target = out[data.target].isna().to_numpy()
    report.rows_missing_target = int(missing_target.sum())
    if report.rows_missing_target:
        out = out[~missing_target]
    out, report.numeric_values_unparseable = coerce_types(
        out, data.numeric, data.categorical, data.text, data.image
    )
    if data.is_classification:
        out[data.target] = as_text_category(out[data.target])
    before = len(out)
    if data.time_column and data.time_column in out.columns:
        parsed = pd.to_datetime(out[data.time_column], errors="coerce", utc=True)
        report.times_unparseable = int((parsed.isna() & out[data.time_column].notna()).sum())
        out[data.time_column] = parsed
    identity = data.record_columns_in(out.columns)
    hashes = spark_row_hash(out, identity)
    keep = ~duplicate_records(out, identity, hashes)
    out = out[keep].assign(**{RECORD_HASH_COLUMN: hashes[keep]})
    report.duplicate_rows_removed = before - len(out)
    out = out.reset_index(drop=True)
    report.rows_out = len(out)
    if out.empty:
        raise StageError(f"{where}: no rows left after cleaning")
    if len(out) < 2 and report.duplicate_rows_removed:
        raise StageError(
            f"{where}: all {before} rows are copies of one record "
            f"({report.duplicate_rows_removed} duplicates removed, 1 row left)"
        )
    return out, report
