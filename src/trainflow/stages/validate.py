"""validate: run the committed Great Expectations suite on the raw table; stop the pipeline on
failure with the failed expectations listed (column, count, example values)."""

from __future__ import annotations

import logging
import shutil
import sys

from trainflow import paths
from trainflow.data.contract import contract_view, load_suite, validate_with_docs
from trainflow.errors import StageError
from trainflow.io import atomic_dir, read_parquet, write_json
from trainflow.params import load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.validate")
FAILED_DIR = paths.REPORTS_DIR / "failed" / "validation"


def main() -> None:
    params = load_params()
    suite = load_suite(params.validate_.suite)
    raw = read_parquet(paths.RAW_TABLE)
    report, docs = validate_with_docs(contract_view(raw), suite)
    try:
        if not report.success:
            shutil.rmtree(FAILED_DIR, ignore_errors=True)
            FAILED_DIR.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(docs, FAILED_DIR / "data_docs")
            write_json(FAILED_DIR / "data_quality.json", report.summary())
            for line in report.failure_lines():
                print(f"  FAILED {line}", file=sys.stderr)
            raise StageError(
                f"{paths.RAW_TABLE} breaks the contract {params.validate_.suite}: "
                f"{report.failed} of {report.evaluated} expectations failed "
                f"(report: {FAILED_DIR}/data_docs/index.html)"
            )
        with atomic_dir(paths.VALIDATION_REPORT_DIR) as out:
            shutil.copytree(docs, out / "data_docs")
        write_json(paths.DATA_QUALITY, report.summary())
    finally:
        shutil.rmtree(docs, ignore_errors=True)
    log.info("contract passed: %d expectations on %d rows", report.evaluated, report.rows)


if __name__ == "__main__":
    run_stage("validate", main)
