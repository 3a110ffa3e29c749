"""The raw data contract: a Great Expectations suite (JSON in the repo) run on the raw table.

GX is imported lazily (≈3 s), only by the stage that validates.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainflow.data.clean import RECORD_HASH_COLUMN, strip_whitespace
from trainflow.data.columnar import is_text, number_or_marker
from trainflow.data.images import INSPECT_COLUMNS, inspected_name
from trainflow.data.images import inspect as inspect_images
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.errors import StageError
from trainflow.params import DataParams
from trainflow.webassets import make_offline

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "float32", "float64", "Int64", "Float64"]


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    severity: str
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)
    observed: Any = None
    note: str | None = None  # what the unexpected values are, when GX's words are not enough

    def describe(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        bits = [f"{self.expectation} on {where}"]
        if self.unexpected_count:
            what = f" {self.note}" if self.note else " unexpected"
            bits.append(f"{self.unexpected_count}{what} ({self.unexpected_percent:.2f}%)")
        if self.examples:
            bits.append(f"e.g. {self.examples[:5]}")
        if self.observed is not None and not self.unexpected_count:
            bits.append(f"observed {self.observed!r}")
        return ", ".join(bits)


def severity_of(raw: object) -> str:
    """GX severity -> ours: `critical` (GX's default) is an error that stops the pipeline;
    `warning` and `info` are warnings, reported and counted."""
    name = str(raw or "critical").split(".")[-1].lower()
    return "error" if name == "critical" else "warning"


@dataclass
class ValidationReport:
    suite: str
    rows: int
    evaluated: int
    outcomes: list[ExpectationOutcome]

    @property
    def errors(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "error"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "warning"]

    @property
    def failed(self) -> int:
        return len(self.errors) + len(self.warnings)

    @property
    def success(self) -> bool:
        """No failed error-severity expectation. Zero expectations evaluated is a failure too
        (GX reports it as success, GX issue #3494)."""
        return self.evaluated > 0 and not self.errors

    def summary(self, gate: str = "raw_contract") -> dict:
        """Metrics under the gate's name (columns like raw_contract.success in dvc exp show)."""
        return {
            gate: {
                "success": self.success,
                "rows": self.rows,
                "expectations_evaluated": self.evaluated,
                "expectations_failed": self.failed,
                "errors": len(self.errors),
                "warnings": len(self.warnings),
            },
            "suite": self.suite,
            "results": [asdict(o) for o in self.outcomes],
        }

    def failure_lines(self) -> list[str]:
        if self.evaluated == 0:
            return [f"suite {self.suite!r} evaluated zero expectations"]
        return [o.describe() for o in self.errors]

    def warning_lines(self) -> list[str]:
        return [o.describe() for o in self.warnings]


def load_suite(path: Path) -> dict:
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        raise StageError(f"{path}: expectation suite not found") from None
    except json.JSONDecodeError as err:
        raise StageError(
            f"{path}: expectation suite is not valid JSON (line {err.lineno})"
        ) from None
    if not isinstance(suite, dict) or "expectations" not in suite:
        raise StageError(f"{path}: not an expectation suite (no 'expectations' key)")
    return suite


def contract_view(raw: pd.DataFrame, images: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """What the contract checks: raw values with surrounding whitespace ignored, and for each
    image column what its files are (`<col>.width`, `.height`, `.channels`, `.format`: all
    missing where a file does not decode), since GX checks values, not files."""
    view, _ = strip_whitespace(raw)
    for col in images:
        if col in view.columns:
            info = inspect_images(view[col])
            for what in INSPECT_COLUMNS:
                view[inspected_name(col, what)] = info[what]
    return view


def _short(value: Any, limit: int = 40) -> Any:
    """Examples stay readable on one line: long strings are cut, newlines shown as \\n."""
    if isinstance(value, str):
        text = value.replace("\n", "\\n")
        return text if len(text) <= limit else f"{text[:limit]}…({len(value):,} chars)"
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


# the validation run's time in the Data Docs: fixed (as in wheels), so report bytes follow the
# table and the suite; when it really ran is in git / DVC history
REPORT_RUN_TIME = datetime(1980, 1, 1, tzinfo=UTC)
_GX_STAMP = re.compile(r"\b\d{8}T\d{6}\.\d{6}Z\b")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b")

TEXT_TYPES = frozenset({"str", "string", "StringDtype"})
HELD_AS = "CategoricalDtypeType"
"""The dtype that holds text in trainflow's tables (see trainflow.data.columnar)."""


def text_types_as_held(suite: dict, frame: pd.DataFrame) -> dict:
    """The suite with its text type checks aimed at the dtype that holds each text column.

    A suite says `str` for text. trainflow holds text columns as categoricals of strings, whose
    pandas dtype is CategoricalDtypeType; for those columns (only), a `str` type check becomes a
    check for that dtype, noted in the expectation's meta so Data Docs say why. Decoding 10 M
    rows per column back to `str` just for GX would cost seconds per column.
    """
    held = {str(c) for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)
            and is_text(frame[c])}  # fmt: skip
    out = copy.deepcopy(suite)
    for exp in out.get("expectations", []):
        kwargs = exp.get("kwargs") or {}
        if kwargs.get("column") not in held:
            continue
        if exp.get("type") == "expect_column_values_to_be_of_type" and (
            kwargs.get("type_") in TEXT_TYPES
        ):
            kwargs["type_"] = HELD_AS
        elif exp.get("type") == "expect_column_values_to_be_in_type_list" and TEXT_TYPES & set(
            kwargs.get("type_list") or []
        ):
            kwargs["type_list"] = [*kwargs["type_list"], HELD_AS]
        else:
            continue
        exp["meta"] = {
            **(exp.get("meta") or {}),
            "notes": "text; trainflow holds text columns as categoricals of strings",
        }
    return out


def run_suite(
    frame: pd.DataFrame, suite: dict, docs_dir: Path | None = None,
    row_names: pd.Series | None = None,
) -> ValidationReport:  # fmt: skip
    """Validate `frame` against `suite`; build Data Docs into `docs_dir` when given. Failures
    on an image's checks name the rows by `row_names` (the files), not by the values."""
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch under 1 GB with a full hashing pass (seconds at 1e7
    # rows) only to label it in Data Docs; DVC's content hashes already identify our tables
    pandas_execution_engine.HASH_THRESHOLD = 0
    outcomes, evaluated = run_gx(frame, text_types_as_held(suite, frame), "pandas", docs_dir)
    for outcome in outcomes:
        if not outcome.success:
            explain_type_failure(outcome, frame, suite)
            if row_names is not None:
                name_failing_rows(outcome, frame, row_names)
    outcomes.sort(key=lambda o: (o.success, o.column or "", o.expectation))
    return ValidationReport(suite=str(suite.get("name")), rows=len(frame), evaluated=evaluated,
                            outcomes=outcomes)  # fmt: skip


def run_gx(
    frame: Any, suite: dict, datasource: str, docs_dir: Path | None = None
) -> tuple[list[ExpectationOutcome], int]:
    """Run `suite` with Great Expectations on `frame` through its `datasource` ("pandas" for a
    pandas frame, "spark" for a Spark DataFrame): each expectation's outcome, and how many were
    evaluated. Data Docs go to `docs_dir` when given."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in list(logging.root.manager.loggerDict):  # GX sets some child loggers to INFO
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    try:
        gx_suite = ctx.suites.add(ExpectationSuite(**suite))
    except Exception as err:  # GX raises many types for a malformed suite
        raise StageError(f"expectation suite {suite.get('name')!r} is invalid: {err}") from None
    sources = ctx.data_sources
    add = sources.add_spark if datasource == "spark" else sources.add_pandas
    batch = (
        add("trainflow").add_dataframe_asset("table").add_batch_definition_whole_dataframe("whole")
    )
    definition = ctx.validation_definitions.add(
        gx.ValidationDefinition(name="contract", data=batch, suite=gx_suite)
    )
    actions = []
    if docs_dir is not None:
        ctx.add_data_docs_site(
            site_name="local",
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),
                },
            },
        )
        actions.append(UpdateDataDocsAction(name="docs"))
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(
            name="contract",
            validation_definitions=[definition],
            actions=actions,
            result_format={"result_format": "BASIC", "partial_unexpected_count": 10},
        )
    )
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(run_name="trainflow", run_time=REPORT_RUN_TIME)
    result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)
    if docs_dir is not None:
        reproducible_docs(docs_dir)
        make_offline(docs_dir)  # vendored Bootstrap, bootstrap-table, Font Awesome, vega
    outcomes: list[ExpectationOutcome] = []
    stats = {"evaluated_expectations": 0}
    for run in result.run_results.values():
        stats = run.statistics
        for res in run.results:
            cfg = res.expectation_config
            info = res.result or {}
            if res.exception_info and res.exception_info.get("raised_exception"):
                info = {"observed_value": res.exception_info.get("exception_message")}
            outcomes.append(
                ExpectationOutcome(
                    expectation=cfg.type,
                    column=cfg.kwargs.get("column"),
                    success=bool(res.success),
                    severity=severity_of(getattr(cfg, "severity", None)),
                    unexpected_count=info.get("unexpected_count"),
                    unexpected_percent=info.get("unexpected_percent"),
                    examples=[
                        _short(_jsonable(v)) for v in info.get("partial_unexpected_list") or []
                    ],
                    observed=_jsonable(info.get("observed_value")),
                )
            )
    return outcomes, int(stats["evaluated_expectations"])


TYPE_EXPECTATIONS = ("expect_column_values_to_be_in_type_list",
                     "expect_column_values_to_be_of_type")  # fmt: skip


def explain_type_failure(outcome: ExpectationOutcome, frame: pd.DataFrame, suite: dict) -> None:
    """A number column holding words fails its type check with GX saying only which dtype it
    saw (e.g. 'CategoricalDtypeType'); name the values that are not numbers, with their rows."""
    if outcome.expectation not in TYPE_EXPECTATIONS or outcome.column not in frame.columns:
        return
    wanted = set()
    for exp in suite.get("expectations", []):
        kwargs = exp.get("kwargs") or {}
        if exp.get("type") == outcome.expectation and kwargs.get("column") == outcome.column:
            wanted |= {kwargs.get("type_"), *(kwargs.get("type_list") or [])}
    if not wanted & set(NUMERIC_TYPES):
        return
    count, examples = not_numbers(frame[outcome.column])
    if count:
        outcome.unexpected_count, outcome.examples = count, examples
        outcome.unexpected_percent = 100.0 * count / max(1, len(frame))
        outcome.note = "values are not numbers"


def name_failing_rows(outcome: ExpectationOutcome, frame: pd.DataFrame, names: pd.Series) -> None:
    """An image check that failed: its examples become the files that fail it (a missing or
    undecodable image has no value worth showing; a wrong width is found by its file)."""
    column = outcome.column
    if column is None or column not in frame.columns:
        return
    image = column if f"{column}.format" in frame.columns else column.rpartition(".")[0]
    if inspected_name(image, "format") not in frame.columns:
        return
    values = frame[column]
    if outcome.expectation == "expect_column_values_to_not_be_null":
        failing = values.isna().to_numpy()
    else:
        shown = [v for v in outcome.examples if v is not None]
        failing = values.isin(shown).fillna(False).to_numpy(dtype=bool)
    hits = np.flatnonzero(failing)
    if hits.size:
        outcome.examples = [str(names.iloc[i]) for i in hits[:5]]
        if outcome.expectation != "expect_column_values_to_not_be_null":
            outcome.note = "unexpected, in files"
        else:
            outcome.note = "images do not decode" if column != image else "files are missing"


def not_numbers(values: pd.Series, limit: int = 5) -> tuple[int, list[str]]:
    """How many present values do not read as numbers, and the first few with their row
    (counting data rows from 1)."""
    text = values.astype(str).where(values.notna())
    distinct = pd.Series(text.dropna().unique())
    bad = set(distinct[pd.to_numeric(distinct.str.strip(), errors="coerce").isna()])
    hits = np.flatnonzero(text.isin(bad).to_numpy())
    examples = [f"{_short(text.iloc[i])!r} (row {i + 1})" for i in hits[:limit]]
    return len(hits), examples


def reproducible_docs(docs_dir: Path) -> None:
    """Data Docs stamp the render and validation times into the pages (GX's compact
    `YYYYMMDDTHHMMSS.ffffffZ`, e.g. a `?d=` cache-buster on the logo) and give collapsible
    blocks random uuid4 ids. Set the times to REPORT_RUN_TIME and number the ids in page order,
    so the same table and suite give the same report bytes (`trainflow verify` compares them)."""
    stamp = f"{REPORT_RUN_TIME:%Y%m%dT%H%M%S.%fZ}"
    for page in sorted(docs_dir.rglob("*.html")):
        text = page.read_text()
        fixed = _numbered_ids(_GX_STAMP.sub(stamp, text))
        if fixed != text:
            page.write_text(fixed)


def _numbered_ids(text: str) -> str:
    ids: dict[str, str] = {}
    return _UUID.sub(lambda m: ids.setdefault(m.group(0), f"block-{len(ids) + 1:04d}"), text)


def validate_with_docs(
    frame: Any, suite: dict, row_names: pd.Series | None = None,
    runner: Callable[[Any, dict, Path], ValidationReport] | None = None,
) -> tuple[ValidationReport, Path]:  # fmt: skip
    """Run the suite with Data Docs built in a fresh temporary folder (caller moves it);
    `runner` validates a table run_suite cannot (the Spark engine's)."""
    docs = Path(tempfile.mkdtemp(prefix="trainflow-docs-"))
    try:
        if runner is not None:
            return runner(frame, suite, docs), docs
        return run_suite(frame, suite, docs, row_names), docs
    except BaseException:
        shutil.rmtree(docs, ignore_errors=True)
        raise


def prepared_suite(data: DataParams) -> dict:
    """The model-ready contract, derived from params: what training relies on after cleaning.

    Every schema column present with its exact dtype, the target never missing and exactly
    within data.labels and every label present (classification) or a float that varies
    (regression), no duplicate records (by prepare's record hash),
    at least one row.
    """
    exp: list[dict] = [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        # prepare's hash of data.record_columns: equal records hash equal, so a unique hash
        # means no duplicate records (one hashed column checks in a fraction of the time)
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": RECORD_HASH_COLUMN}},
        {"type": "expect_column_values_to_be_of_type",
         "kwargs": {"column": RECORD_HASH_COLUMN, "type_": "int64"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": data.target}},
    ]  # fmt: skip
    if data.is_classification:
        exp += [
            {"type": "expect_column_values_to_be_in_set",
             "kwargs": {"column": data.target, "value_set": list(data.labels)}},
            {"type": "expect_column_distinct_values_to_contain_set",
             "kwargs": {"column": data.target, "value_set": list(data.labels)}},
            {"type": "expect_column_values_to_be_of_type",
             "kwargs": {"column": data.target, "type_": "str"}},
        ]  # fmt: skip
    else:  # a numeric target that varies (a constant has nothing to learn)
        exp += [
            {"type": "expect_column_values_to_be_of_type",
             "kwargs": {"column": data.target, "type_": "float64"}},
            {"type": "expect_column_unique_value_count_to_be_between",
             "kwargs": {"column": data.target, "min_value": 2}},
        ]  # fmt: skip
    for col in data.numeric:
        exp.append({"type": "expect_column_values_to_be_of_type",
                    "kwargs": {"column": col, "type_": "float64"}})  # fmt: skip
    for col in data.categorical:
        exp.append({"type": "expect_column_values_to_be_of_type",
                    "kwargs": {"column": col, "type_": "str"}})  # fmt: skip
    for col in data.text:  # cleaned text: a string with something to read, or missing (the
        # raw contract bounds how often)
        exp += [{"type": "expect_column_values_to_be_of_type",
                 "kwargs": {"column": col, "type_": "str"}},
                {"type": "expect_column_values_to_not_match_regex",
                 "kwargs": {"column": col, "regex": BLANK_TEXT}}]  # fmt: skip
    for col in data.image:  # an image file's bytes (base64), or missing (bounded as for text)
        exp += [{"type": "expect_column_values_to_be_of_type",
                 "kwargs": {"column": col, "type_": "str"}}]  # fmt: skip
    for e in exp:
        e["severity"] = "critical"
    return {"name": "prepared_model_ready", "expectations": exp,
            "meta": {"generated_by": "trainflow from params.yaml data.*"}}  # fmt: skip


def numeric_bounds(values: pd.Series, col: str) -> list[dict]:
    """Numeric type, and a range around the draft data's (0 stays the floor of a non-negative
    column; half the span of headroom above)."""
    numbers = pd.to_numeric(values, errors="coerce")
    lo, hi = float(numbers.min()), float(numbers.max())
    span = max(hi - lo, 1.0)
    return [
        {"type": "expect_column_values_to_be_in_type_list",
         "kwargs": {"column": col, "type_list": NUMERIC_TYPES}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": col, "min_value": 0.0 if lo >= 0 else lo - span,
                    "max_value": hi + span * 0.5}},
    ]  # fmt: skip


def is_text_column(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
                or pd.api.types.is_datetime64_any_dtype(values))  # fmt: skip


def observed_values(values: pd.Series) -> list:
    """The column's distinct present values as JSON values of its own type (ints stay ints,
    booleans booleans), sorted: a value set the same column passes."""
    present = values.dropna()
    if isinstance(present.dtype, pd.CategoricalDtype):
        present = present.astype(object)
    distinct = [_jsonable(v) for v in pd.unique(present)]
    return sorted(distinct, key=lambda v: (str(type(v)), v))


def type_expectation(values: pd.Series, col: str) -> dict:
    """The type check a column passes: text as `str` (type_list cannot match pandas 3's `str`
    dtype in GX 1.24; of_type can), numbers as any numeric type, booleans as bool."""
    if pd.api.types.is_bool_dtype(values):
        return {"type": "expect_column_values_to_be_of_type",
                "kwargs": {"column": col, "type_": "bool"}}  # fmt: skip
    if pd.api.types.is_numeric_dtype(values):
        return {"type": "expect_column_values_to_be_in_type_list",
                "kwargs": {"column": col, "type_list": NUMERIC_TYPES}}  # fmt: skip
    return {"type": "expect_column_values_to_be_of_type",
            "kwargs": {"column": col, "type_": "str"}}  # fmt: skip


BLANK_TEXT = r"^\s*$"  # empty, or nothing but white space


def at_most_twice(rate: float) -> float | None:
    """The `mostly` of a drafted missing-rate bound: twice the rate the draft data has (and a
    point more); None where it has none (a hard rule)."""
    return round(max(0.0, 1 - min(1.0, 2 * rate + 0.01)), 3) if rate > 0 else None


def _mostly(kwargs: dict, mostly: float | None) -> dict:
    return kwargs if mostly is None else {**kwargs, "mostly": mostly}


def text_expectations(values: pd.Series, col: str) -> list[dict]:
    """A text column: a string, no longer than twice the draft data's longest (a bound that
    catches a column of whole documents or a broken quote); missing or blank in no row, or,
    where the draft data has some, in at most twice as many (prepare reads blank as missing,
    the model an empty text)."""
    present = values.dropna().astype(str)
    longest = int(present.str.len().max()) if len(present) else 0
    missing = at_most_twice(float(values.isna().mean()))
    blank = at_most_twice(float(present.str.fullmatch(BLANK_TEXT).mean()) if len(present) else 0)
    return [
        type_expectation(values, col),
        {"type": "expect_column_values_to_not_be_null", "kwargs": _mostly({"column": col},
                                                                          missing)},
        {"type": "expect_column_values_to_not_match_regex",
         "kwargs": _mostly({"column": col, "regex": BLANK_TEXT}, blank)},
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": _mostly({"column": col, "min_value": 1, "max_value": max(2 * longest, 1)},
                           blank)},
    ]  # fmt: skip


def image_expectations(view: pd.DataFrame, col: str) -> list[dict]:
    """An image column: a file in every row that decodes (or, where the draft data misses
    some, in all but twice as many rows), in a format, channel count and size the draft data
    has (sizes: from half the smallest to twice the largest side seen)."""
    fmt, channels = inspected_name(col, "format"), inspected_name(col, "channels")
    missing = at_most_twice(float(view[fmt].isna().mean()))  # no image, or none that decodes
    exp = [
        type_expectation(view[col], col),
        {"type": "expect_column_values_to_not_be_null",
         "kwargs": _mostly({"column": col}, missing)},
        {"type": "expect_column_values_to_not_be_null",
         "kwargs": _mostly({"column": fmt}, missing)},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": fmt, "value_set": observed_values(view[fmt])}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": channels, "value_set": observed_values(view[channels])}},
    ]  # fmt: skip
    for what in ("width", "height"):
        side = view[inspected_name(col, what)].dropna()
        lo, hi = (int(side.min()), int(side.max())) if len(side) else (1, 1)
        exp.append({"type": "expect_column_values_to_be_between",
                    "kwargs": {"column": inspected_name(col, what),
                               "min_value": max(1, lo // 2), "max_value": 2 * hi}})  # fmt: skip
    return exp


def starter_suite(raw: pd.DataFrame, data: DataParams, name: str) -> dict:
    """Draft a contract from a raw table: columns, types, ranges, value sets, missing rates.

    A starting point for a human to review and commit, not a contract by itself.
    """
    view = contract_view(raw, data.image)
    markers = list(data.missing_markers)
    exp: list[dict] = [
        {"type": "expect_table_columns_to_match_set",
         "kwargs": {"column_set": list(view.columns), "exact_match": True}},
        {"type": "expect_table_row_count_to_be_between",
         "kwargs": {"min_value": max(1, len(view) // 10), "max_value": None}},
    ]  # fmt: skip

    def not_null(col: str) -> dict:
        """No nulls, or (where the draft data has some) a bound at twice the observed rate."""
        mostly = at_most_twice(float(view[col].isna().mean()))
        return {"type": "expect_column_values_to_not_be_null",
                "kwargs": _mostly({"column": col}, mostly)}  # fmt: skip

    for col in data.numeric:
        values = view[col]
        if is_text_column(values):  # numbers written as text, missing markers among them
            exp += [not_null(col), type_expectation(values, col),
                    {"type": "expect_column_values_to_match_regex",
                     "kwargs": {"column": col, "regex": number_or_marker(markers)}}]  # fmt: skip
        else:
            exp += [not_null(col), *numeric_bounds(values, col)]
    for col in data.categorical:
        values = view[col]
        missing_rate = float(values.isin(markers).mean())
        allowed = observed_values(values)
        if is_text_column(values):
            allowed = sorted(set(allowed) | set(markers))
        exp += [
            type_expectation(values, col),
            not_null(col),
            {"type": "expect_column_values_to_be_in_set",
             "kwargs": {"column": col, "value_set": allowed}},
        ]  # fmt: skip
        if markers:
            exp.append(
                {"type": "expect_column_values_to_not_be_in_set",
                 "kwargs": {"column": col, "value_set": markers,
                            "mostly": round(max(0.0, 1 - min(1.0, 2 * missing_rate + 0.01)), 3)}}
            )  # fmt: skip
    for col in data.text:
        exp += text_expectations(view[col], col)
    for col in data.image:
        exp += image_expectations(view, col)
    if data.group_column is not None and data.group_column in view.columns:
        exp.append(not_null(data.group_column))  # a row with no group has no split to go to
    exp.append(not_null(data.target))
    if data.is_classification:
        target = view[data.target]
        # the values as the column holds them (1, not "1"): what the draft saw, present ones
        observed = [v for v in observed_values(target)
                    if not (isinstance(v, str) and v in markers)]  # fmt: skip
        exp += [
            {"type": "expect_column_values_to_be_in_set",
             "kwargs": {"column": data.target,
                        "value_set": sorted(set(observed) | set(data.label_map), key=str)}},
            {"type": "expect_column_distinct_values_to_contain_set",
             "kwargs": {"column": data.target, "value_set": observed}},
        ]  # fmt: skip
    else:
        exp += numeric_bounds(view[data.target], data.target)
    if SOURCE_FILE_COLUMN in view.columns:
        exp.append({"type": "expect_column_values_to_not_be_null",
                    "kwargs": {"column": SOURCE_FILE_COLUMN}})  # fmt: skip
    for e in exp:
        e["severity"] = "critical"
    return {"name": name, "expectations": exp, "meta": {"generated_by": "trainflow"}}
