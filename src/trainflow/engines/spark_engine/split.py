"""The Spark engine's split: each record's side from its salted hash, the leakage gate as
joins, the manifest, all content-determined."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trainflow import paths
from trainflow.data.clean import RECORD_HASH_COLUMN
from trainflow.data.leakage import LeakageReport, enforce, leakage_report, sorted_digest
from trainflow.data.sources import FEEDBACK_PREFIX, SOURCE_FILE_COLUMN
from trainflow.data.spark import column, record_draws, record_hash, write_parquet
from trainflow.data.split import val_cut
from trainflow.engines.spark_engine import functions as _functions
from trainflow.engines.spark_engine import read
from trainflow.errors import StageError
from trainflow.params import DataParams, Params

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


SPLIT_COLUMN = "_split"


FEATURES_HASH = "_features_hash"


def split(params: Params, prepared: Path, out: Path) -> dict:
    from pyspark import StorageLevel

    F = _functions()
    data, spec = params.data, params.split
    frame = read(prepared, params)
    if RECORD_HASH_COLUMN not in frame.columns:
        raise StageError(f"{prepared}: missing column(s) {[RECORD_HASH_COLUMN]}")
    draw = record_draws(frame, data, params.seed)
    feedback = (column(SOURCE_FILE_COLUMN).startswith(FEEDBACK_PREFIX)
                if SOURCE_FILE_COLUMN in frame.columns else F.lit(False))  # fmt: skip
    is_val = draw < val_cut(spec, fixed_test=spec.test_source_file is not None)
    if spec.test_source_file is None:
        is_test = draw < spec.test_size
    else:
        if SOURCE_FILE_COLUMN not in frame.columns:
            raise StageError(f"split: column {SOURCE_FILE_COLUMN!r} missing from prepared data")
        is_test = column(SOURCE_FILE_COLUMN) == spec.test_source_file
    side = (F.when(feedback, "train").when(is_test, "test").when(is_val, "val")
            .otherwise("train"))  # fmt: skip
    # kept on local disk: in the executors' heap (MEMORY_AND_DISK) 1e8 rows ran it out of memory
    assigned = frame.withColumns({
        SPLIT_COLUMN: side, FEATURES_HASH: record_hash(data.features)
    }).persist(StorageLevel.DISK_ONLY)  # fmt: skip
    sizes = {r[SPLIT_COLUMN]: r["count"] for r in assigned.groupBy(SPLIT_COLUMN).count().collect()}
    if spec.test_source_file is not None and not sizes.get("test"):
        files = sorted(r[0] for r in frame.select(SOURCE_FILE_COLUMN).distinct().collect())
        raise StageError(f"split.test_source_file: no rows come from {spec.test_source_file!r} "
                         f"(source files: {files[:5]})")  # fmt: skip
    empty = [name for name in paths.SPLITS if not sizes.get(name)]
    if empty:
        raise StageError(f"split: strategy hash leaves {empty} empty ({sum(sizes.values())} rows)")
    assigned, leakage = _leakage(assigned, data, spec)
    enforce(leakage)
    for name in paths.SPLITS:
        rows = assigned.where(F.col(SPLIT_COLUMN) == name).drop(SPLIT_COLUMN, FEATURES_HASH)
        write_parquet(rows, out / paths.split_table(name).name, key=RECORD_HASH_COLUMN,
                      files=params.spark.files)  # fmt: skip
    manifest_rows = assigned.select(F.col(SPLIT_COLUMN).alias("split"),
                                    column(RECORD_HASH_COLUMN).alias("row_hash"))  # fmt: skip
    write_parquet(manifest_rows, out / paths.MANIFEST_TABLE.name, key="row_hash",
                  files=params.spark.files)  # fmt: skip
    summary = _summary(assigned, data)
    assigned.unpersist()
    hashes = _manifest_digest(out / paths.MANIFEST_TABLE.name)
    (out / paths.MANIFEST_JSON.name).write_text(json.dumps(hashes, indent=2) + "\n")
    return {"split": summary | {"leakage": leakage.to_dict()}}


def _leakage(assigned: DataFrame, data: DataParams, spec: Any) -> tuple[DataFrame, LeakageReport]:
    """leakage.check_leakage's checks as Spark joins and groupings (no time check: the Spark
    engine splits by hash only); drop_from_train drops the train / val rows that share their
    feature values with a test row."""
    F = _functions()
    twice = (assigned.groupBy(RECORD_HASH_COLUMN).agg(F.countDistinct(SPLIT_COLUMN).alias("n"))
             .where("n > 1").count())  # fmt: skip
    test_profiles = assigned.where(F.col(SPLIT_COLUMN) == "test").select(FEATURES_HASH).distinct()
    not_test = assigned.where(F.col(SPLIT_COLUMN) != "test")
    shared = not_test.join(test_profiles, FEATURES_HASH, "left_semi").count()
    dropped = 0
    if spec.shared_feature_rows == "drop_from_train" and shared:
        kept = not_test.join(test_profiles, FEATURES_HASH, "left_anti")
        assigned = kept.unionByName(assigned.where(F.col(SPLIT_COLUMN) == "test"))
        dropped, shared = shared, 0
    groups: tuple[int, list[str]] = (0, [])
    if data.group_column:
        crossing = (assigned.where(column(data.group_column).isNotNull())
                    .groupBy(column(data.group_column).alias("g"))
                    .agg(F.countDistinct(SPLIT_COLUMN).alias("n")).where("n > 1"))  # fmt: skip
        examples = sorted(str(r["g"]) for r in crossing.orderBy("g").limit(3).collect())
        groups = (crossing.count(), examples)
    report = leakage_report(spec, twice, shared, dropped, data.group_column, groups)
    return assigned, report


def _manifest_digest(table: Path) -> dict:
    """manifest.json from the written manifest dataset: the same per-split rows and sha256 as
    the pandas engine's. One split at a time, its hashes streamed batch by batch into one array
    of 8 bytes a record, sorted and hashed in place: at 1e8 rows the train split's 70 M hashes
    take 0.56 GB (reading them as a table, sorting a copy and hashing `tobytes()` took three
    times that, beside the JVM's heap: 8.3 GB for the stage; the split names as Python strings
    took it to 18.7 GB)."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(table, format="parquet")
    dtype = dataset.schema.field("row_hash").type.to_pandas_dtype()
    digests = {}
    for name in paths.SPLITS:
        where = ds.field("split") == name
        hashes, filled = np.empty(dataset.count_rows(filter=where), dtype=dtype), 0
        for batch in dataset.to_batches(columns=["row_hash"], filter=where):
            part = batch.column(0).to_numpy()
            hashes[filled : filled + len(part)] = part
            filled += len(part)
        hashes.sort()
        digests[name] = sorted_digest(hashes)
    return digests


