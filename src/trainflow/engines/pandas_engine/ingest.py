"""The pandas engine's ingest: trainflow.data.sources' readers."""

from __future__ import annotations

from pathlib import Path

from trainflow.data.sources import (
    FEEDBACK_PREFIX,
    SOURCE_FILE_COLUMN,
    append_feedback,
    read_source,
    sample_rows,
)
from trainflow.engines.base import Ingested
from trainflow.io import write_table
from trainflow.params import Params


def ingest(params: Params, table: Path) -> Ingested:
    raw = sample_rows(read_source(params.ingest), params.ingest.sample_rows, params.seed)
    raw, feedback = append_feedback(raw, params.ingest.feedback)
    write_table(raw, table)
    rows = 0
    if feedback:
        rows = int(raw[SOURCE_FILE_COLUMN].astype(str).str.startswith(FEEDBACK_PREFIX).sum())
    return Ingested(len(raw), raw.shape[1], feedback, rows)
