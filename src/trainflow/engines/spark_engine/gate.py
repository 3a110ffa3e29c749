"""The Spark engine's quality gates: Great Expectations' Spark datasource, the suite's pandas
type names translated, and the profile in Spark aggregates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainflow.data.clean import RECORD_HASH_COLUMN
from trainflow.data.contract import ValidationReport, run_gx, validate_with_docs
from trainflow.data.spark import column
from trainflow.engines.spark_engine import NUMERIC, STRIP, read
from trainflow.engines.spark_engine import functions as _functions
from trainflow.params import Params

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


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


__all__ = ["check", "profile", "raw_view", "read", "spark_types"]
