"""The pandas engine's quality gates: Great Expectations' pandas datasource."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trainflow.data.contract import ValidationReport, contract_view, validate_with_docs
from trainflow.data.profile import profile_table
from trainflow.io import read_parquet
from trainflow.params import Params


def read(table: Path, params: Params) -> pd.DataFrame:
    return read_parquet(table)


def raw_view(raw: pd.DataFrame, params: Params) -> tuple[pd.DataFrame, pd.Series | None]:
    source = params.ingest.source
    # image sources: a failed image check names the files (their column), not the bytes
    names = raw.get(source.file_column) if source.kind == "images" else None
    return contract_view(raw, params.data.image), names


def check(
    table: pd.DataFrame, suite: dict, row_names: pd.Series | None = None
) -> tuple[ValidationReport, Path]:
    return validate_with_docs(table, suite, row_names)


def profile(table: pd.DataFrame) -> dict:
    return profile_table(table)
