"""The Spark engine computes what both engines must agree on exactly as the pandas one does:
on all of Adult, every record's hash and split draw, so the same records land in the same
split (`split.strategy: hash`)."""

import numpy as np
import pytest

from trainflow.data.clean import clean_table
from trainflow.data.sources import SOURCE_FILE_COLUMN, read_adult_wheel
from trainflow.data.spark import (
    java_missing,
    record_draws,
    record_hash,
    spark_session,
    write_parquet,
)
from trainflow.data.split import _by_hash
from trainflow.data.split import record_draws as pandas_draws
from trainflow.data.xxhash import spark_row_hash
from trainflow.params import SplitParams

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    if java_missing():
        pytest.skip(java_missing())
    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def adult(adult_wheel, data_params, tmp_path_factory):
    """All of Adult as prepare cleans it, with a row number to join Spark's answers back."""
    raw = read_adult_wheel(adult_wheel)
    clean, _ = clean_table(raw, data_params, [SOURCE_FILE_COLUMN], "adult")
    clean = clean.assign(_row=np.arange(len(clean)))
    path = tmp_path_factory.mktemp("spark") / "clean.parquet"
    clean.to_parquet(path)
    return clean, str(path)


def test_both_engines_hash_and_draw_every_adult_record_alike(spark, adult, data_params):
    clean, path = adult
    frame = spark.read.parquet(path)
    columns = [c for c in data_params.record_columns if c in clean.columns]
    answers = frame.select(
        "_row",
        record_hash(columns).alias("hash"),
        record_draws(frame, data_params, 7).alias("draw"),
    )
    got = answers.toPandas().sort_values("_row")
    assert len(got) == len(clean) > 45_000
    assert (got["hash"].to_numpy() == spark_row_hash(clean, columns)).all()
    assert (got["draw"].to_numpy() == pandas_draws(clean, data_params, 7)).all()


def test_the_same_records_land_in_the_same_split(spark, adult, data_params):
    """Spark applies split.strategy hash's cut to its own draws: membership equal to pandas'."""
    from pyspark.sql import functions as F

    clean, path = adult
    params = SplitParams(strategy="hash", test_size=0.2, val_size=0.15)
    frame = spark.read.parquet(path)
    frame = frame.withColumn("draw", record_draws(frame, data_params, 0))
    cut = params.test_size + (1 - params.test_size) * params.val_size
    side = F.when(F.col("draw") < params.test_size, "test").when(F.col("draw") < cut, "val")
    side = side.otherwise("train")
    spark_sides = frame.select("_row", side.alias("side")).toPandas().set_index("_row")["side"]
    pandas_sides = {}
    for name, rows in _by_hash(clean, data_params, params, 0, None).items():
        pandas_sides.update(dict.fromkeys(clean["_row"].to_numpy()[rows].tolist(), name))
    assert spark_sides.to_dict() == pandas_sides
    assert spark_sides.value_counts(normalize=True)["test"] == pytest.approx(0.2, abs=0.01)


def test_a_dataset_is_the_same_bytes_however_its_input_was_partitioned(
    spark, adult, data_params, tmp_path
):
    """What DVC hashes and `trainflow verify` compares: Spark's own file names and row order
    change with the input's partitioning; write_parquet's do not."""
    import pandas as pd
    from pyspark.sql import functions as F

    clean, path = adult
    columns = [c for c in data_params.record_columns if c in clean.columns]
    frame = spark.read.parquet(path)
    frame = frame.withColumn("hash", record_hash(columns))
    one = write_parquet(frame.repartition(3), tmp_path / "one", "hash", files=4)
    other = write_parquet(
        frame.repartition(11).sortWithinPartitions(F.rand(seed=1)), tmp_path / "other", "hash", 4
    )
    assert (
        [p.name for p in one]
        == [p.name for p in other]
        == [f"part-0000{i}.parquet" for i in range(4)]
    )
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, other, strict=True))
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [p.name for p in one]
    back = pd.read_parquet(tmp_path / "one")
    assert sorted(back["_row"]) == list(range(len(clean)))
