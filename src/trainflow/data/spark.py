"""The data stages' second engine, Spark: a session set up for reproducible results, and what
both engines must compute alike in Spark's own functions (a record's hash and its split draw,
equal to `trainflow.data.xxhash` and `split.record_draws` on pandas frames).

pyspark drives a JVM: Java 17 or later must be installed (`make services` installs Debian's).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

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


def write_parquet(
    frame: DataFrame, folder: Path, key: str | None = None, files: int = 8
) -> list[Path]:
    """Write `frame` as a Parquet dataset whose bytes depend on its rows alone: rows go to
    `files` parts by Spark's hash of `key` (a record hash: unique per row; None: every
    column), sorted by `key` and then every column within each part, and the parts are
    named by their number (`part-00003.parquet`) instead of Spark's per-write UUIDs;
    `_SUCCESS` and checksum files are left out. However the input was partitioned, the same
    rows give the same files, so DVC's content hash and `trainflow
    verify` see a rerun as identical. Written beside `folder` and moved into place whole:
    no partial output on failure."""
    import re

    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.spark-tmp")
    shutil.rmtree(staging, ignore_errors=True)
    everything = [column(c) for c in frame.columns]
    by = [column(key)] if key is not None else everything
    laid_out = frame.repartition(files, *by).sortWithinPartitions(*by, *everything)
    # an absolute path: the JVM keeps the working folder it started in
    laid_out.write.option("compression", "snappy").parquet(str(staging.absolute()))
    names = []
    for path in sorted(staging.iterdir()):
        number = re.match(r"part-(\d+).*\.parquet$", path.name)
        if number is None:  # _SUCCESS, .crc checksums
            path.unlink()
            continue
        names.append(f"part-{int(number.group(1)):05d}.parquet")
        path.rename(staging / names[-1])
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return [folder / name for name in names]
