"""The leakage gate and the split manifest.

The gate blocks the pipeline when a model could see its test rows in training: identical feature
rows in train/val and test (unless params drop or allow them), a group in two splits, or time
overlap between train, val and test. The manifest lists every record's hash per split.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from trainflow.data.split import row_hashes
from trainflow.errors import StageError
from trainflow.params import DataParams, SplitParams


@dataclass
class LeakageReport:
    shared_feature_rows: int = 0
    shared_feature_rows_dropped: int = 0
    groups_in_two_splits: int = 0
    time_overlap: bool = False
    passed: bool = True
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["problems"] = list(self.problems)
        return out


def _shared_with_test(frame: pd.DataFrame, test_profiles: np.ndarray, features: list[str]):
    """Which rows of `frame` have the feature values of some test row (sorted-array lookup)."""
    if frame.empty:
        return np.zeros(0, dtype=bool)
    return np.isin(row_hashes(frame, features), test_profiles, assume_unique=False)


def drop_shared_feature_rows(
    splits: dict[str, pd.DataFrame], features: list[str]
) -> tuple[dict[str, pd.DataFrame], int]:
    """Remove from train and val every row whose feature values also occur in test."""
    test_profiles = np.unique(row_hashes(splits["test"], features))
    out, dropped = dict(splits), 0
    for name in ("train", "val"):
        shared = _shared_with_test(splits[name], test_profiles, features)
        dropped += int(shared.sum())
        out[name] = splits[name][~shared].reset_index(drop=True)
    return out, dropped


def check_leakage(
    splits: dict[str, pd.DataFrame], data: DataParams, params: SplitParams, dropped: int = 0
) -> LeakageReport:
    problems: list[str] = []
    test_profiles = np.unique(row_hashes(splits["test"], data.features))
    shared = sum(
        int(_shared_with_test(splits[n], test_profiles, data.features).sum())
        for n in ("train", "val")
    )
    if shared and params.shared_feature_rows != "allow":
        problems.append(
            f"{shared} train/val row(s) have the same feature values as a test row "
            "(split.shared_feature_rows: drop_from_train removes them, allow accepts them)"
        )
    groups_crossing = 0
    if data.group_column:
        members = {n: set(f[data.group_column].dropna().unique()) for n, f in splits.items()}
        crossing = (members["train"] & members["val"]) | (members["train"] & members["test"])
        crossing |= members["val"] & members["test"]
        groups_crossing = len(crossing)
        if crossing:
            examples = sorted(map(str, crossing))[:3]
            problems.append(
                f"{groups_crossing} group(s) of {data.group_column!r} appear in two splits, "
                f"e.g. {examples}"
            )
    overlap = False
    if params.strategy == "time" and data.time_column:
        t = {n: f[data.time_column] for n, f in splits.items()}
        overlap = bool(t["train"].max() >= t["val"].min() or t["val"].max() >= t["test"].min())
        if overlap:
            problems.append(
                f"time overlap on {data.time_column!r}: train ends {t['train'].max()}, val "
                f"{t['val'].min()}–{t['val'].max()}, test starts {t['test'].min()}"
            )
    return LeakageReport(
        shared_feature_rows=shared,
        shared_feature_rows_dropped=dropped,
        groups_in_two_splits=groups_crossing,
        time_overlap=overlap,
        passed=not problems,
        problems=tuple(problems),
    )


def enforce(report: LeakageReport) -> None:
    if not report.passed:
        raise StageError("leakage gate: " + "; ".join(report.problems))


def manifest(splits: dict[str, pd.DataFrame], columns: list[str]) -> tuple[pd.DataFrame, dict]:
    """Every record's hash per split, and per split its row count and a sha256 of its hashes."""
    parts, summary = [], {}
    for name, frame in splits.items():
        hashes = np.sort(row_hashes(frame, columns))
        parts.append(pd.DataFrame({"split": name, "row_hash": hashes}))
        summary[name] = {
            "rows": len(frame),
            "sha256": hashlib.sha256(hashes.tobytes()).hexdigest(),
        }
    return pd.concat(parts, ignore_index=True), summary
