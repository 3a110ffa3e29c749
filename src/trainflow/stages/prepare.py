"""prepare: clean the validated raw table (whitespace, missing markers, labels, types,
duplicates) and report what changed."""

from __future__ import annotations

import logging

from trainflow import paths
from trainflow.engines import engine_part
from trainflow.io import atomic_dir, write_json
from trainflow.params import load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.prepare")


def main() -> None:
    params = load_params()
    engine = engine_part(params.data.engine, "prepare")
    with atomic_dir(paths.PREPARED_DIR) as out:
        report = engine.prepare(params, paths.RAW_TABLE, out / paths.PREPARED_TABLE.name)
    write_json(paths.PREPARE_METRICS, {"cleaning": report.to_dict()})
    log.info("cleaned %d -> %d rows", report.rows_in, report.rows_out)
    if report.columns_not_used:
        log.info("kept out of the model (not in params.yaml data): %s",
                 ", ".join(report.columns_not_used))  # fmt: skip


if __name__ == "__main__":
    run_stage("prepare", main)
