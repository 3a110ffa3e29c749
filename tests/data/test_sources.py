import gzip
import zipfile

import pandas as pd
import pytest

from trainflow.data.fetch import check_sha256, sha256_of
from trainflow.data.sources import (
    ADULT_COLUMNS,
    SOURCE_FILE_COLUMN,
    read_adult_wheel,
    read_file,
    read_source,
    sample_rows,
)
from trainflow.errors import StageError
from trainflow.params import IngestParams, SourceParams


def test_adult_wheel_is_read_verbatim(adult_wheel, params):
    check_sha256(adult_wheel, params.ingest.source.sha256)
    raw = read_adult_wheel(adult_wheel)
    assert raw.shape == (48842, len(ADULT_COLUMNS) + 1)
    counts = raw[SOURCE_FILE_COLUMN].value_counts()
    assert counts["adult.data"] == 32561 and counts["adult.test"] == 16281
    first_test = raw[raw[SOURCE_FILE_COLUMN] == "adult.test"].iloc[0]
    assert first_test["age"] == 25  # the junk line "|1x3 Cross validator" was skipped
    assert first_test["income"] == " <=50K."  # values are not cleaned at ingest
    assert raw["workclass"].str.startswith(" ").all()
    assert (raw["workclass"] == " ?").sum() == 2799
    assert raw["age"].dtype.kind == "i"


def test_sha256_mismatch(tmp_path):
    f = tmp_path / "x.whl"
    f.write_bytes(b"abc")
    with pytest.raises(StageError, match="does not match"):
        check_sha256(f, "0" * 64)
    assert sha256_of(f).startswith("ba7816bf")


def test_bad_wheel(tmp_path):
    with pytest.raises(StageError, match="not found"):
        read_adult_wheel(tmp_path / "none.whl")
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    with pytest.raises(StageError, match="not a wheel"):
        read_adult_wheel(tmp_path / "bad.whl")
    with zipfile.ZipFile(tmp_path / "empty.whl", "w") as z:
        z.writestr("other.txt", "x")
    with pytest.raises(StageError, match="has no member"):
        read_adult_wheel(tmp_path / "empty.whl")


def file_source(path, **kw) -> SourceParams:
    return SourceParams(kind="file", path=path, **kw)


def test_csv_and_parquet_files(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": [" x", "?"], "y": ["p", "n"]})
    frame.to_csv(tmp_path / "t.csv", index=False, sep=";")
    frame.to_parquet(tmp_path / "t.parquet")
    csv = read_file(file_source(tmp_path / "t.csv", delimiter=";"))
    pq = read_file(file_source(tmp_path / "t.parquet"))
    assert csv["b"].tolist() == [" x", "?"]  # verbatim
    assert pq[SOURCE_FILE_COLUMN].tolist() == ["t.parquet"] * 2
    assert csv.drop(columns=SOURCE_FILE_COLUMN).equals(pq.drop(columns=SOURCE_FILE_COLUMN))


def test_gzip_csv(tmp_path):
    with gzip.open(tmp_path / "t.csv.gz", "wt") as fh:
        fh.write("a,y\n1,p\n2,n\n")
    assert len(read_file(file_source(tmp_path / "t.csv.gz"))) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "file is empty"), (b"a,b\n", "header but no rows"), (b"a,b\n\xff\xfe,1\n", "UTF-8")],
)
def test_bad_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(StageError, match=message) as err:
        read_source(IngestParams(source=file_source(path)))
    assert "bad.csv" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(StageError, match="not found"):
        read_file(file_source(tmp_path / "nope.csv"))


def test_sample_rows_is_seeded_and_ordered(messy):
    a = sample_rows(messy, 10, seed=1)
    b = sample_rows(messy, 10, seed=1)
    assert a.equals(b) and len(a) == 10
    assert sample_rows(messy, None, 1) is messy
    assert sample_rows(messy, 10_000, 1) is messy
