"""Train/val/test splits: stratified random (default), group-aware or time-aware, all seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.errors import StageError
from trainflow.params import DataParams, SplitParams


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit content hash per row over `columns` (independent of the frame's index)."""
    return pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()


def _stratified(frame: pd.DataFrame, size: float, target: str, seed: int, what: str):
    counts = frame[target].value_counts()
    if len(counts) < 2:
        raise StageError(f"split: target {target!r} has a single class; cannot stratify {what}")
    if counts.min() < 2:
        raise StageError(
            f"split: class {counts.idxmin()!r} of {target!r} has {counts.min()} row(s); "
            f"need at least 2 per class to stratify {what}"
        )
    codes = frame[target].astype("category").cat.codes.to_numpy()  # ints: fast to stratify
    keep, held = train_test_split(
        np.arange(len(frame)), test_size=size, random_state=seed, stratify=codes
    )
    return frame.iloc[np.sort(keep)], frame.iloc[np.sort(held)]


def _by_group(frame: pd.DataFrame, size: float, group: str, seed: int, what: str):
    groups = frame[group]
    if groups.isna().any():
        raise StageError(f"split: group column {group!r} has {int(groups.isna().sum())} missing")
    if groups.nunique() < 2:
        raise StageError(f"split: group column {group!r} has one group; cannot split {what}")
    splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
    keep, held = next(splitter.split(frame, groups=groups))
    return frame.iloc[keep], frame.iloc[held]


def _by_time(frame: pd.DataFrame, params: SplitParams, column: str) -> dict[str, pd.DataFrame]:
    """Train before val before test: cut at timestamps, so one instant never spans two splits."""
    times = frame[column]
    if times.isna().any():
        raise StageError(
            f"split: time column {column!r} has {int(times.isna().sum())} missing or "
            "unparseable value(s)"
        )
    ordered = np.sort(times.to_numpy())
    test_from = ordered[int(len(ordered) * (1 - params.test_size))]
    rest = ordered[ordered < test_from]
    if len(rest) == 0:
        raise StageError(f"split: time column {column!r} has too few distinct times to split")
    val_from = rest[int(len(rest) * (1 - params.val_size))]
    splits = {
        "train": frame[times < val_from],
        "val": frame[(times >= val_from) & (times < test_from)],
        "test": frame[times >= test_from],
    }
    empty = [name for name, part in splits.items() if part.empty]
    if empty:
        raise StageError(f"split: time column {column!r} leaves {empty} empty (too few times)")
    return splits


def split_table(
    clean: pd.DataFrame, data: DataParams, params: SplitParams, seed: int
) -> dict[str, pd.DataFrame]:
    """Train / val / test frames by `params.strategy`.

    With `test_source_file` set, rows from that source file are the test split (Adult's own
    adult.test) and the rest is split into train/val; otherwise test is drawn the same way.
    """
    if params.strategy == "time":
        splits = _by_time(clean, params, str(data.time_column))
        return {name: frame.reset_index(drop=True) for name, frame in splits.items()}
    if params.test_source_file is not None:
        if SOURCE_FILE_COLUMN not in clean.columns:
            raise StageError(f"split: column {SOURCE_FILE_COLUMN!r} missing from prepared data")
        is_test = clean[SOURCE_FILE_COLUMN] == params.test_source_file
        if not is_test.any():
            raise StageError(
                f"split.test_source_file: no rows come from {params.test_source_file!r} "
                f"(source files: {sorted(clean[SOURCE_FILE_COLUMN].unique())[:5]})"
            )
        test, rest = clean[is_test], clean[~is_test]
        if rest.empty:
            raise StageError("split: every row is in the test source file; none left to train")
    elif params.strategy == "group":
        rest, test = _by_group(clean, params.test_size, str(data.group_column), seed, "test")
    else:
        rest, test = _stratified(clean, params.test_size, data.target, seed, "test")
    if params.strategy == "group":
        train, val = _by_group(rest, params.val_size, str(data.group_column), seed, "val")
    else:
        train, val = _stratified(rest, params.val_size, data.target, seed, "val")
    splits = {"train": train, "val": val, "test": test}
    return {name: frame.reset_index(drop=True) for name, frame in splits.items()}


def hashes_by_split(splits: dict[str, pd.DataFrame], columns: list[str]) -> dict[str, np.ndarray]:
    """Each split's row hashes over `columns`: computed once, shared by every check."""
    return {name: row_hashes(frame, columns) for name, frame in splits.items()}


def check_disjoint(records: dict[str, np.ndarray]) -> None:
    """Raise if any record (by its hash, per split) appears in two splits."""
    unique = {name: np.unique(h) for name, h in records.items()}
    names = list(unique)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = np.intersect1d(unique[a], unique[b], assume_unique=True)
            if shared.size:
                raise StageError(f"split: {shared.size} record(s) appear in both {a} and {b}")


def split_summary(splits: dict[str, pd.DataFrame], data: DataParams) -> dict:
    """Sizes and class balance per split."""
    summary: dict = {}
    total = sum(len(f) for f in splits.values())
    for name, frame in splits.items():
        counts = frame[data.target].value_counts()
        summary[name] = {
            "rows": len(frame),
            "share": round(len(frame) / total, 4),
            "positive_rate": round(float((frame[data.target] == data.positive_label).mean()), 4),
            "class_counts": {label: int(counts.get(label, 0)) for label in data.labels},
        }
    return summary
