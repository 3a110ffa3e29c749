"""The Spark engine's quality gates: Great Expectations' Spark datasource, the suite's pandas
type names translated, and the profile in Spark aggregates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainflow.data.clean import RECORD_HASH_COLUMN
from trainflow.data.contract import ValidationReport, run_gx, validate_with_docs
from trainflow.data.spark import column
from trainflow.engines.spark_engine import NUMERIC, read, strip
from trainflow.engines.spark_engine import functions as _functions
from trainflow.params import Params

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def raw_view(raw: DataFrame, params: Params) -> tuple[DataFrame, None]:
    """The raw values with surrounding white space ignored (contract.contract_view)."""
    text = [name for name, kind in raw.dtypes if kind == "string"]
    return raw.withColumns({c: strip(column(c)) for c in text}), None


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
    """GX runs a Spark job per metric: the table is kept for them and for the profile after
    them, instead of read and cleaned again each time. Kept on the executors' local disk, not
    in their heap: at 1e8 rows building the in-memory copy (MEMORY_AND_DISK) filled a 4 GB
    heap and the JVM died of OutOfMemoryError (docs/scale.md)."""
    from pyspark import StorageLevel

    table.persist(StorageLevel.DISK_ONLY)
    return validate_with_docs(table, suite, runner=_run_suite)


def profile(table: DataFrame, top: int = 5) -> dict:
    """trainflow.data.profile's profile in two Spark jobs (counts and ranges in one, every
    text column's top values and exact distinct counts in the other); numeric columns'
    distinct counts are HyperLogLog estimates (within 5 %: a tighter sketch cost 30 s on
    Adult)."""
    F = _functions()
    types = dict(table.dtypes)
    names = [c for c in table.columns if c != RECORD_HASH_COLUMN]
    aggs = [F.count(F.lit(1)).alias("rows")]
    for i, c in enumerate(names):
        aggs.append(F.count(column(c)).alias(f"n{i}"))
        if types[c] in NUMERIC or types[c].startswith("decimal"):
            value = column(c).cast("double")
            aggs += [F.min(value).alias(f"lo{i}"), F.max(value).alias(f"hi{i}"),
                     F.mean(value).alias(f"mean{i}"),
                     F.approx_count_distinct(value, 0.05).alias(f"d{i}")]  # fmt: skip
    stats = table.agg(*aggs).first().asDict()
    rows = int(stats["rows"])
    columns = {}
    for i, c in enumerate(names):
        entry: dict = {
            "dtype": types[c],
            "missing_pct": round(100.0 * (rows - stats[f"n{i}"]) / rows, 3) if rows else 0.0,
            "distinct": int(stats.get(f"d{i}", 0)),
        }
        if f"lo{i}" in stats:
            if stats[f"n{i}"]:
                entry |= {"min": float(stats[f"lo{i}"]), "max": float(stats[f"hi{i}"]),
                          "mean": round(float(stats[f"mean{i}"]), 6)}  # fmt: skip
        else:
            entry["top"] = {}
        columns[c] = entry
    for r in _top_values(table, [c for c in names if "top" in columns[c]], top):
        columns[r["column"]]["top"][str(r["value"])] = int(r["count"])
        columns[r["column"]]["distinct"] = int(r["distinct"])
    return {"rows": rows, "columns": columns}


def _top_values(table: DataFrame, names: list[str], top: int) -> list:
    """The `top` commonest values of every column in `names`, in one grouping job: (column,
    value, count, distinct) rows, commonest first; `distinct` is the column's exact count of
    distinct values."""
    from pyspark.sql import Window

    F = _functions()
    if not names:
        return []
    pairs = F.array(*[F.struct(F.lit(c).alias("column"), column(c).cast("string").alias("value"))
                      for c in names])  # fmt: skip
    counts = (table.select(F.explode(pairs).alias("p")).select("p.column", "p.value")
              .where(F.col("value").isNotNull()).groupBy("column", "value").count())  # fmt: skip
    rank = Window.partitionBy("column").orderBy(F.desc("count"), "value")
    ranked = counts.withColumns(
        {
            "rank": F.row_number().over(rank),
            "distinct": F.count(F.lit(1)).over(Window.partitionBy("column")),
        }
    )
    ranked = ranked.where(F.col("rank") <= top)
    return ranked.orderBy("column", "rank").collect()


__all__ = ["check", "profile", "raw_view", "read", "spark_types"]
