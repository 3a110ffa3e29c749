"""The leakage gate and the split manifest.

The gate blocks the pipeline when a model could see its test rows in training: the same record
in two splits (judged on every record column: features, target, ids, weights, groups, times),
a group in two splits, or time overlap between train, val and test. Rows of different records
that share their feature values with a test row (different people with the same answers) are
not leakage: they are counted and reported (`feature_collisions`), and
`split.shared_feature_rows` may still drop them or stop on them. The manifest lists every
record's hash per split.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from trainflow.errors import StageError
from trainflow.params import DataParams, SplitParams


@dataclass
class LeakageReport:
    records_in_two_splits: int = 0
    feature_collisions: int = 0  # train/val rows with the feature values of some test row
    feature_collisions_dropped: int = 0
    groups_in_two_splits: int = 0
    time_overlap: bool = False
    passed: bool = True
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["problems"] = list(self.problems)
        return out


def shared_with_test(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """For train and val: which rows have the feature values (hash) of some test row."""
    test_profiles = pd.Index(features["test"]).unique()  # hash-table lookups, no sorting
    return {name: pd.Index(features[name]).isin(test_profiles) for name in ("train", "val")}


def without_shared_feature_rows(
    features: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], int]:
    """Keep-masks per split that remove from train and val every row whose feature values also
    occur in test, and how many rows they remove."""
    shared = shared_with_test(features)
    keep = {n: ~shared[n] if n in shared else np.ones(len(h), bool) for n, h in features.items()}
    return keep, sum(int(mask.sum()) for mask in shared.values())


def select(parts: dict, keep: dict[str, np.ndarray]) -> dict:
    """Apply per-split keep-masks to frames (re-indexed) or hash arrays alike."""
    out = {}
    for name, part in parts.items():
        kept = part[keep[name]]
        out[name] = kept.reset_index(drop=True) if isinstance(part, pd.DataFrame) else kept
    return out


def records_in_two_splits(records: dict[str, np.ndarray]) -> int:
    """Records (by their hash over every record column) that occur in more than one split."""
    seen = [pd.Index(h).unique() for h in records.values()]
    shared = 0
    for i, left in enumerate(seen):
        for right in seen[i + 1 :]:
            shared += int(left.isin(right).sum())
    return shared


def check_leakage(
    splits: dict[str, pd.DataFrame],
    features: dict[str, np.ndarray],
    data: DataParams,
    params: SplitParams,
    dropped: int = 0,
    records: dict[str, np.ndarray] | None = None,
) -> LeakageReport:
    """`features`: each split's feature-row hashes (columnar.row_hashes over data.features);
    `records`: each split's record hashes (prepare's hash over data.record_columns)."""
    twice = records_in_two_splits(records) if records is not None else 0
    shared = sum(int(mask.sum()) for mask in shared_with_test(features).values())
    crossing: set = set()
    if data.group_column:
        members = {n: set(f[data.group_column].dropna().unique()) for n, f in splits.items()}
        crossing = (members["train"] & members["val"]) | (members["train"] & members["test"])
        crossing |= members["val"] & members["test"]
    overlap = None
    if params.strategy == "time" and data.time_column:
        t = {n: f[data.time_column] for n, f in splits.items()}
        train_end, val_from, val_end, test_from = (t["train"].max(), t["val"].min(),
                                                   t["val"].max(), t["test"].min())  # fmt: skip
        if train_end >= val_from or val_end >= test_from:
            overlap = (f"time overlap on {data.time_column!r}: train ends {train_end}, val "
                       f"{val_from}–{val_end}, test starts {test_from}")  # fmt: skip
    groups = (len(crossing), sorted(map(str, crossing))[:3])
    return leakage_report(params, twice, shared, dropped, data.group_column, groups, overlap)


def leakage_report(
    params: SplitParams, twice: int, shared: int, dropped: int = 0,
    group_column: str | None = None, groups: tuple[int, list[str]] = (0, []),
    overlap: str | None = None,
) -> LeakageReport:  # fmt: skip
    """The gate's verdict from what an engine counted: records in two splits, train / val rows
    sharing a test row's feature values, groups in two splits (how many, a few examples), a
    time overlap (its description)."""
    problems: list[str] = []
    if twice:
        problems.append(f"{twice} record(s) are in two splits (the same values in every record "
                        "column, ids and weights included)")  # fmt: skip
    if shared and params.shared_feature_rows == "fail":
        problems.append(
            f"{shared} train/val row(s) have the same feature values as a test row "
            "(split.shared_feature_rows: fail; allow keeps them, drop_from_train removes them)"
        )
    if groups[0]:
        problems.append(f"{groups[0]} group(s) of {group_column!r} appear in two splits, "
                        f"e.g. {groups[1]}")  # fmt: skip
    if overlap:
        problems.append(overlap)
    return LeakageReport(
        records_in_two_splits=twice,
        feature_collisions=shared,
        feature_collisions_dropped=dropped,
        groups_in_two_splits=groups[0],
        time_overlap=overlap is not None,
        passed=not problems,
        problems=tuple(problems),
    )


def enforce(report: LeakageReport) -> None:
    if not report.passed:
        raise StageError("leakage gate: " + "; ".join(report.problems))


def sorted_digest(ordered: np.ndarray) -> dict:
    """A split's entry in manifest.json from its sorted record hashes: rows and their sha256
    (of the array's own buffer: `tobytes()` would copy it)."""
    return {"rows": len(ordered),
            "sha256": hashlib.sha256(np.ascontiguousarray(ordered).data).hexdigest()}  # fmt: skip


def manifest(records: dict[str, np.ndarray]) -> tuple[pd.DataFrame, dict]:
    """Every record's hash per split, and per split its row count and a sha256 of its hashes."""
    names = list(records)
    hashes = [np.sort(part) for part in records.values()]
    summary = {name: sorted_digest(h) for name, h in zip(names, hashes, strict=True)}
    split = np.repeat(np.arange(len(names), dtype=np.int8), [len(h) for h in hashes])
    rows = pd.DataFrame({"split": pd.Categorical.from_codes(split, categories=names),
                         "row_hash": np.concatenate(hashes)})  # fmt: skip
    return rows, summary
