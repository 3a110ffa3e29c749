"""split: seeded train/val/test (stratified, group-aware, time-aware or by record hash), the
leakage gate, and a manifest of every record's hash per split."""

from __future__ import annotations

import logging

from trainflow import paths
from trainflow.engines import engine_part
from trainflow.io import atomic_dir, write_json
from trainflow.params import load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.split")


def main() -> None:
    params = load_params()
    engine = engine_part(params.data.engine, "split")
    with atomic_dir(paths.SPLIT_DIR) as out:
        metrics = engine.split(params, paths.PREPARED_TABLE, out)
    write_json(paths.SPLIT_METRICS, metrics)
    summary, leakage = metrics["split"], metrics["split"]["leakage"]
    dropped = leakage["feature_collisions_dropped"]
    log.info("split sizes: %s; %d train/val rows share their feature values with a test row "
             "(%d dropped: split.shared_feature_rows %s)",
             {n: summary[n]["rows"] for n in paths.SPLITS},
             leakage["feature_collisions"] + dropped, dropped,
             params.split.shared_feature_rows)  # fmt: skip


if __name__ == "__main__":
    run_stage("split", main)