def _summary(assigned: DataFrame, data: DataParams) -> dict:
    """split.split_summary from Spark aggregates."""
    F = _functions()
    target = column(data.target)
    if data.is_classification:
        counts = assigned.groupBy(SPLIT_COLUMN, target.alias("t")).count().collect()
        by = {name: {r["t"]: int(r["count"]) for r in counts if r[SPLIT_COLUMN] == name}
              for name in paths.SPLITS}  # fmt: skip
        rows = {name: sum(by[name].values()) for name in paths.SPLITS}
    else:
        stats = assigned.groupBy(SPLIT_COLUMN).agg(
            F.count(F.lit(1)).alias("rows"), F.mean(target).alias("mean"),
            F.stddev_pop(target).alias("std"), F.min(target).alias("min"),
            F.max(target).alias("max"),
        ).collect()  # fmt: skip
        by = {r[SPLIT_COLUMN]: r.asDict() for r in stats}
        rows = {name: int(by.get(name, {}).get("rows", 0)) for name in paths.SPLITS}
    total = sum(rows.values())
    summary: dict = {}
    for name in paths.SPLITS:
        part: dict = {"rows": rows[name], "share": round(rows[name] / total, 4)}
        if data.task_type == "binary":
            positive = by[name].get(data.positive_label, 0)
            part["positive_rate"] = round(positive / rows[name], 4) if rows[name] else float("nan")
        if data.is_classification:
            part["class_counts"] = {label: by[name].get(label, 0) for label in data.labels}
        else:
            part["target"] = {stat: round(float(by[name][stat]), 6) if rows[name] else None
                              for stat in ("mean", "std", "min", "max")}  # fmt: skip
        summary[name] = part
    return summary
