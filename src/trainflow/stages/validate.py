"""validate: the raw gate. The committed Great Expectations suite checks the raw table;
error-severity failures stop the pipeline, warnings are reported and counted."""

from __future__ import annotations

from trainflow import paths
from trainflow.data.contract import contract_view, load_suite
from trainflow.io import read_parquet
from trainflow.params import load_params
from trainflow.stages import run_stage
from trainflow.stages._gate import run_gate


def main() -> None:
    params = load_params()
    suite = load_suite(params.validate_.suite)
    raw = read_parquet(paths.RAW_TABLE)
    source = params.ingest.source
    # image sources: a failed image check names the files (their column), not the bytes
    names = raw.get(source.file_column) if source.kind == "images" else None
    run_gate("raw_contract", contract_view(raw, params.data.image), suite, str(paths.RAW_TABLE),
             paths.VALIDATION_REPORT_DIR, paths.DATA_QUALITY, row_names=names)  # fmt: skip


if __name__ == "__main__":
    run_stage("validate", main)
