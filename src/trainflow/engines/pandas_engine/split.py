"""The pandas engine's split: trainflow.data.split and the leakage gate on row positions."""

from __future__ import annotations

import json
from pathlib import Path

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
from trainflow.io import read_parquet, write_tables
from trainflow.params import Params


def split(params: Params, prepared: Path, out: Path) -> dict:
    clean = read_parquet(prepared)
    require_columns(clean, [RECORD_HASH_COLUMN], str(prepared))
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
    tables = {out / paths.split_table(name).name: frame for name, frame in splits.items()}
    write_tables(tables | {out / paths.MANIFEST_TABLE.name: rows})
    (out / paths.MANIFEST_JSON.name).write_text(json.dumps(hashes, indent=2) + "\n")
    return {"split": split_summary(splits, params.data) | {"leakage": leakage.to_dict()}}
