"""The Spark engine (data.engine: spark): the data stages as Spark jobs, on `spark.master`.

The same rules as the pandas engine, in Spark's own functions so that they run where the data
is: sources read by Spark's CSV / Parquet / JSON readers, the cleaning rules of
`trainflow.data.clean` as column expressions, the contracts by Great Expectations' Spark
datasource, the split by each record's salted xxhash64 (no sampling that depends on
partitioning). Every output is a Parquet dataset laid out by its content
(`trainflow.data.spark.write_parquet`), so DVC sees a rerun as unchanged. On Adult both engines
give the same prepared rows and the same split (tests/engines).

One module per part (ingest, gate, prepare, split), as `trainflow.engines` finds them; here
what they share.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainflow.data.spark import spark_session
from trainflow.errors import StageError
from trainflow.params import Params

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
"""What Python's str.strip() strips (its 29 white-space characters, all below U+3001)."""


def strip(values: Column) -> Column:
    """A text column as str.strip() leaves it: Spark's btrim with that character set, a plain
    scan of each end (a Unicode regex per cell cost most of prepare's time at 1e7 rows)."""
    return functions().btrim(values, functions().lit(WHITESPACE))


NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double")


def session(params: Params) -> SparkSession:
    return spark_session(params.spark.master, params.spark.conf)


def functions() -> Any:
    from pyspark.sql import functions as F

    return F


def read(table: Path, params: Params) -> DataFrame:
    if not table.exists():
        raise StageError(f"{table}: not found (run the stages before this one)")
    return session(params).read.parquet(str(table.absolute()))
