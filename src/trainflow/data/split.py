"""Train/val/test splits: stratified random (default), group-aware, time-aware or by record
hash, all seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainflow.data.sources import FEEDBACK_PREFIX, SOURCE_FILE_COLUMN
from trainflow.data.xxhash import spark_row_hash
from trainflow.errors import StageError
from trainflow.params import DataParams, SplitParams

TARGET_BINS = 10


def _class_codes(target: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's class as an int (classes in sorted order): fast to count and stratify."""
    values = target.astype("category")
    classes = sorted(values.cat.categories)
    return values.cat.reorder_categories(classes).cat.codes.to_numpy(), list(map(str, classes))


def _strata(target: pd.Series, data: DataParams) -> tuple[np.ndarray, list[str]]:
    """What a stratified split balances: the class, or a numeric target's decile, so every
    split sees the whole range of a regression target."""
    if data.is_classification:
        return _class_codes(target)
    bins = pd.qcut(
        target.rank(method="first"), q=max(1, min(TARGET_BINS, len(target) // 2)), labels=False
    )
    codes = bins.to_numpy(dtype=np.int64)
    edges = target.groupby(codes).agg(["min", "max"])
    return codes, [
        f"{data.target} in [{lo:g}, {hi:g}]" for lo, hi in edges.itertuples(index=False)
    ]


def _stratified(
    positions: np.ndarray,
    codes: np.ndarray,
    classes: list[str],
    size: float,
    seed: int,
    target: str,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified cut of `positions` (row numbers) into kept and held-out rows.

    Each class gives round(size x its rows) held-out rows (at least one, never all of them),
    drawn by a seeded shuffle. Vectorised over row numbers: sklearn's splitter builds Python
    lists of row numbers, seconds at 1e7 rows.
    """
    classes_here = codes[positions]
    counts = np.bincount(classes_here, minlength=len(classes))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        raise StageError(f"split: target {target!r} has a single class; cannot stratify {what}")
    smallest = present[np.argmin(counts[present])]
    if counts[smallest] < 2:
        raise StageError(
            f"split: class {classes[smallest]!r} of {target!r} has {counts[smallest]} row(s); "
            f"need at least 2 per class to stratify {what}"
        )
    n_held = np.clip(np.round(counts * size).astype(np.int64), 1, np.maximum(counts - 1, 1))
    order = np.random.default_rng(seed).permutation(len(positions))
    grouped = order[np.argsort(classes_here[order], kind="stable")]  # by class, shuffled within
    starts = np.cumsum(counts) - counts
    held = np.zeros(len(positions), dtype=bool)
    for c in present:
        held[grouped[starts[c] : starts[c] + n_held[c]]] = True
    return positions[~held], positions[held]  # both stay in row order


def _by_group(
    positions: np.ndarray, groups: pd.Series, size: float, seed: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    mine = groups.iloc[positions]
    missing = int(mine.isna().sum())
    if missing:
        raise StageError(f"split: group column {groups.name!r} has {missing} missing")
    if mine.nunique() < 2:
        raise StageError(f"split: group column {groups.name!r} has one group; cannot split {what}")
    from sklearn.model_selection import GroupShuffleSplit  # import costs ~1.5 s: only here

    splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
    keep, held = next(splitter.split(positions, groups=mine.to_numpy()))
    return positions[keep], positions[held]


def record_draws(clean: pd.DataFrame, data: DataParams, seed: int) -> np.ndarray:
    """Each record's draw in [0, 1): Spark's `xxhash64` of its record columns salted by the
    seed, top 53 bits. A function of the record alone: the same in any row order, chunking or
    partitioning, and in Spark as `shiftrightunsigned(xxhash64(lit(seed).cast("long"),
    *record_columns), 11) / 2^53`."""
    columns = data.record_columns_in(clean.columns)
    hashes = spark_row_hash(clean, columns, salt=seed).view(np.uint64)
    return (hashes >> np.uint64(11)).astype(np.float64) / float(2**53)


def val_cut(params: SplitParams, fixed_test: bool) -> float:
    """The draw below which a non-test record is val under the hash strategy: the next
    val_size of what test leaves, or val_size itself when test is a fixed source file. Both
    engines cut here."""
    if fixed_test:
        return params.val_size
    return params.test_size + (1 - params.test_size) * params.val_size


def _by_hash(clean: pd.DataFrame, data: DataParams, params: SplitParams, seed: int,
             test: np.ndarray | None) -> dict[str, np.ndarray]:  # fmt: skip
    """test: draw < test_size; val: the next val_size of what is left; train: the rest (or,
    with `test` given, val and train from the other rows). No sort and no shuffle: sizes are
    met in expectation (class balance too), not to the row."""
    draw = record_draws(clean, data, seed)
    if test is None:
        is_test = draw < params.test_size
        is_val = ~is_test & (draw < val_cut(params, fixed_test=False))
    else:
        is_test = np.zeros(len(clean), dtype=bool)
        is_test[test] = True
        is_val = ~is_test & (draw < val_cut(params, fixed_test=True))
    splits = {"train": np.flatnonzero(~is_test & ~is_val), "val": np.flatnonzero(is_val),
              "test": np.flatnonzero(is_test)}  # fmt: skip
    empty = [name for name, rows in splits.items() if not rows.size]
    if empty:
        raise StageError(f"split: strategy hash leaves {empty} empty ({len(clean)} rows)")
    return splits


def _by_time(frame: pd.DataFrame, params: SplitParams, column: str) -> dict[str, np.ndarray]:
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
        "train": np.flatnonzero(times < val_from),
        "val": np.flatnonzero((times >= val_from) & (times < test_from)),
        "test": np.flatnonzero(times >= test_from),
    }
    empty = [name for name, part in splits.items() if not part.size]
    if empty:
        raise StageError(f"split: time column {column!r} leaves {empty} empty (too few times)")
    return splits


def split_positions(
    clean: pd.DataFrame, data: DataParams, params: SplitParams, seed: int
) -> dict[str, np.ndarray]:
    """Row numbers of `clean` in train / val / test (below); rows of served-traffic feedback
    (ingest.feedback) are all training rows: the test split stays the same rows whatever
    feedback arrives, so a retrained model and the one in production meet on equal terms."""
    if SOURCE_FILE_COLUMN not in clean.columns:
        return _split_positions(clean, data, params, seed)
    feedback = clean[SOURCE_FILE_COLUMN].astype(str).str.startswith(FEEDBACK_PREFIX).to_numpy()
    if not feedback.any():
        return _split_positions(clean, data, params, seed)
    source = np.flatnonzero(~feedback)
    parts = _split_positions(clean.take(source).reset_index(drop=True), data, params, seed)
    parts = {name: source[rows] for name, rows in parts.items()}
    parts["train"] = np.sort(np.concatenate([parts["train"], np.flatnonzero(feedback)]))
    return parts


def _split_positions(
    clean: pd.DataFrame, data: DataParams, params: SplitParams, seed: int
) -> dict[str, np.ndarray]:
    """Row numbers of `clean` in train / val / test, by `params.strategy`.

    With `test_source_file` set, rows from that source file are the test split (Adult's own
    adult.test) and the rest is split into train/val; otherwise test is drawn the same way.
    Only row numbers and class codes move here; each split's rows are taken once, afterwards.
    """
    if params.strategy == "time":
        return _by_time(clean, params, str(data.time_column))
    everything = np.arange(len(clean))
    if params.strategy == "hash" and params.test_source_file is None:
        return _by_hash(clean, data, params, seed, None)
    if params.strategy == "group":
        groups = clean[str(data.group_column)]
    elif params.strategy != "hash":
        codes, classes = _strata(clean[data.target], data)
    if params.test_source_file is not None:
        if SOURCE_FILE_COLUMN not in clean.columns:
            raise StageError(f"split: column {SOURCE_FILE_COLUMN!r} missing from prepared data")
        is_test = (clean[SOURCE_FILE_COLUMN] == params.test_source_file).to_numpy()
        if not is_test.any():
            raise StageError(
                f"split.test_source_file: no rows come from {params.test_source_file!r} "
                f"(source files: {sorted(map(str, clean[SOURCE_FILE_COLUMN].unique()))[:5]})"
            )
        test, rest = everything[is_test], everything[~is_test]
        if not rest.size:
            raise StageError("split: every row is in the test source file; none left to train")
        if params.strategy == "hash":
            return _by_hash(clean, data, params, seed, test)
    elif params.strategy == "group":
        rest, test = _by_group(everything, groups, params.test_size, seed, "test")
    else:
        rest, test = _stratified(everything, codes, classes, params.test_size, seed,
                                 data.target, "test")  # fmt: skip
    if params.strategy == "group":
        train, val = _by_group(rest, groups, params.val_size, seed, "val")
    else:
        train, val = _stratified(rest, codes, classes, params.val_size, seed, data.target, "val")
    return {"train": train, "val": val, "test": test}


def take_splits(clean: pd.DataFrame, positions: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    return {name: clean.take(rows).reset_index(drop=True) for name, rows in positions.items()}


def split_table(
    clean: pd.DataFrame, data: DataParams, params: SplitParams, seed: int
) -> dict[str, pd.DataFrame]:
    """Train / val / test frames by `params.strategy` (see split_positions)."""
    return take_splits(clean, split_positions(clean, data, params, seed))


def at_positions(values: np.ndarray, positions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per split, the entries of a per-row array (hashes of `clean`'s rows) at its row numbers."""
    return {name: values[rows] for name, rows in positions.items()}


def check_disjoint(positions: dict[str, np.ndarray], n_rows: int) -> None:
    """Raise if a row of the prepared table is in two splits (or twice in one).

    Rows are distinct records (the prepared gate checks that prepare's record hash is unique),
    so disjoint rows mean no record is shared; checked on row numbers in one counting pass.
    """
    counts = np.bincount(np.concatenate(list(positions.values())), minlength=n_rows)
    if counts.max(initial=0) <= 1:
        return
    names = list(positions)
    for i, a in enumerate(names):
        rows, times = np.unique(positions[a], return_counts=True)
        if (times > 1).any():
            raise StageError(f"split: {int((times > 1).sum())} record(s) appear twice in {a}")
        for b in names[i + 1 :]:
            shared = np.intersect1d(rows, positions[b])
            if shared.size:
                raise StageError(f"split: {shared.size} record(s) appear in both {a} and {b}")


def split_summary(splits: dict[str, pd.DataFrame], data: DataParams) -> dict:
    """Sizes and class balance (or the numeric target's spread) per split."""
    summary: dict = {}
    total = sum(len(f) for f in splits.values())
    for name, frame in splits.items():
        target = frame[data.target]
        part: dict = {"rows": len(frame), "share": round(len(frame) / total, 4)}
        if data.task_type == "binary":
            part["positive_rate"] = round(float((target == data.positive_label).mean()), 4)
        if data.is_classification:
            counts = target.value_counts()
            part["class_counts"] = {label: int(counts.get(label, 0)) for label in data.labels}
        else:
            numbers = target.to_numpy(dtype=np.float64)
            part["target"] = {
                stat: round(float(fn(numbers)), 6) if numbers.size else None
                for stat, fn in (("mean", np.mean), ("std", np.std), ("min", np.min),
                                 ("max", np.max))
            }  # fmt: skip
        summary[name] = part
    return summary
