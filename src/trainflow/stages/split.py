"""split: seeded train/val/test (stratified, group-aware, time-aware or by record hash), the
leakage gate, and a manifest of every record's hash per split."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from trainflow import paths
from trainflow.data.single_feature import single_feature_check
from trainflow.engines import engine_part
from trainflow.errors import StageError
from trainflow.io import atomic_dir, write_json
from trainflow.params import Params, load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.split")


def sample(path: Path, columns: list[str], rows: int, seed: int) -> pd.DataFrame:
    """A split's table (a file, or a dataset folder as Spark writes it), whole or, beyond
    `rows`, a seeded sample of that many rows: the check's cost stays bounded at any size."""
    import numpy as np
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet")
    total = dataset.count_rows()
    if total <= rows:
        return dataset.to_table(columns=columns).to_pandas()
    picked = np.sort(np.random.default_rng(seed).choice(total, rows, replace=False))
    return dataset.take(picked, columns=columns).to_pandas()


def single_feature_gate(params: Params, out: Path) -> dict:
    """The single-feature leak check on the split just written (not yet in place): a flagged
    feature stops the stage under policy fail, so no split and no later stage sees it."""
    check = params.split.single_feature
    if check.policy == "off":
        return {"policy": "off"}
    data = params.data
    columns = [data.target, *data.numeric_features, *data.categorical_features]
    train, val = (sample(out / paths.split_table(name).name, columns, check.rows, params.seed)
                  for name in ("train", "val"))  # fmt: skip
    report = single_feature_check(train, val, data, check)
    top, power = report.top
    if top is not None:
        log.info("single-feature check: strongest alone %r (%s %.4f on val)", top,
                 report.metric, power)  # fmt: skip
    for line in report.flagged:
        log.warning("single-feature check: %s", line)
    if report.flagged and check.policy == "fail":
        raise StageError(
            f"single-feature check: {report.flagged[0]} (policy fail: list it in data.drop or "
            "data.id_columns if it is one, or set split.single_feature.policy: warn; all "
            f"{len(report.flagged)} finding(s) in the log)"
        )
    return report.to_dict()


def main() -> None:
    params = load_params()
    engine = engine_part(params.data.engine, "split")
    with atomic_dir(paths.SPLIT_DIR) as out:
        metrics = engine.split(params, paths.PREPARED_TABLE, out)
        metrics["split"]["leakage"]["single_feature"] = single_feature_gate(params, out)
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
