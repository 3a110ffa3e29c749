"""Spark's row hash computed on pandas frames equals Spark's own, value for value.

The expected figures are what Spark 4.1.4 (local mode, Java 17) printed for this frame written
to Parquet and read back: `xxhash64(*cols)`, `xxhash64(lit(7).cast("long"), *cols)` and each
column alone. The frame covers what the hash treats specially: -0.0, NaN and None (nulls,
skipped), infinities and subnormals, 64-bit integers, empty / Unicode strings and strings on
both sides of XXH64's 4-, 8- and 32-byte steps, categoricals, booleans; timestamps naive
(Spark's timestamp_ntz) and with a zone (its timestamp), before and after 1970.
"""

import numpy as np
import pandas as pd
import pytest

from trainflow.data.xxhash import spark_row_hash

SPARK_ALL = [8277169713732487322, -1948817607019192112, -2976442391770606659,
             8815719341396012001, -2171185539657354963, 103044669732604358, 7923275009412126742,
             -5251234587272345488, 8715141044254961159, -5608282163395540048,
             3878348258146533507]  # fmt: skip
SPARK_SALT_7 = [-2200777128401675235, -8328402483509794897, -3786604063853402658,
                631228113771919709, -5523628458438174860, -6654354138160813076,
                8930379489915061716, 7293465223830020240, 688039703737073295,
                -721765203082614150, 4345903142003932042]  # fmt: skip
SPARK_COLUMN = {
    "f": [-5252525462095825812, -5252525462095825812, 7738255526519901366, -8344676507314498009,
          5999031510863971722, 2345985168277520937, 5810986238603807492, 5326262080505358431,
          42, 4878843009072794118, -7001672635703045582],
    "i": [-5252525462095825812, -7001672635703045582, 3858142552250413010, 1821704621099523357,
          5005707091092326006, 7174206202140031548, 3188756510806108107, 404280023041566627,
          6251837290343458373, 8792594768435660362, -2864211556195259663],
    "ni": [42, -7001672635703045582, -3341702809300393011, 42, -5259934538394028452,
           8792594768435660362, -2864211556195259663, -8523786849548846197,
           -1938844103824896804, 1833446804176943981, 42],
    "s": [-7444071767201028348, -8582455328737087284, -6810745876291105281,
          -2114728542210234718, -2806338186011590886, 5313135167821531180,
          -1716462135722163746, 5202031258905353636, -8411362631970189001,
          2503251065132919546, 42],
    "c": [42, 2503251065132919546, -8411362631970189001, 5202031258905353636,
          -1716462135722163746, 5313135167821531180, -2806338186011590886,
          -2114728542210234718, -6810745876291105281, -8582455328737087284,
          -7444071767201028348],
    "b": [-6698625589789238999, 3614696996920510707] * 5 + [-6698625589789238999],
}  # fmt: skip


def frame() -> pd.DataFrame:
    words = ["", "a", "abcd", "Private", "Self-emp-not-inc", "naïve café ☕", "x" * 31, "y" * 32,
             "z" * 33, "w" * 70, None]  # fmt: skip
    return pd.DataFrame({
        "f": [0.0, -0.0, 1.5, -2.25, 1e308, -1e-308, np.inf, -np.inf, np.nan, 39.0, 5e-324],
        "i": pd.array([0, 1, -1, 2**40, -(2**62), 77, 3, 4, 5, 6, 7], dtype="int64"),
        "ni": pd.array([None, 1, 2, None, -5, 6, 7, 8, 9, 10, None], dtype="Int64"),
        "s": pd.array(words, dtype="str"),
        "c": pd.Categorical(words[::-1]),
        "b": [True, False] * 5 + [True],
    })  # fmt: skip


def test_timestamps_hash_as_spark_hashes_them():
    stamps = ["2020-01-01 00:00:00", "1969-12-31 23:59:59.123456", None, "2024-02-29 12:34:56.789"]
    zones = ["+02:00", "+00:00", "", "-05:00"]
    f = pd.DataFrame({
        "naive": pd.to_datetime(stamps, format="ISO8601"),
        "aware": pd.to_datetime([s and s + z for s, z in zip(stamps, zones, strict=True)],
                                utc=True, format="ISO8601"),
    })  # fmt: skip
    assert spark_row_hash(f, ["naive"]).tolist() == [
        7881863312764026046,
        3792686771177318558,
        42,
        5436342251284905688,
    ]
    assert spark_row_hash(f, ["aware"]).tolist() == [
        -8405499424130565169,
        3792686771177318558,
        42,
        3763221250960511707,
    ]


@pytest.mark.parametrize("column", list(SPARK_COLUMN))
def test_each_type_hashes_as_spark_hashes_it(column):
    assert spark_row_hash(frame(), [column]).tolist() == SPARK_COLUMN[column]


def test_rows_chain_the_columns_and_a_salt_as_spark_does():
    f = frame()
    assert spark_row_hash(f, list(f.columns)).tolist() == SPARK_ALL
    assert spark_row_hash(f, list(f.columns), salt=7).tolist() == SPARK_SALT_7


def test_the_hash_is_the_records_not_the_frames():
    """Row order, index, chunking and how text is held (str, object, categorical) do not
    change a record's hash; a different value or column order does."""
    f = frame()
    cols = list(f.columns)
    whole = spark_row_hash(f, cols)
    shuffled = f.sample(frac=1, random_state=3)
    assert (spark_row_hash(shuffled, cols) == whole[shuffled.index]).all()
    chunks = np.concatenate([spark_row_hash(f.iloc[i : i + 4], cols) for i in range(0, 11, 4)])
    assert (chunks == whole).all()
    as_object = f.assign(s=f["s"].astype(object), c=f["c"].astype(str).where(f["c"].notna()))
    assert (spark_row_hash(as_object, cols) == whole).all()
    assert (spark_row_hash(f.assign(i=f["i"] + 1), cols) != whole).all()
    assert (spark_row_hash(f, cols[::-1]) != whole).all()
