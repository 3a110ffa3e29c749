"""Seeded, stratified train/val/test splits, and the check that no record is in two splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.errors import StageError
from trainflow.params import DataParams, SplitParams


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit content hash per row over `columns` (order-independent of the frame's index)."""
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
    return train_test_split(frame, test_size=size, random_state=seed, stratify=frame[target])


def split_table(
    clean: pd.DataFrame, data: DataParams, params: SplitParams, seed: int
) -> dict[str, pd.DataFrame]:
    """Train / val / test frames.

    With `test_source_file` set, rows from that source file are the test split (Adult's own
    adult.test) and the rest is split into train/val; otherwise test is a stratified sample too.
    """
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
    else:
        rest, test = _stratified(clean, params.test_size, data.target, seed, "test")
    train, val = _stratified(rest, params.val_size, data.target, seed, "val")
    splits = {"train": train, "val": val, "test": test}
    return {name: frame.reset_index(drop=True) for name, frame in splits.items()}


def check_disjoint(splits: dict[str, pd.DataFrame], columns: list[str]) -> None:
    """Raise if any record (hash over `columns`) appears in two splits."""
    hashes = {name: set(row_hashes(frame, columns).tolist()) for name, frame in splits.items()}
    names = list(hashes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = hashes[a] & hashes[b]
            if shared:
                raise StageError(f"split: {len(shared)} record(s) appear in both {a} and {b}")


def split_summary(splits: dict[str, pd.DataFrame], data: DataParams) -> dict:
    """Sizes and class balance per split, and feature profiles shared by train and test."""
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
    train_profiles = set(row_hashes(splits["train"], data.features).tolist())
    test_profiles = row_hashes(splits["test"], data.features)
    summary["test_rows_with_feature_profile_in_train"] = int(
        sum(h in train_profiles for h in test_profiles.tolist())
    )
    return summary
