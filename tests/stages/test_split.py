"""The split stage's sample for the single-feature check: the same rows in the same order
whichever engine wrote the split, in whatever row order or files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainflow.data.clean import RECORD_HASH_COLUMN
from trainflow.stages.split import sample


def test_the_sample_is_the_same_rows_in_the_same_order_however_the_split_was_written(tmp_path):
    rng = np.random.default_rng(0)
    hashes = rng.integers(-(2**63), 2**63 - 1, 5000)
    table = pd.DataFrame({RECORD_HASH_COLUMN: hashes, "x": rng.normal(size=5000),
                          "y": rng.choice(["a", "b"], 5000)})  # fmt: skip
    table.to_parquet(tmp_path / "one.parquet")
    folder = tmp_path / "parts.parquet"  # as Spark writes it: a folder of part files
    folder.mkdir()
    shuffled = table.sample(frac=1, random_state=1)
    for i, start in enumerate((0, 1700, 3400)):
        shuffled.iloc[start : start + 1700].to_parquet(folder / f"part-{i}.parquet")
    (folder / "_SUCCESS").write_text("")
    for rows in (10_000, 1000):  # whole, then about a fifth by record hash
        a, b = sample(tmp_path / "one.parquet", ["x", "y"], rows), sample(folder, ["x", "y"], rows)
        pd.testing.assert_frame_equal(a, b)
        assert a[RECORD_HASH_COLUMN].is_monotonic_increasing
    assert 800 < len(a) < 1200
