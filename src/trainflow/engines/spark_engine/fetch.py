"""fetch-data on the Spark engine: a database read by Spark's JDBC source, in `spark.files`
ranges of `ingest.source.partition_column` when one is named, and written as a Parquet dataset
laid out by its content (the same bytes for the same rows, whatever order the database returns
them in), so a table larger than memory becomes a snapshot without passing through pandas.

The JDBC driver is a jar on Spark's classpath: PostgreSQL's from Debian's
`libpostgresql-jdbc-java` (`spark.conf: {spark.jars: /usr/share/java/postgresql.jar}`), or any
jar `spark.jars` / `spark.jars.packages` names. An S3 source is read by the executors
(`trainflow.engines.spark_engine.s3`).
"""

from __future__ import annotations

from pathlib import Path

from trainflow.data.live import expand_env, safe_sql_url, scrub
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.data.spark import write_parquet
from trainflow.engines.spark_engine import functions, session
from trainflow.errors import StageError
from trainflow.params import Params, S3Source, SqlSource

JDBC_URLS = {"postgresql": ("jdbc:postgresql://{host}:{port}/{database}", 5432,
                            "org.postgresql.Driver")}  # fmt: skip
"""SQLAlchemy backend -> (JDBC URL, default port, driver class)."""


def jdbc_options(source: SqlSource) -> tuple[dict[str, str], list[str]]:
    """Spark's JDBC options for the source's SQLAlchemy URL (${VAR}s expanded), and the
    secrets to keep out of messages."""
    from sqlalchemy.engine import make_url

    text, secrets = expand_env(source.url, "ingest.source.url")
    url = make_url(text)
    backend = url.get_backend_name()
    if backend not in JDBC_URLS:
        raise StageError(f"ingest.source.url: the Spark engine reads {sorted(JDBC_URLS)} through "
                         f"JDBC, not {backend!r} (data.engine pandas reads it through "
                         "SQLAlchemy)")  # fmt: skip
    pattern, port, driver = JDBC_URLS[backend]
    jdbc = pattern.format(host=url.host or "localhost", port=url.port or port,
                          database=url.database or "")  # fmt: skip
    table = f'"{source.table}"' if source.table else f"({source.query}) AS trainflow_source"
    options = {"url": jdbc, "driver": driver, "dbtable": table, "fetchsize": "10000"}
    if url.username:
        options["user"] = url.username
    if url.password:
        options["password"] = url.password
        secrets.append(url.password)
    return options, secrets


def export(source: SqlSource | S3Source, params: Params, out: Path) -> tuple[int, int]:
    if not isinstance(source, SqlSource):
        from trainflow.engines.spark_engine import s3

        return s3.export(source, params, out)
    options, secrets = jdbc_options(source)
    shown = safe_sql_url(source.url)
    spark = session(params)
    try:
        reader = spark.read.format("jdbc").options(**options)
        if source.partition_column:
            reader = reader.options(**_ranges(spark, options, source.partition_column,
                                              params.spark.files))  # fmt: skip
        frame = reader.load()
        frame = frame.withColumn(SOURCE_FILE_COLUMN, functions().lit(source.table or "query"))
        write_parquet(frame, out, files=params.spark.files)
    except StageError:
        raise
    except Exception as err:  # py4j / pyspark raise the JVM's many types
        raise StageError(f"{shown}: {reason(err, secrets)}") from None
    return snapshot_shape(out, len(frame.columns), shown)


def snapshot_shape(out: Path, columns: int, shown: str) -> tuple[int, int]:
    """The written snapshot's rows (from its parts' footers) and columns; no rows: an error
    naming the source."""
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(part).metadata.num_rows for part in out.rglob("*.parquet"))
    if not rows:
        raise StageError(f"{shown}: returned no rows")
    return rows, columns


def _ranges(spark, options: dict[str, str], column: str, parts: int) -> dict[str, str]:
    """Spark's partitioned JDBC read: `parts` ranges of `column` between its min and max."""
    table = options["dbtable"]
    bounds = (spark.read.format("jdbc").options(**{**options, "dbtable": (
        f'(SELECT min("{column}") AS lo, max("{column}") AS hi FROM {table}) AS bounds')})
        .load().first())  # fmt: skip
    if bounds is None or bounds["lo"] is None:
        return {}  # no rows, or the column is all missing: one read
    return {"partitionColumn": f'"{column}"', "lowerBound": str(bounds["lo"]),
            "upperBound": str(bounds["hi"]), "numPartitions": str(parts)}  # fmt: skip


def reason(err: Exception, secrets: list[str]) -> str:
    """The JVM's root cause (py4j's own line only says which call failed), secrets scrubbed;
    a missing driver jar named with its fix."""
    java = getattr(err, "java_exception", None)
    if java is not None:
        while java.getCause() is not None:
            java = java.getCause()
        err = RuntimeError(str(java.toString()))
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    hint = ""
    if "No suitable driver" in str(err) or "ClassNotFoundException" in str(err):
        hint = (" (the JDBC driver's jar is not on Spark's classpath: add it to spark.conf "
                "spark.jars, e.g. /usr/share/java/postgresql.jar from Debian's "
                "libpostgresql-jdbc-java)")  # fmt: skip
    return scrub(text, secrets) + hint
