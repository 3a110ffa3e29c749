"""The Spark engine's prepare: trainflow.data.clean's rules as Spark column expressions."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from trainflow.data.clean import RECORD_HASH_COLUMN, CleaningReport
from trainflow.data.sources import FEEDBACK_PREFIX, SOURCE_FILE_COLUMN
from trainflow.data.spark import column, record_hash, write_parquet
from trainflow.engines.spark_engine import NUMERIC, read, strip
from trainflow.engines.spark_engine import functions as _functions
from trainflow.errors import StageError
from trainflow.params import DataParams, Params, label_text

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


WIDE = {"tinyint": "bigint", "smallint": "bigint", "int": "bigint", "float": "double"}
NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def _label_text(values: Column, spark_type: str) -> Column:
    """A class target as params spell labels (trainflow.params.label_text)."""
    F = _functions()
    if spark_type == "boolean":
        return F.when(values, F.lit(label_text(True))).when(~values, F.lit(label_text(False)))
    if spark_type in ("tinyint", "smallint", "int", "bigint"):
        return values.cast("string")
    if spark_type in ("float", "double"):
        whole = values == F.floor(values)
        return F.when(whole, values.cast("long").cast("string")).otherwise(values.cast("string"))
    return values


def _numbers(values: Column, spark_type: str) -> Column:
    """A column as doubles: numbers as they are, text that reads as a number parsed, anything
    else (and NaN, infinities) missing, as coerce_types does."""
    F = _functions()
    if spark_type == "boolean" or spark_type in NUMERIC or spark_type.startswith("decimal"):
        parsed = values.cast("double")
    else:
        text = values.cast("string")
        parsed = F.when(text.rlike(NUMBER), text.try_cast("double"))
    return F.when(F.isnan(parsed) | F.abs(parsed).eqNullSafe(float("inf")), None).otherwise(parsed)


def _as_text(values: Column, spark_type: str) -> Column:
    """A categorical as text: numbers as pandas writes them, booleans as True / False."""
    F = _functions()
    if spark_type == "boolean":
        return F.when(values, F.lit("True")).when(~values, F.lit("False"))
    return values.cast("string")


def _nfc(frame: DataFrame, names: list[str]) -> DataFrame:
    """Free text in Unicode NFC (clean.as_free_text): Spark has no normalizer, so a pandas UDF
    (Arrow batches in Python workers) applies Python's."""
    if not names:
        return frame
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("string")  # type: ignore[call-overload]
    def nfc(values: pd.Series) -> pd.Series:
        return values.map(lambda v: unicodedata.normalize("NFC", v), na_action="ignore")

    return frame.withColumns({c: nfc(column(c).cast("string")) for c in names})


