"""split: seeded train/val/test (stratified, group-aware or time-aware), the leakage gate, and a
manifest of every record's hash per split."""

from __future__ import annotations

import json
import logging

from trainflow import paths
from trainflow.data.leakage import (
    check_leakage,
    enforce,
    manifest,
    select,
    without_shared_feature_rows,
)
from trainflow.data.split import check_disjoint, hashes_by_split, split_summary, split_table
from trainflow.io import atomic_dir, read_parquet, write_json
from trainflow.params import load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.split")


def main() -> None:
    params = load_params()
    clean = read_parquet(paths.PREPARED_TABLE)
    splits = split_table(clean, params.data, params.split, params.seed)
    records = hashes_by_split(splits, params.data.record_columns)
    features = hashes_by_split(splits, params.data.features)
    check_disjoint(records)
    dropped = 0
    if params.split.shared_feature_rows == "drop_from_train":
        keep, dropped = without_shared_feature_rows(features)
        splits, records, features = (select(p, keep) for p in (splits, records, features))
    leakage = check_leakage(splits, features, params.data, params.split, dropped)
    enforce(leakage)
    rows, hashes = manifest(records)
    with atomic_dir(paths.SPLIT_DIR) as out:
        for name, frame in splits.items():
            frame.to_parquet(out / paths.split_table(name).name, index=False)
        rows.to_parquet(out / "manifest.parquet", index=False)
        (out / "manifest.json").write_text(json.dumps(hashes, indent=2) + "\n")
    summary = split_summary(splits, params.data)
    write_json(paths.SPLIT_METRICS, {"split": summary | {"leakage": leakage.to_dict()}})
    log.info("split sizes: %s; %d train/val rows sharing test feature values dropped",
             {n: len(f) for n, f in splits.items()}, dropped)  # fmt: skip


if __name__ == "__main__":
    run_stage("split", main)
