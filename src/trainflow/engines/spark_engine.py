"""The Spark engine (data.engine: spark): the data stages as Spark jobs, on `spark.master`.

The same rules as the pandas engine, in Spark's own functions so that they run where the data
is: sources read by Spark's CSV / Parquet / JSON readers, the cleaning rules of
`trainflow.data.clean` as column expressions, the contracts by Great Expectations' Spark
datasource, the split by each record's salted xxhash64 (no sampling that depends on
partitioning). Every output is a Parquet dataset laid out by its content
(`trainflow.data.spark.write_parquet`), so DVC sees a rerun as unchanged. On Adult both engines
give the same prepared rows and the same split (tests/engines).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trainflow import paths
from trainflow.data.clean import RECORD_HASH_COLUMN, CleaningReport
from trainflow.data.contract import ValidationReport, run_gx, validate_with_docs
from trainflow.data.leakage import LeakageReport, enforce, manifest
from trainflow.data.sources import (
    FEEDBACK_PREFIX,
    SOURCE_FILE_COLUMN,
    read_adult_wheel,
    resolve_format,
)
from trainflow.data.spark import column, record_draws, record_hash, spark_session, write_parquet
from trainflow.engines.base import Ingested
from trainflow.errors import StageError
from trainflow.params import DataParams, FileSource, Params, label_text

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SPLIT_COLUMN = "_split"
FEATURES_HASH = "_features_hash"
# what Python's str.strip() strips: Unicode white space and the four ASCII separators
STRIP = r"(?U)^[\s\x1c-\x1f]+|[\s\x1c-\x1f]+$"
# a number written as text, as pandas' to_numeric reads one (Spark's cast would also take "1d")
NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def session(params: Params) -> SparkSession:
    return spark_session(params.spark.master, params.spark.conf)


def _functions() -> Any:
    from pyspark.sql import functions as F

    return F


# -- ingest ---------------------------------------------------------------------------------


def _relative_names(root: Path) -> Column:
    """Each row's file, relative to `root` (Spark's `_metadata.file_path` is a URI)."""
    F = _functions()
    prefix = str(root.resolve()).rstrip("/") + "/"
    decoded = F.url_decode(F.col("_metadata.file_path"))
    return F.regexp_replace(decoded, r"^file:(//)?\Q" + prefix + r"\E", "")


def _flatten(frame: DataFrame) -> DataFrame:
    """Nested JSON objects as dotted columns (pandas' json_normalize(sep="."))."""
    from pyspark.sql.types import StructType

    while any(isinstance(f.dataType, StructType) for f in frame.schema.fields):
        out = []
        for f in frame.schema.fields:
            if isinstance(f.dataType, StructType):
                out += [column(f.name)[g.name].alias(f"{f.name}.{g.name}")
                        for g in f.dataType.fields]  # fmt: skip
            else:
                out.append(column(f.name))
        frame = frame.select(*out)
    return frame


def _read_paths(spark: SparkSession, files: list[Path], fmt: str, options: Any) -> DataFrame:
    names = [str(p) for p in files]
    if fmt == "csv":
        return spark.read.csv(
            names, header=True, sep=options.delimiter, inferSchema=True, encoding="UTF-8",
            mode="FAILFAST", ignoreLeadingWhiteSpace=options.skipinitialspace,
            ignoreTrailingWhiteSpace=False, enforceSchema=False,
        )  # fmt: skip
    if fmt == "parquet":
        return spark.read.parquet(*names)
    if fmt in ("jsonl", "json_log"):
        mode = "DROPMALFORMED" if fmt == "json_log" else "FAILFAST"
        return _flatten(spark.read.json(names, mode=mode))
    raise StageError(f"{names[0]}: format {fmt} needs data.engine pandas")


def _read_files(spark: SparkSession, source: FileSource) -> DataFrame:
    if source.glob is None:
        if not source.path.is_file():
            raise StageError(f"{source.path}: not found")
        files, root = [source.path], source.path.parent
    else:
        if not source.path.is_dir():
            raise StageError(f"{source.path}: not a folder (ingest.source.glob is set)")
        files = sorted(p for p in source.path.glob(source.glob) if p.is_file())
        if not files:
            raise StageError(f"{source.path}/{source.glob}: no files match")
        root = source.path
    formats = {resolve_format(str(p), source) for p in files}
    if len(formats) > 1:
        raise StageError(f"{source.path}: files in several formats {sorted(formats)}")
    frame = _read_paths(spark, files, formats.pop(), source)
    return frame.withColumn(SOURCE_FILE_COLUMN, _relative_names(root))


def read_source(spark: SparkSession, params: Params) -> DataFrame:
    """The configured source as a Spark DataFrame with its source-file column. The packaged
    Adult table (two members of a wheel, 48,842 rows) is parsed by pandas and handed over;
    files (CSV, Parquet, JSON lines, local or any Hadoop file system Spark is set up for) and
    live sources' snapshots are read by Spark."""
    source = params.ingest.source
    if source.kind == "adult_wheel":
        table = read_adult_wheel(source.path)
        table = table.astype({c: str for c in table.columns if table[c].dtype == "category"})
        frame = spark.createDataFrame(table.astype(object).where(table.notna(), None))
    elif source.kind == "file":
        frame = _read_files(spark, source)
    else:  # sql, s3: the snapshot fetch-data exported
        if not source.path.exists():
            raise StageError(
                f"{source.path}: no snapshot of the live source yet (run `make data`)"
            )
        frame = spark.read.parquet(str(source.path))
        frame = frame.withColumn(SOURCE_FILE_COLUMN, _functions().lit(source.path.name))
    data = [c for c in frame.columns if c != SOURCE_FILE_COLUMN]
    if len(data) == 1 and any(sep in data[0] for sep in (";", "\t", "|")):
        raise StageError(f"{source.path}: one column {data[0][:60]!r}: wrong delimiter? "
                         "(set ingest.source.delimiter)")  # fmt: skip
    return frame


def sample(frame: DataFrame, n: int | None, seed: int) -> DataFrame:
    """`n` rows chosen by their salted hash: the same rows however the source is split into
    partitions (not the pandas engine's sample: each engine draws its own)."""
    if n is None:
        return frame
    draw = record_hash(frame.columns, salt=seed).alias("_draw")
    every = [column(c) for c in frame.columns]
    return frame.select(*every, draw).orderBy("_draw", *every).limit(n).drop("_draw")


def append_feedback(spark: SparkSession, raw: DataFrame, folder: Path) -> tuple[DataFrame, list]:
    """The source's rows, then the labelled served rows under `folder` (JSON lines), tagged
    `feedback/<file>`; a column the source lacks is an error naming it (as the pandas engine)."""
    files = sorted(p for p in folder.glob("*.jsonl") if p.is_file()) if folder.is_dir() else []
    if not files:
        return raw, []
    F = _functions()
    feedback = _flatten(spark.read.json([str(p) for p in files], mode="DROPMALFORMED"))
    extra = sorted(set(feedback.columns) - set(raw.columns))
    if extra:
        raise StageError(f"{folder}: columns {extra} are not in the source's columns")
    name = F.concat(F.lit(FEEDBACK_PREFIX), _relative_names(folder))
    tagged = feedback.withColumn(SOURCE_FILE_COLUMN, name)
    try:
        return raw.unionByName(tagged, allowMissingColumns=True), files
    except Exception as err:  # AnalysisException: a type Spark cannot widen
        raise StageError(
            f"{folder}: feedback rows do not fit the source's types ({err})"
        ) from None


def ingest(params: Params, table: Path) -> Ingested:
    spark = session(params)
    raw = sample(read_source(spark, params), params.ingest.sample_rows, params.seed)
    raw, feedback = append_feedback(spark, raw, params.ingest.feedback)
    write_parquet(raw, table, files=params.spark.files)
    written = spark.read.parquet(str(table))
    rows = written.count()
    if not rows:
        raise StageError(f"{params.ingest.source.path}: has a header but no rows")
    fed = 0
    if feedback:
        fed = written.where(column(SOURCE_FILE_COLUMN).startswith(FEEDBACK_PREFIX)).count()
    return Ingested(rows, len(written.columns), feedback, fed)


# -- validate -------------------------------------------------------------------------------


def read(table: Path, params: Params) -> DataFrame:
    if not table.exists():
        raise StageError(f"{table}: not found (run the stages before this one)")
    return session(params).read.parquet(str(table))


def raw_view(raw: DataFrame, params: Params) -> tuple[DataFrame, None]:
    """The raw values with surrounding white space ignored (contract.contract_view)."""
    text = [name for name, kind in raw.dtypes if kind == "string"]
    return raw.withColumns(
        {c: _functions().regexp_replace(column(c), STRIP, "") for c in text}
    ), None


INTEGER = ["ByteType", "ShortType", "IntegerType", "LongType"]
SPARK_TYPES = {
    **{name: INTEGER for name in ("int8", "int16", "int32", "int64", "uint8", "uint16",
                                  "uint32", "uint64", "Int8", "Int16", "Int32", "Int64", "int")},
    **{name: ["DoubleType"] for name in ("float64", "Float64", "float", "double")},
    **{name: ["FloatType"] for name in ("float32", "Float32")},
    **{name: ["StringType"] for name in ("str", "string", "StringDtype", "object", "category",
                                         "CategoricalDtypeType")},
    **{name: ["BooleanType"] for name in ("bool", "boolean", "BooleanDtype")},
    "datetime64[ns, UTC]": ["TimestampType"], "datetime64[us, UTC]": ["TimestampType"],
    "datetime64[ns]": ["TimestampNTZType"], "datetime64[us]": ["TimestampNTZType"],
}  # fmt: skip
"""A suite's type names (pandas dtypes, as contracts are drafted) -> Spark's type names."""


def spark_types(suite: dict) -> dict:
    """The suite with its pandas type names turned into Spark's (SPARK_TYPES; a name that is
    already Spark's stays), noted in each changed expectation's meta so Data Docs say why; an
    exact type that maps to several Spark types (any integer width) becomes a type list."""
    out = json.loads(json.dumps(suite))
    for exp in out.get("expectations", []):
        kwargs = exp.get("kwargs") or {}
        if exp.get("type") == "expect_column_values_to_be_of_type":
            names = SPARK_TYPES.get(kwargs.get("type_"), [kwargs.get("type_")])
            if names == [kwargs.get("type_")]:
                continue
            if len(names) == 1:
                kwargs["type_"] = names[0]
            else:
                exp["type"] = "expect_column_values_to_be_in_type_list"
                kwargs["type_list"] = names
                kwargs.pop("type_")
        elif exp.get("type") == "expect_column_values_to_be_in_type_list":
            before = list(kwargs.get("type_list") or [])
            names = [n for t in before for n in SPARK_TYPES.get(t, [t])]
            kwargs["type_list"] = list(dict.fromkeys(names))
            if kwargs["type_list"] == before:
                continue
        else:
            continue
        exp["meta"] = {**(exp.get("meta") or {}), "notes": "pandas types as Spark's types"}
    return out


def _run_suite(frame: DataFrame, suite: dict, docs: Path | None) -> ValidationReport:
    outcomes, evaluated = run_gx(frame, spark_types(suite), "spark", docs)
    outcomes.sort(key=lambda o: (o.success, o.column or "", o.expectation))
    return ValidationReport(suite=str(suite.get("name")), rows=frame.count(),
                            evaluated=evaluated, outcomes=outcomes)  # fmt: skip


def check(table: DataFrame, suite: dict, row_names: Any = None) -> tuple[ValidationReport, Path]:
    return validate_with_docs(table, suite, runner=_run_suite)


NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double")


def profile(table: DataFrame, top: int = 5) -> dict:
    """trainflow.data.profile's profile in two Spark passes (counts and ranges in one, top
    values per text column); distinct counts are HyperLogLog estimates (within 1 %)."""
    F = _functions()
    types = dict(table.dtypes)
    names = [c for c in table.columns if c != RECORD_HASH_COLUMN]
    aggs = [F.count(F.lit(1)).alias("rows")]
    for i, c in enumerate(names):
        aggs += [F.count(column(c)).alias(f"n{i}"),
                 F.approx_count_distinct(column(c), 0.01).alias(f"d{i}")]  # fmt: skip
        if types[c] in NUMERIC or types[c].startswith("decimal"):
            value = column(c).cast("double")
            aggs += [F.min(value).alias(f"lo{i}"), F.max(value).alias(f"hi{i}"),
                     F.mean(value).alias(f"mean{i}")]  # fmt: skip
    stats = table.agg(*aggs).first().asDict()
    rows = int(stats["rows"])
    columns = {}
    for i, c in enumerate(names):
        entry: dict = {
            "dtype": types[c],
            "missing_pct": round(100.0 * (rows - stats[f"n{i}"]) / rows, 3) if rows else 0.0,
            "distinct": int(stats[f"d{i}"]),
        }
        if f"lo{i}" in stats:
            if stats[f"n{i}"]:
                entry |= {"min": float(stats[f"lo{i}"]), "max": float(stats[f"hi{i}"]),
                          "mean": round(float(stats[f"mean{i}"]), 6)}  # fmt: skip
        else:
            counts = (table.where(column(c).isNotNull()).groupBy(column(c).alias("v")).count()
                      .orderBy(F.desc("count"), "v").limit(top).collect())  # fmt: skip
            entry["top"] = {str(r["v"]): int(r["count"]) for r in counts}
        columns[c] = entry
    return {"rows": rows, "columns": columns}


# -- prepare --------------------------------------------------------------------------------


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
    stripped = {c: F.regexp_replace(column(c), STRIP, "") for c in text}
    cleaned = {c: F.when(stripped[c].isin(data.missing_markers), None).otherwise(stripped[c])
               if data.missing_markers else stripped[c] for c in text}  # fmt: skip
    target = cleaned.get(data.target, column(data.target))
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
        _check_numbers(frame, data, types[data.target], where)
    typed = {c: _numbers(column(c), types[c]) for c in data.numeric}
    newly = [F.count(F.when(column(c).isNotNull() & typed[c].isNull(), 1)).alias(f"bad{i}")
             for i, c in enumerate(data.numeric)]  # fmt: skip
    typed |= {c: _as_text(column(c), types[c]) for c in [*data.categorical, *data.image]}
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


def _check_numbers(frame: DataFrame, data: DataParams, spark_type: str, where: str) -> None:
    """A regression target's values that are present but not finite numbers: an error."""
    value = column(data.target)
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
    order, served feedback after them)."""
    from pyspark.sql import Window

    F = _functions()
    source = column(SOURCE_FILE_COLUMN)
    last = Window.partitionBy(*[column(c) for c in identity]).orderBy(
        source.startswith(FEEDBACK_PREFIX).desc(), source.desc()
    )
    return frame.withColumn("_copy", F.row_number().over(last)).where("_copy = 1").drop("_copy")


# -- split ----------------------------------------------------------------------------------


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
    if spec.test_source_file is None:
        is_test = draw < spec.test_size
        is_val = draw < spec.test_size + (1 - spec.test_size) * spec.val_size
    else:
        if SOURCE_FILE_COLUMN not in frame.columns:
            raise StageError(f"split: column {SOURCE_FILE_COLUMN!r} missing from prepared data")
        is_test = column(SOURCE_FILE_COLUMN) == spec.test_source_file
        is_val = draw < spec.val_size
    side = (F.when(feedback, "train").when(is_test, "test").when(is_val, "val")
            .otherwise("train"))  # fmt: skip
    assigned = frame.withColumns({
        SPLIT_COLUMN: side, FEATURES_HASH: record_hash(data.features)
    }).persist(StorageLevel.MEMORY_AND_DISK)  # fmt: skip
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
    hashes = _manifest_digest(out / paths.MANIFEST_TABLE.name)
    (out / paths.MANIFEST_JSON.name).write_text(json.dumps(hashes, indent=2) + "\n")
    summary = _summary(assigned, data)
    assigned.unpersist()
    return {"split": summary | {"leakage": leakage.to_dict()}}


def _leakage(assigned: DataFrame, data: DataParams, spec: Any) -> tuple[DataFrame, LeakageReport]:
    """leakage.check_leakage's checks as Spark joins and groupings (no time check: the Spark
    engine splits by hash only); drop_from_train drops the train / val rows that share their
    feature values with a test row."""
    F = _functions()
    problems: list[str] = []
    twice = (assigned.groupBy(RECORD_HASH_COLUMN).agg(F.countDistinct(SPLIT_COLUMN).alias("n"))
             .where("n > 1").count())  # fmt: skip
    if twice:
        problems.append(f"{twice} record(s) are in two splits (the same values in every record "
                        "column, ids and weights included)")  # fmt: skip
    test_profiles = assigned.where(F.col(SPLIT_COLUMN) == "test").select(FEATURES_HASH).distinct()
    not_test = assigned.where(F.col(SPLIT_COLUMN) != "test")
    shared = not_test.join(test_profiles, FEATURES_HASH, "left_semi").count()
    dropped = 0
    if spec.shared_feature_rows == "drop_from_train" and shared:
        kept = not_test.join(test_profiles, FEATURES_HASH, "left_anti")
        assigned = kept.unionByName(assigned.where(F.col(SPLIT_COLUMN) == "test"))
        dropped, shared = shared, 0
    elif shared and spec.shared_feature_rows == "fail":
        problems.append(
            f"{shared} train/val row(s) have the same feature values as a test row "
            "(split.shared_feature_rows: fail; allow keeps them, drop_from_train removes them)"
        )
    crossing = 0
    if data.group_column:
        groups = (assigned.where(column(data.group_column).isNotNull())
                  .groupBy(column(data.group_column).alias("g"))
                  .agg(F.countDistinct(SPLIT_COLUMN).alias("n")).where("n > 1"))  # fmt: skip
        crossing = groups.count()
        if crossing:
            examples = sorted(str(r["g"]) for r in groups.orderBy("g").limit(3).collect())
            problems.append(f"{crossing} group(s) of {data.group_column!r} appear in two "
                            f"splits, e.g. {examples}")  # fmt: skip
    report = LeakageReport(records_in_two_splits=twice, feature_collisions=shared,
                           feature_collisions_dropped=dropped, groups_in_two_splits=crossing,
                           passed=not problems, problems=tuple(problems))  # fmt: skip
    return assigned, report


def _manifest_digest(table: Path) -> dict:
    """manifest.json from the written manifest dataset (read back by pyarrow: two columns,
    ~9 bytes a record): the same per-split rows and sha256 as the pandas engine's."""
    import pyarrow.parquet as pq

    read = pq.read_table(table, columns=["split", "row_hash"])
    names = np.asarray(read.column("split").to_numpy(zero_copy_only=False), dtype=object)
    hashes = read.column("row_hash").to_numpy()
    return manifest({name: hashes[names == name] for name in paths.SPLITS})[1]


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


__all__ = ["check", "ingest", "prepare", "profile", "raw_view", "read",
           "split"]  # fmt: skip
