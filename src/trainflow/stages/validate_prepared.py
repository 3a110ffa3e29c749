"""validate_prepared: the prepared gate. The model-ready contract derived from params (exact
types, target present and within its labels, no duplicate records) checks the cleaned table."""

from __future__ import annotations

from trainflow import paths
from trainflow.data.contract import prepared_suite
from trainflow.engines import engine_part
from trainflow.params import load_params
from trainflow.stages import run_stage
from trainflow.stages._gate import run_gate


def main() -> None:
    params = load_params()
    engine = engine_part(params.data.engine, "validate_prepared")
    clean = engine.read(paths.PREPARED_TABLE, params)
    run_gate(engine, "prepared_contract", clean, prepared_suite(params.data),
             str(paths.PREPARED_TABLE), paths.PREPARED_VALIDATION_DIR)  # fmt: skip


if __name__ == "__main__":
    run_stage("validate_prepared", main)