def prepare(params: Params, raw: Path, table: Path) -> CleaningReport:
    F = _functions()
    data, where = params.data, str(raw)
    frame = read(raw, params)
    types = dict(frame.dtypes)
    report = CleaningReport()
    schema = [*data.numeric, *data.categorical, *data.text, *data.image]
    missing = [c for c in [*schema, data.target] if c not in types]
    if missing:
        raise StageError(f"{where}: missing column(s) {missing}")
    keep = [c for c in [SOURCE_FILE_COLUMN, *data.record_keep] if c in types]
    known = {*schema, data.target, *keep, *data.record_keep}
    report.columns_not_used = [c for c in frame.columns if c not in known]
    names = [*schema, data.target, *keep]
    text = [c for c in names if types[c] == "string"]
    stripped = {c: strip(column(c)) for c in text}
    cleaned = {c: F.when(stripped[c].isin(data.missing_markers), None).otherwise(stripped[c])
               if data.missing_markers else stripped[c] for c in text}  # fmt: skip
    target = raw_target = cleaned.get(data.target, column(data.target))
    if data.is_classification:
        target = _label_text(target, types[data.target])
        spellings = list(data.label_map)
        mapping = F.create_map(*[F.lit(x) for kv in data.label_map.items() for x in kv])
        mapped = F.coalesce(mapping[target], target) if spellings else target
    else:
        mapped = _numbers(target, types[data.target])
    counts = [F.count(F.lit(1)).alias("rows_in")]
    counts += [F.count(F.when(column(c) != stripped[c], 1)).alias(f"ws{i}")
               for i, c in enumerate(text)]  # fmt: skip
    counts += [F.count(F.when(stripped[c].isin(data.missing_markers), 1)).alias(f"mm{i}")
               for i, c in enumerate(text)]  # fmt: skip
    if data.is_classification and spellings:
        counts.append(F.count(F.when(target.isin(spellings), 1)).alias("relabelled"))
    counts.append(F.count(F.when(mapped.isNull(), 1)).alias("no_target"))
    stats = frame.agg(*counts).first().asDict()
    report.rows_in = int(stats["rows_in"])
    report.cells_whitespace_stripped = sum(int(stats[f"ws{i}"]) for i in range(len(text)))
    report.missing_markers_replaced = {c: int(stats[f"mm{i}"]) for i, c in enumerate(text)
                                       if stats[f"mm{i}"]}  # fmt: skip
    report.labels_normalised = int(stats.get("relabelled", 0))
    report.rows_missing_target = int(stats["no_target"])
    out = frame.select(*[cleaned.get(c, column(c)).alias(c) for c in names])
    out = out.withColumn(data.target, mapped).where(column(data.target).isNotNull())
    if data.is_classification:
        _check_labels(out, data, where)
    else:
        _check_numbers(frame, raw_target, data, types[data.target], where)
    typed = {c: _numbers(column(c), types[c]) for c in data.numeric}
    newly = [F.count(F.when(column(c).isNotNull() & typed[c].isNull(), 1)).alias(f"bad{i}")
             for i, c in enumerate(data.numeric)]  # fmt: skip
    typed |= {c: _as_text(column(c), types[c]) for c in [*data.categorical, *data.image]}
    # ids, groups and weights keep their values, at the widths pandas reads (int64, float64):
    # the record hash takes an int in 4 bytes and a long in 8
    typed |= {c: column(c).cast(WIDE[types[c]]) for c in data.record_keep
              if types.get(c) in WIDE and c != data.time_column}  # fmt: skip
    time = data.time_column if data.time_column in types else None
    if time:
        typed[time] = F.try_to_timestamp(column(time).cast("string"))
        newly.append(F.count(F.when(column(time).isNotNull() & typed[time].isNull(), 1))
                     .alias("bad_time"))  # fmt: skip
    bad = out.agg(*newly).first().asDict() if newly else {}
    report.numeric_values_unparseable = {c: int(bad[f"bad{i}"]) for i, c in
                                         enumerate(data.numeric) if bad[f"bad{i}"]}  # fmt: skip
    report.times_unparseable = int(bad.get("bad_time", 0))
    out = _nfc(out.withColumns(typed), data.text)
    identity = data.record_columns_in(out.columns)
    out = out.withColumn(RECORD_HASH_COLUMN, record_hash(identity))
    out = _keep_last(out, identity)
    write_parquet(out, table, key=RECORD_HASH_COLUMN, files=params.spark.files)
    report.rows_out = read(table, params).count()
    before = report.rows_in - report.rows_missing_target
    report.duplicate_rows_removed = before - report.rows_out
    if not report.rows_out:
        raise StageError(f"{where}: no rows left after cleaning")
    if report.rows_out < 2 and report.duplicate_rows_removed:
        removed = report.duplicate_rows_removed
        raise StageError(f"{where}: all {before} rows are copies of one record "
                         f"({removed} duplicates removed, 1 row left)")  # fmt: skip
    return report


def _check_labels(out: DataFrame, data: DataParams, where: str) -> None:
    F = _functions()
    labels = out.select(column(data.target).alias("v")).distinct()
    unknown = labels.where(~F.col("v").isin(list(data.labels))).orderBy("v").limit(5).collect()
    if unknown:
        raise StageError(
            f"{where}: target {data.target!r} has label(s) {[r['v'] for r in unknown]} not in "
            f"data.labels {list(data.labels)} (add them to data.labels or data.label_map)"
        )


def _check_numbers(
    frame: DataFrame, value: Column, data: DataParams, spark_type: str, where: str
) -> None:
    """A regression target's values (`value`: stripped, markers missing) that are present but
    not finite numbers: an error (dropping them silently would bias the target)."""
    bad = frame.where(value.isNotNull() & _numbers(value, spark_type).isNull())
    examples = sorted({str(r[0]) for r in bad.select(value).limit(100).collect()})[:5]
    if examples:
        raise StageError(
            f"{where}: target {data.target!r} has {bad.count()} value(s) that are not finite "
            f"numbers, e.g. {examples} (a regression target; list data.labels for classes)"
        )


def _keep_last(frame: DataFrame, identity: list[str]) -> DataFrame:
    """One row per record, exactly (grouped by the values, not the hash): the copy from the
    last source file, as the pandas engine keeps the last copy in source order (files in name
    order, served feedback after them). An aggregation, which Spark combines on the map side
    before its shuffle (a window over the same columns sorts every row); the other columns
    are the record's hash (a function of its values) and its file."""
    F = _functions()
    if SOURCE_FILE_COLUMN not in frame.columns:
        return frame.dropDuplicates(identity)
    source = column(SOURCE_FILE_COLUMN)
    last = F.max(F.struct(source.startswith(FEEDBACK_PREFIX).alias("fed"), source.alias("file")))
    keys = [c for c in frame.columns if c != SOURCE_FILE_COLUMN]
    kept = frame.groupBy(*[column(c) for c in keys]).agg(last.alias("_last"))
    kept = kept.withColumn(SOURCE_FILE_COLUMN, F.col("_last.file")).drop("_last")
    return kept.select(*[column(c) for c in frame.columns])
