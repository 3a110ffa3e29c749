"""The Spark engine's ingest: Spark's CSV / Parquet / JSON readers, a hash-drawn sample,
the served feedback appended, written content-determined."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainflow.data.sources import (
    FEEDBACK_PREFIX,
    SOURCE_FILE_COLUMN,
    read_adult_wheel,
    resolve_format,
)
from trainflow.data.spark import column, record_hash, write_parquet
from trainflow.engines.base import Ingested
from trainflow.engines.spark_engine import functions as _functions
from trainflow.engines.spark_engine import session
from trainflow.errors import StageError
from trainflow.params import FileSource, Params

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


def _relative_names(root: Path) -> Column:
    """Each row's file, relative to `root` (Spark's `_metadata.file_path` is a URI: its
    percent escapes decoded; a '+' in it is a plus, which `url_decode` would read as a space)."""
    F = _functions()
    prefix = str(root.resolve()).rstrip("/") + "/"
    decoded = F.url_decode(F.replace(F.col("_metadata.file_path"), F.lit("+"), F.lit("%2B")))
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


def read_format(spark: SparkSession, names: Any, fmt: str, options: Any) -> DataFrame:
    """Files (absolute paths), or an RDD of their lines, read by Spark's reader for `fmt` with
    the source's options."""
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
    raise StageError(f"{options.path}: format {fmt} needs data.engine pandas")


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
    names = [str(p.absolute()) for p in files]  # the JVM has its own working folder
    frame = read_format(spark, names, formats.pop(), source)
    return frame.withColumn(SOURCE_FILE_COLUMN, _relative_names(root))


def read_source(spark: SparkSession, params: Params) -> DataFrame:
    """The configured source as a Spark DataFrame with its source-file column. The packaged
    Adult table (two members of a wheel, 48,842 rows) is parsed by pandas and handed over;
    files (CSV, Parquet, JSON lines, on the local file system or a mount of a shared one) and
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
        frame = spark.read.parquet(str(source.path.absolute()))
        if SOURCE_FILE_COLUMN not in frame.columns:  # fetch-data names the table (or "query")
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
    feedback = _flatten(spark.read.json([str(p.absolute()) for p in files], mode="DROPMALFORMED"))
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
    written = spark.read.parquet(str(table.absolute()))
    rows = written.count()
    if not rows:
        raise StageError(f"{params.ingest.source.path}: has a header but no rows")
    fed = 0
    if feedback:
        fed = written.where(column(SOURCE_FILE_COLUMN).startswith(FEEDBACK_PREFIX)).count()
    return Ingested(rows, len(written.columns), feedback, fed)
