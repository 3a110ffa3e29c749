"""split: seeded train/val/test (stratified, group-aware, time-aware or by record hash), the
leakage gate, and a manifest of every record's hash per split."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from trainflow import paths
from trainflow.data.clean import RECORD_HASH_COLUMN
from trainflow.data.single_feature import single_feature_check
from trainflow.engines import engine_part
from trainflow.errors import StageError
from trainflow.io import atomic_dir, write_json
from trainflow.params import Params, load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.split")


def sample(path: Path, columns: list[str], rows: int) -> pd.DataFrame:
    """A split's table (a file, or a dataset folder as Spark writes it), whole or, beyond
    `rows`, about that many rows picked by their record hash (the low 32 bits below a cut),
    in record-hash order: the same rows and order whichever engine wrote it, in any row order,
    read batch by batch so the cost stays bounded at any size."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet")
    share = min(1.0, rows / max(1, dataset.count_rows()))
    cut = int(share * 2**32)
    kept = []
    for batch in dataset.to_batches(columns=[RECORD_HASH_COLUMN, *columns]):
        low = batch.column(RECORD_HASH_COLUMN).to_numpy().astype(np.int64) & 0xFFFFFFFF
        kept.append(batch.filter(pa.array(low < cut)) if share < 1 else batch)
    table = pa.Table.from_batches(kept, schema=kept[0].schema) if kept else None
    frame = (
        table.to_pandas()
        if table is not None
        else pd.DataFrame(columns=[RECORD_HASH_COLUMN, *columns])
    )
    return frame.sort_values(RECORD_HASH_COLUMN, kind="stable").reset_index(drop=True)


def single_feature_gate(params: Params, out: Path) -> dict:
    """The single-feature leak check on the split just written (not yet in place): a flagged
    feature stops the stage under policy fail, so no split and no later stage sees it."""
    check = params.split.single_feature
    if check.policy == "off":
        return {"policy": "off"}
    data = params.data
    columns = [data.target, *data.numeric_features, *data.categorical_features]
    train, val = (sample(out / paths.split_table(name).name, columns, check.rows)
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
