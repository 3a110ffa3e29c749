"""split: seeded stratified train/val/test; no record may appear in two splits."""

from __future__ import annotations

import logging

from trainflow import paths
from trainflow.data.split import check_disjoint, split_summary, split_table
from trainflow.io import atomic_dir, read_parquet, write_json
from trainflow.params import load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.split")


def main() -> None:
    params = load_params()
    clean = read_parquet(paths.PREPARED_TABLE)
    splits = split_table(clean, params.data, params.split, params.seed)
    check_disjoint(splits, [*params.data.numeric, *params.data.categorical, params.data.target])
    with atomic_dir(paths.SPLIT_DIR) as out:
        for name, frame in splits.items():
            frame.to_parquet(out / paths.split_table(name).name, index=False)
    summary = split_summary(splits, params.data)
    write_json(paths.SPLIT_METRICS, {"split": summary})
    log.info("split sizes: %s", {n: len(f) for n, f in splits.items()})


if __name__ == "__main__":
    run_stage("split", main)
