"""The data stages' second engine, Spark: a session set up for reproducible results, and what
both engines must compute alike in Spark's own functions (a record's hash and its split draw,
equal to `trainflow.data.xxhash` and `split.record_draws` on pandas frames).

pyspark drives a JVM: Java 17 or later must be installed (`make services` installs Debian's).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainflow.errors import StageError
from trainflow.params import DataParams

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# Settings every session gets: results must not depend on the machine's zone or on how many
# cores the local master has; no web UI or progress bars in a pipeline's output.
REPRODUCIBLE = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.ansi.enabled": "true",  # a bad cast fails instead of turning into null
}


def java_missing() -> str | None:
    """Why Spark cannot start here, or None."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return None
    return "Spark needs Java 17 or later: apt-get install openjdk-17-jre-headless (make services)"


def spark_session(
    master: str = "local[2]", conf: dict[str, str] | None = None, app: str = "trainflow"
) -> SparkSession:
    """A session on `master` (local[N], spark://host:port, yarn, k8s://...) with REPRODUCIBLE
    and then `conf` applied; one per process (Spark's getOrCreate)."""
    reason = java_missing()
    if reason:
        raise StageError(reason)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app)
    # Python workers (the Parquet writer, text normalising) run this interpreter unless the
    # environment or `conf` names another (spark.pyspark.python: the executors' Python)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**REPRODUCIBLE, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def record_hash(columns: list[str], salt: int | None = None) -> Column:
    """Spark's xxhash64 of `columns` (after a long `salt`): equal to
    `trainflow.data.xxhash.spark_row_hash` on the same records."""
    from pyspark.sql import functions as F

    values = [column(c) for c in columns]
    if salt is not None:
        values.insert(0, F.lit(salt).cast("long"))
    return F.xxhash64(*values)


def record_draws(frame: DataFrame, data: DataParams, seed: int) -> Column:
    """Each record's split draw in [0, 1): `split.record_draws` in Spark's functions."""
    from pyspark.sql import functions as F

    columns = data.record_columns_in(frame.columns)
    top = F.shiftrightunsigned(record_hash(columns, salt=seed), 11)
    return top.cast("double") / float(2**53)


def column(name: str) -> Column:
    """A column by its name as written (dots, spaces and backticks are not syntax)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


ROW_GROUP_ROWS = 1 << 20  # rows per Parquet row group (the last group of a file holds the rest)


def write_parquet(
    frame: DataFrame, folder: Path, key: str | None = None, files: int = 8,
    row_group_rows: int = ROW_GROUP_ROWS,
) -> list[Path]:  # fmt: skip
    """Write `frame` as a Parquet dataset whose bytes depend on its rows alone: rows go to
    `files` parts by Spark's hash of `key` (a record hash: unique per row; None: every
    column), sorted by `key` and then every column within each part, each part written by its
    executor with pyarrow as `part-0000N.parquet` in row groups of exactly `row_group_rows`.
    Spark's own writer would not do: its file names carry a per-write UUID, and parquet-mr
    lists a column's encodings in the footer in an order that changes from one JVM to the next
    (identity hashes), so two runs of one stage differ in bytes. However the input was
    partitioned, and on whichever machines, the same rows give the same files: DVC's content
    hash and `trainflow verify` see a rerun as identical. Written beside `folder` and moved
    into place whole: no partial output on failure. On a cluster, `folder` must be on a file
    system every executor mounts at the same path (docs/scale.md)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.spark-tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    everything = [column(c) for c in frame.columns]
    by = [column(key)] if key is not None else everything
    laid_out = frame.repartition(files, *by).sortWithinPartitions(*by, *everything)
    schema = to_arrow_schema(frame.schema)
    # an absolute path: the JVM and the executors keep the working folder they started in
    target = str(staging.absolute())
    laid_out.mapInArrow(_part_writer(target, schema, row_group_rows), "part long").collect()
    for number in range(files):  # a part no row hashed to: an empty file, so names never vary
        path = staging / part_name(number)
        if not path.exists():
            import pyarrow.parquet as pq

            pq.write_table(schema.empty_table(), path, compression="snappy")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return [folder / part_name(number) for number in range(files)]


def part_name(number: int) -> str:
    return f"part-{number:05d}.parquet"


def _part_writer(folder: str, schema: Any, row_group_rows: int) -> Any:
    """The function each partition's Arrow batches go through (in the executor's Python): write
    them to the partition's part file in fixed-size row groups."""

    def write(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyspark import TaskContext

        number = TaskContext.get().partitionId()
        held: list = []
        with pq.ParquetWriter(f"{folder}/{part_name(number)}", schema,
                              compression="snappy") as writer:  # fmt: skip
            for batch in batches:
                held.append(batch)
                if sum(b.num_rows for b in held) >= row_group_rows:
                    table = pa.Table.from_batches(held).cast(schema)
                    whole = len(table) // row_group_rows * row_group_rows
                    writer.write_table(table.slice(0, whole), row_group_size=row_group_rows)
                    held = table.slice(whole).to_batches()
            if held:
                writer.write_table(pa.Table.from_batches(held, schema=held[0].schema).cast(schema),
                                   row_group_size=row_group_rows)  # fmt: skip
        yield pa.RecordBatch.from_pydict({"part": [number]})

    return write
