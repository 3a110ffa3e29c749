"""fetch-data's S3 source on the Spark engine: the objects read where Spark runs, by its
executors, without passing through the driver's memory.

Spark's own `s3a://` reader is Hadoop's connector, a pair of jars (hadoop-aws and the AWS SDK
bundle, for exactly the Hadoop version Spark ships) fetched from Maven Central. Here the
executors read the objects through s3fs instead, as Hadoop reads files: each object in byte
ranges of `spark.sql.files.maxPartitionBytes` (one task each), a range owning the lines that
start in it (a `.gz` object is one range), and the lines go to **Spark's own CSV and JSON
readers** (the types and parsing of a local file read by the Spark engine); a Parquet object
owns its row groups by their midpoints, as Spark splits Parquet files, read with pyarrow.
Each line carries its object's number (an extra column), which becomes the source-file column.
The snapshot is written laid out by its content (`trainflow.data.spark.write_parquet`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainflow.data.live import object_name, s3_objects
from trainflow.data.sources import SOURCE_FILE_COLUMN, resolve_format
from trainflow.data.spark import write_parquet
from trainflow.engines.spark_engine import functions, session
from trainflow.errors import StageError
from trainflow.params import Params, S3Source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

TAG = "_trainflow_object"
"""The extra column each line carries: its object's number in key order."""
JAVA_TRIM = "".join(chr(c) for c in range(33))
"""What Java's String.trim strips: Spark's CSV reader skips a line that trims to nothing."""
PANDAS_INDEX = re.compile(r"__index_level_\d+__")
MARK = "trainflow-s3: "

Piece = tuple[int, int, int]
"""(object number, first byte, end byte); end -1: the whole object (compressed)."""


class ObjectError(Exception):
    """Raised in an executor about one object; its message reaches the driver inside the
    JVM's error, after MARK."""

    def __init__(self, message: str) -> None:
        super().__init__(MARK + message)


def pieces(keys: list[str], sizes: dict[str, int], split_bytes: int) -> list[Piece]:
    """Each object in ranges of `split_bytes`; a gzip object whole (it cannot be entered at
    an offset)."""
    out: list[Piece] = []
    for number, key in enumerate(keys):
        if _gzip(key):
            out.append((number, 0, -1))
        else:
            out += [(number, start, min(start + split_bytes, sizes[key]))
                    for start in range(0, sizes[key], split_bytes)]  # fmt: skip
    return out


def range_lines(stream: Any, start: int, end: int) -> Iterator[bytes]:
    """The lines of a seekable byte stream that start in [start, end) (end -1: all of them),
    the last one read past `end` to its newline: ranges side by side yield every line once."""
    position = 0
    if start > 0:
        stream.seek(start - 1)
        position = start - 1 + len(stream.readline())  # the rest of a line begun before
    while end < 0 or position < end:
        line = stream.readline()
        if not line:
            return
        position += len(line)
        yield line


def _open(options: dict, key: str) -> Any:
    """An object as a buffered byte stream, a `.gz` one decompressed (read from its start)."""
    import gzip
    import io

    import s3fs

    raw = s3fs.S3FileSystem(**options).open(key, "rb")
    return gzip.GzipFile(fileobj=raw) if _gzip(key) else io.BufferedReader(raw, 1 << 20)


def _gzip(key: str) -> bool:
    return key.lower().endswith(".gz")


def _texts(options: dict, key: str, start: int, end: int) -> Iterator[str]:
    """The piece's lines as text (UTF-8, a bad byte replaced as Spark's reader does; a BOM at
    the object's start dropped)."""
    first = start == 0
    with _open(options, key) as stream:
        for line in range_lines(stream, start, end):
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            yield text.removeprefix("\ufeff") if first else text
            first = False


def line_reader(options: dict, keys: list[str], fmt: str, delimiter: str,
                header: str | None) -> Callable[[Piece], Iterator[str]]:  # fmt: skip
    """The function each piece goes through in an executor: its lines, tagged with the
    object's number (CSV: a last column, the header's named TAG; JSON: a first member)."""

    def lines(piece: Piece) -> Iterator[str]:
        number, start, end = piece
        key = keys[number]
        try:
            seen_header = False
            for text in _texts(options, key, start, end):
                if not text.strip(JAVA_TRIM):
                    continue
                if fmt == "csv":
                    if start == 0 and not seen_header:  # an object's first line
                        seen_header = True
                        if text != header:
                            raise ObjectError(f"s3://{key}: header differs from "
                                              f"s3://{keys[0]}'s ({text[:80]!r})")  # fmt: skip
                        yield text + delimiter + TAG
                    else:
                        yield f"{text}{delimiter}{number}"
                else:
                    body = text.strip()
                    if body.startswith("{"):
                        rest = body[1:].lstrip()
                        body = f'{{"{TAG}":{number}' + ("" if rest.startswith("}") else ",") + rest
                    yield body
        except ObjectError:
            raise
        except Exception as err:  # s3fs, gzip: one message naming the object
            raise ObjectError(f"s3://{key}: {type(err).__name__}: {err}") from None

    return lines


