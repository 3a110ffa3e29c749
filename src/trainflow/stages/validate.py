"""validate: the raw gate. The committed Great Expectations suite checks the raw table;
error-severity failures stop the pipeline, warnings are reported and counted."""

from __future__ import annotations

from trainflow import paths
from trainflow.data.contract import load_suite
from trainflow.engines import engine_part
from trainflow.params import load_params
from trainflow.stages import run_stage
from trainflow.stages._gate import run_gate


def main() -> None:
    params = load_params()
    suite = load_suite(params.validate_.suite)
    engine = engine_part(params.data.engine, "validate")
    view, names = engine.raw_view(engine.read(paths.RAW_TABLE, params), params)
    run_gate(engine, "raw_contract", view, suite, str(paths.RAW_TABLE),
             paths.VALIDATION_REPORT_DIR, paths.DATA_QUALITY, row_names=names)  # fmt: skip


if __name__ == "__main__":
    run_stage("validate", main)
