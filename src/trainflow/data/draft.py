"""Draft params.yaml's `data:` section from a table, for a person to review and commit.

Like AutoGluon's feature-type inference, each column's kind is read off the values: numbers
(also numbers written as text), categories (text, booleans), identifiers (one distinct value per
row), free text, images (files as base64, as an images source ingests them), dates (the time
column), constants (kept out). Missing
markers are the common spellings found in the text columns; the target's task and labels come
from its values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trainflow.data.profile import infer_task
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.errors import StageError
from trainflow.params import DataParams, SingleFeatureParams, label_text

COMMON_MARKERS = ("?", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "-", "")
NUMBER_SHARE = 0.95  # of the present values, to read a text column as numbers (or dates)
ID_NAMES = ("id", "uuid", "key", "code")  # a unique column with such a name is an identifier
TEXT_MIN_DISTINCT = 50  # free text: many distinct values ...
TEXT_MIN_WORDS = 3.0  # ... of several words on average
NEAR_UNIQUE = 0.9  # a text column with this share of distinct values is an identifier ...
NEAR_UNIQUE_MIN_ROWS = 20  # ... (and a row number one), given this many rows to judge by
NAME_MAX_WORDS = 6.0  # ... when its values are short (a name, not a sentence: that is text)


@dataclass
class Draft:
    """The drafted `data:` section and why each column went where it went."""

    data: dict
    kept_out: dict[str, str] = field(default_factory=dict)  # column -> why
    notes: list[str] = field(default_factory=list)


def _text(values: pd.Series) -> pd.Series:
    """Present values as stripped strings."""
    present = values.dropna()
    if isinstance(present.dtype, pd.CategoricalDtype):
        present = present.astype(str)
    return present.astype(str).str.strip()


def missing_markers(frame: pd.DataFrame) -> list[str]:
    """The common missing-value spellings that occur in the table's text columns."""
    found: set[str] = set()
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        distinct = set(_text(values).unique())
        found |= distinct & set(COMMON_MARKERS)
    return [m for m in COMMON_MARKERS if m in found]


def _share_parsed(text: pd.Series, parse) -> float:
    distinct = pd.Series(text.unique())
    if distinct.empty:
        return 0.0
    ok = parse(distinct).notna()
    counts = text.value_counts()
    return float(counts[distinct[ok]].sum() / counts.sum())


def _numbers(distinct: pd.Series) -> pd.Series:
    return pd.to_numeric(distinct, errors="coerce")


def _dates(distinct: pd.Series) -> pd.Series:
    looks = distinct.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True)
    parsed = pd.to_datetime(distinct.where(looks), errors="coerce", format="mixed")
    return parsed


IMAGE_SAMPLE = 5  # cells decoded to call a column of base64 text images


def _images(text: pd.Series) -> bool:
    """Base64 text whose first cells decode as image files."""
    from trainflow.data.images import check_image

    sample = text.head(IMAGE_SAMPLE).tolist()
    if not all(len(v) >= 24 and v.isascii() and " " not in v for v in sample):
        return False
    return all(check_image(v, 1 << 30) is None for v in sample)


def column_kind(name: str, values: pd.Series, markers: list[str]) -> str:
    """numeric | categorical | id | text | image | date | constant | empty."""
    if pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    n = len(values)
    if pd.api.types.is_numeric_dtype(values):
        present = values.dropna()
        if present.empty:
            return "empty"
        distinct = present.nunique()
        if distinct == 1:
            return "constant"
        integral = bool(np.all(np.mod(present.to_numpy(dtype=np.float64), 1) == 0))
        if integral and distinct == n and (_id_name(name) or _row_number(values)):
            return "id"
        return "numeric"
    text = _text(values)
    text = text[~text.isin(markers)]
    if text.empty:
        return "empty"
    distinct = text.nunique()
    if distinct == 1:
        return "constant"
    if _images(text):
        return "image"
    if _share_parsed(text, _numbers) >= NUMBER_SHARE:
        return "numeric"
    if _share_parsed(text, _dates) >= NUMBER_SHARE:
        return "date"
    words = float(text.str.split().str.len().mean())
    near_unique = len(text) >= NEAR_UNIQUE_MIN_ROWS and distinct >= NEAR_UNIQUE * len(text)
    if near_unique and words < NAME_MAX_WORDS:
        return "id"  # names, case numbers, free-form codes: no category repeats enough to learn
    if distinct >= TEXT_MIN_DISTINCT and words >= TEXT_MIN_WORDS:
        return "text"
    if distinct == len(text) == n and (_id_name(name) or words < 2):
        return "id"
    return "categorical"