def _first_line(options: dict, key: str) -> str:
    for text in _texts(options, key, 0, -1):
        if text.strip(JAVA_TRIM):
            return text
    raise StageError(f"s3://{key}: file is empty")


def parquet_schema(options: dict, key: str) -> Any:
    """The Arrow schema the snapshot gets from the first object: dictionary columns as their
    values, pandas' index columns left out."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import s3fs

    with s3fs.S3FileSystem(**options).open(key, "rb") as raw:
        schema = pq.ParquetFile(raw).schema_arrow
    fields = [pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
              for f in schema if not PANDAS_INDEX.fullmatch(f.name)]  # fmt: skip
    return pa.schema(fields)


def group_reader(options: dict, keys: list[str], schema: Any) -> Callable[[Iterator], Iterator]:
    """The function each batch of pieces goes through in an executor (mapInArrow): the row
    groups whose midpoint lies in each piece, cast to `schema`, tagged with the object."""

    def read(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq
        import s3fs

        fs = s3fs.S3FileSystem(**options)
        for batch in batches:
            for piece in batch.to_pylist():
                number, start, end = piece["object"], piece["start"], piece["end"]
                key = keys[number]
                try:
                    with fs.open(key, "rb") as raw:
                        yield from _groups(pq.ParquetFile(raw), number, start, end, schema, pa)
                except ObjectError:
                    raise
                except Exception as err:
                    raise ObjectError(f"s3://{key}: {type(err).__name__}: {err}") from None

    return read


def _groups(parquet: Any, number: int, start: int, end: int, schema: Any, pa: Any) -> Iterator:
    names = [n for n in parquet.schema_arrow.names if not PANDAS_INDEX.fullmatch(n)]
    if names != schema.names:
        raise ValueError(f"columns {names} differ from the first object's {schema.names}")
    meta = parquet.metadata
    for group in range(meta.num_row_groups):
        chunks = [meta.row_group(group).column(c) for c in range(meta.num_columns)]
        begin = min(c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
                    for c in chunks)  # fmt: skip
        if not start <= begin + sum(c.total_compressed_size for c in chunks) // 2 < end:
            continue
        table = parquet.read_row_group(group, columns=names).cast(schema)
        tag = pa.array([number] * len(table), pa.int32())
        yield from table.append_column(TAG, tag).to_batches()


def read_objects(
    spark: SparkSession, source: S3Source, options: dict, sizes: dict[str, int]
) -> DataFrame:
    """The objects `sizes` names (s3_objects) as one DataFrame with its source-file column,
    read by the executors (module docstring)."""
    from trainflow.engines.spark_engine.ingest import read_format

    keys = sorted(sizes)
    formats = {resolve_format(key, source) for key in keys}
    if len(formats) > 1:
        raise StageError(f"{source.url}: objects in several formats {sorted(formats)}")
    fmt = formats.pop()
    split = int(spark._jsparkSession.sessionState().conf().filesMaxPartitionBytes())
    parts = pieces(keys, sizes, split)
    if not parts:
        raise StageError(f"{source.url}: every object is empty")
    context = spark.sparkContext
    if fmt == "parquet":
        import pyarrow as pa
        from pyspark.sql.pandas.types import from_arrow_schema

        schema = parquet_schema(options, keys[0])
        tagged = schema.append(pa.field(TAG, pa.int32()))
        frame = context.parallelize(parts, len(parts)).toDF("object int, start long, end long")
        frame = frame.mapInArrow(group_reader(options, keys, schema), from_arrow_schema(tagged))
    elif fmt in ("csv", "jsonl", "json_log"):
        header = _first_line(options, keys[0]) if fmt == "csv" else None
        reader = line_reader(options, keys, fmt, source.delimiter, header)
        lines = context.parallelize(parts, len(parts)).flatMap(reader)
        frame = read_format(spark, lines, fmt, source)
    else:
        raise StageError(f"{source.url}: format {fmt} needs data.engine pandas")
    F = functions()
    names = F.array(*[F.lit(object_name(key)) for key in keys])
    named = F.element_at(names, F.col(TAG).cast("int") + 1)
    return frame.withColumn(SOURCE_FILE_COLUMN, named).drop(TAG)


def export(source: S3Source, params: Params, out: Path) -> tuple[int, int]:
    """The S3 source as a content-laid-out Parquet dataset at `out`: rows and columns."""
    from trainflow.engines.spark_engine.fetch import reason, snapshot_shape

    spark = session(params)
    options, secrets, sizes = s3_objects(source)
    try:
        frame = read_objects(spark, source, options, sizes)
        write_parquet(frame, out, files=params.spark.files)
    except StageError:
        raise
    except Exception as err:  # py4j / pyspark raise the JVM's many types
        found = re.search(re.escape(MARK) + r"(.+)", str(err))
        text = found.group(1) if found else f"{source.url}: {reason(err, secrets)}"
        raise StageError(text) from None
    return snapshot_shape(out, len(frame.columns), source.url)
