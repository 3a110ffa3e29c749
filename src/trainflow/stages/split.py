"""split: seeded train/val/test (stratified, group-aware or time-aware), the leakage gate, and a
manifest of every record's hash per split."""

from __future__ import annotations

import json
import logging

from trainflow import paths
from trainflow.data.clean import RECORD_HASH_COLUMN, require_columns
from trainflow.data.columnar import row_hashes
from trainflow.data.leakage import (
    check_leakage,
    enforce,
    manifest,
    select,
    without_shared_feature_rows,
)
from trainflow.data.split import (
    at_positions,
    check_disjoint,
    split_positions,
    split_summary,
    take_splits,
)
from trainflow.io import atomic_dir, read_parquet, write_json, write_tables
from trainflow.params import load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.split")


def main() -> None:
    params = load_params()
    clean = read_parquet(paths.PREPARED_TABLE)
    require_columns(clean, [RECORD_HASH_COLUMN], str(paths.PREPARED_TABLE))
    positions = split_positions(clean, params.data, params.split, params.seed)
    records = at_positions(clean[RECORD_HASH_COLUMN].to_numpy(), positions)
    features = at_positions(row_hashes(clean, params.data.features), positions)
    check_disjoint(positions, len(clean))
    dropped = 0
    if params.split.shared_feature_rows == "drop_from_train":
        keep, dropped = without_shared_feature_rows(features)
        positions, records, features = (select(p, keep) for p in (positions, records, features))
    splits = take_splits(clean, positions)
    leakage = check_leakage(splits, features, params.data, params.split, dropped, records)
    enforce(leakage)
    rows, hashes = manifest(records)
    with atomic_dir(paths.SPLIT_DIR) as out:
        tables = {out / paths.split_table(name).name: frame for name, frame in splits.items()}
        write_tables(tables | {out / "manifest.parquet": rows})
        (out / "manifest.json").write_text(json.dumps(hashes, indent=2) + "\n")
    summary = split_summary(splits, params.data)
    write_json(paths.SPLIT_METRICS, {"split": summary | {"leakage": leakage.to_dict()}})
    log.info("split sizes: %s; %d train/val rows share their feature values with a test row "
             "(%d dropped: split.shared_feature_rows %s)", {n: len(f) for n, f in splits.items()},
             leakage.feature_collisions + dropped, dropped,
             params.split.shared_feature_rows)  # fmt: skip


if __name__ == "__main__":
    run_stage("split", main)