def _row_number(values: pd.Series) -> bool:
    """Consecutive integers in file order (1, 2, 3, ... or 0, 1, 2, ...; either direction):
    the row number R's write.csv, pandas' to_csv and spreadsheets add, whatever its name.
    As a feature it is a leak wherever the file is sorted by anything the target relates to."""
    steps = np.diff(values.to_numpy(dtype=np.float64))
    return len(values) >= NEAR_UNIQUE_MIN_ROWS and bool(np.all(steps == 1) or np.all(steps == -1))


def id_reason(name: str, values: pd.Series) -> str:
    """Why a column was drafted as an identifier, in the words of one note."""
    if pd.api.types.is_numeric_dtype(values) and _row_number(values.dropna()):
        return f"{name!r}: consecutive integers in file order, a row number: an identifier"
    distinct, present = values.nunique(), int(values.notna().sum())
    if distinct == present == len(values):
        return f"{name!r}: a different value in every row: an identifier"
    return (f"{name!r}: {distinct} distinct values in {present} rows (names, case numbers, "
            "codes): an identifier, not a category to learn")  # fmt: skip


def _id_name(name: str) -> bool:
    lowered = str(name).lower().replace("-", "_").replace(" ", "_")
    return any(lowered == k or lowered.endswith(f"_{k}") or lowered.startswith(f"{k}_")
               for k in ID_NAMES)  # fmt: skip


REASONS = {"date": "a date (data.time_column with split.strategy time splits by it)",
           "constant": "one value only", "empty": "no values"}  # fmt: skip


def draft_data(frame: pd.DataFrame, target: str) -> Draft:
    """The `data:` section a table suggests, with `target` as the target column."""
    if target not in frame.columns:
        raise StageError(f"--target: column {target!r} is not in the source "
                         f"(columns: {list(frame.columns)[:20]})")  # fmt: skip
    markers = missing_markers(frame)
    kinds = {str(c): column_kind(str(c), frame[c], markers) for c in frame.columns
             if c not in (target, SOURCE_FILE_COLUMN)}  # fmt: skip
    task, labels = infer_task(frame[target], markers)
    if task != "regression":
        labels = _typed_labels(frame[target], labels)
    data = {
        "target": target, "task": "auto", "labels": labels, "label_map": {},
        "missing_markers": markers,
        "numeric": [c for c, k in kinds.items() if k == "numeric"],
        "categorical": [c for c, k in kinds.items() if k == "categorical"],
        "text": [c for c, k in kinds.items() if k == "text"],
        "image": [c for c, k in kinds.items() if k == "image"],
        "drop": [], "id_columns": [c for c, k in kinds.items() if k == "id"],
        "group_column": None, "time_column": None,
    }  # fmt: skip
    draft = Draft(data=data, kept_out={c: REASONS[k] for c, k in kinds.items() if k in REASONS})
    dates = [c for c, k in kinds.items() if k == "date"]
    if len(dates) == 1:
        data["time_column"] = dates[0]
        draft.kept_out.pop(dates[0])
        draft.notes.append(f"{dates[0]!r} is the time column: set split.strategy time to train "
                           "on the past and test on the future")  # fmt: skip
    for column in data["id_columns"]:
        draft.notes.append(id_reason(column, frame[column]) + " (data.id_columns: kept with "
                           "each record, never a feature)")  # fmt: skip
    draft.notes.append(f"target {target!r}: {task}" + (f", labels {labels}" if labels else ""))
    return draft


def _typed_labels(target: pd.Series, labels: list[str]) -> list[str]:
    """Labels in their natural order: numbers numerically (0 before 1, so 1 is positive),
    text alphabetically; spelled as params and the cleaned data spell them."""
    numbers = pd.to_numeric(pd.Series(labels), errors="coerce")
    if numbers.notna().all():
        return [label_text(float(v)) for v in sorted(numbers)]
    return sorted(label_text(v) for v in labels)


