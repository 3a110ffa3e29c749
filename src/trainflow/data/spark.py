"""The data stages' second engine, Spark: a session set up for reproducible results, and what
both engines must compute alike in Spark's own functions (a record's hash and its split draw,
equal to `trainflow.data.xxhash` and `split.record_draws` on pandas frames).

pyspark drives a JVM: Java 17 or later must be installed (`make services` installs Debian's).
"""

from __future__ import annotations

import os
import shutil
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


def record_hash(frame: DataFrame, columns: list[str], salt: int | None = None) -> Column:
    """Spark's xxhash64 of `columns` (after a long `salt`): equal to
    `trainflow.data.xxhash.spark_row_hash` on the same records."""
    from pyspark.sql import functions as F

    values = [F.col(c) for c in columns]
    if salt is not None:
        values.insert(0, F.lit(salt).cast("long"))
    return F.xxhash64(*values)


def record_draws(frame: DataFrame, data: DataParams, seed: int) -> Column:
    """Each record's split draw in [0, 1): `split.record_draws` in Spark's functions."""
    from pyspark.sql import functions as F

    columns = [c for c in data.record_columns if c in frame.columns]
    top = F.shiftrightunsigned(record_hash(frame, columns, salt=seed), 11)
    return top.cast("double") / float(2**53)
