"""fetch-data on the pandas engine: a live source read into memory (SQLAlchemy, s3fs) and
written as one Parquet file."""

from __future__ import annotations

from pathlib import Path

from trainflow.data.live import read_s3, read_sql, source_uri
from trainflow.errors import StageError
from trainflow.io import write_table
from trainflow.params import Params, S3Source, SqlSource


def export(source: SqlSource | S3Source, params: Params, out: Path) -> tuple[int, int]:
    frame = read_sql(source) if isinstance(source, SqlSource) else read_s3(source)
    if frame.empty:
        raise StageError(f"{source_uri(source)}: returned no rows")
    write_table(frame, out)
    return frame.shape