GATE_BY_TASK = {  # success criteria a drafted params.yaml starts with: no worse than linear
    "binary": ("accuracy", 0.01),
    "multiclass": ("accuracy", 0.01),
    "regression": ("r2", 0.02),
}


def baseline_allowance(task: str, test_rows: int) -> tuple[str, float]:
    """How far below the linear baseline the drafted gate lets the champion be on test: the
    task's floor, or the test split's own noise where that is larger (1 / sqrt(test rows):
    about two standard errors of an accuracy near 0.5), so a table of a few hundred rows is
    not stopped by chance: on 175 test rows one point of accuracy is under two rows."""
    metric, floor = GATE_BY_TASK[task]
    noise = 1 / max(1, test_rows) ** 0.5
    return metric, round(max(floor, noise), 3)


def yaml_exact(value):
    """`value` with every string that YAML 1.1 would read as something else (No, yes, on,
    off, y, null, ~, 1, 1.5, 2024-01-01, ...) marked to be written in double quotes, so that
    params.yaml read back (PyYAML here, ruamel in DVC) gives exactly the drafted strings."""
    import yaml
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, dict):
        return {yaml_exact(k): yaml_exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [yaml_exact(v) for v in value]
    if isinstance(value, str):
        try:
            same = yaml.safe_load(value) == value and isinstance(yaml.safe_load(value), str)
        except yaml.YAMLError:
            same = False
        return value if same and value.strip() == value else DoubleQuotedScalarString(value)
    return value


def params_edits(draft: Draft, task: str, source_files: list[str], test_file: str | None,
                 test_rows: int = 10_000) -> dict:  # fmt: skip
    """The params.yaml values to write beside the `data:` section, so that what referred to the
    previous table (slices, fairness columns, log1p columns, the gate, the test file) no
    longer does: {dotted key: value}."""
    metric, allowance = baseline_allowance(task, test_rows)
    gate = {"min": {}, "max": {}, "max_fairness_gap": {},
            "max_below_baseline": {metric: allowance}}  # fmt: skip
    edits = {"data": draft.data, "evaluate.slices": [], "evaluate.bands": {},
             "evaluate.fairness": [], "train.preprocess.log1p": [], "gate": gate}  # fmt: skip
    if test_file is not None and test_file not in source_files:
        edits["split.test_source_file"] = None
        draft.notes.append(f"split.test_source_file {test_file!r} is not a file of this source: "
                           "a stratified test split instead")  # fmt: skip
    draft.notes.append(f"the gate now asks only for no worse than the linear baseline ({metric} "
                       f"at most {allowance:g} below it on about {test_rows:,} test rows): "
                       "declare your success criteria under gate")  # fmt: skip
    return edits


LEAK_SAMPLE_SEED = 0
LEAK_VAL_SHARE = 0.3


def leak_drops(raw: pd.DataFrame, data: DataParams, check: SingleFeatureParams) -> dict[str, str]:
    """The features the single-feature leak check (trainflow.data.single_feature) flags on a
    seeded random split of the table itself, each with its one line: `data init` drafts them
    into data.drop, so a leak never trains silently and the run it starts is not stopped at
    split for it. Never all of them: the strongest stays when nothing else would."""
    from trainflow.data.clean import clean_table
    from trainflow.data.single_feature import single_feature_check

    clean, _ = clean_table(raw, data, [], "the source")
    if len(clean) < 20:
        return {}
    order = np.random.default_rng(LEAK_SAMPLE_SEED).permutation(len(clean))
    cut = int(len(clean) * (1 - LEAK_VAL_SHARE))
    train, val = clean.iloc[order[:cut]], clean.iloc[order[cut:]]
    report = single_feature_check(train, val, data, check)
    lines = {col: next(line for line in report.flagged if f"{col!r}" in line)
             for col in report.flagged_columns}  # fmt: skip
    tabular = [*data.numeric_features, *data.categorical_features, *data.text, *data.image]
    if set(lines) >= set(tabular):  # nothing left to learn from: keep the strongest
        lines.pop(report.top[0], None)
    return lines
