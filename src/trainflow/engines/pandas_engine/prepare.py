"""The pandas engine's prepare: trainflow.data.clean."""

from __future__ import annotations

from pathlib import Path

from trainflow.data.clean import CleaningReport, clean_table
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.io import read_parquet, write_table
from trainflow.params import Params


def prepare(params: Params, raw: Path, table: Path) -> CleaningReport:
    frame = read_parquet(raw)
    keep = [SOURCE_FILE_COLUMN, *params.data.record_keep]
    clean, report = clean_table(frame, params.data, keep, str(raw))
    write_table(clean, table)
    return report
