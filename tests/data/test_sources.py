import gzip
import json
import zipfile

import pandas as pd
import pytest

from trainflow.data.fetch import check_sha256, sha256_of
from trainflow.data.sources import (
    ADULT_COLUMNS,
    SOURCE_FILE_COLUMN,
    read_adult_wheel,
    read_files,
    read_source,
    sample_rows,
)
from trainflow.errors import StageError
from trainflow.params import FileSource, IngestParams


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


def source(path, **kw) -> FileSource:
    return FileSource(kind="file", path=path, **kw)


def ingest(path, **kw) -> pd.DataFrame:
    return read_source(IngestParams(source=source(path, **kw)))


FRAME = pd.DataFrame({"a": [1, 2], "b": [" x", "?"], "y": ["p", "n"]})


def test_csv_parquet_jsonl_agree(tmp_path):
    FRAME.to_csv(tmp_path / "t.csv", index=False, sep=";")
    FRAME.to_parquet(tmp_path / "t.parquet")
    FRAME.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    tables = [
        ingest(tmp_path / "t.csv", delimiter=";"),
        ingest(tmp_path / "t.parquet"),
        ingest(tmp_path / "t.jsonl"),
    ]
    for table in tables:
        assert isinstance(table["b"].dtype, pd.CategoricalDtype)  # text held as categoricals
        as_read = table.drop(columns=SOURCE_FILE_COLUMN).astype({"b": "str", "y": "str"})
        assert as_read.equals(FRAME)  # values verbatim
    assert tables[1][SOURCE_FILE_COLUMN].tolist() == ["t.parquet"] * 2


def test_gzip_csv_and_bom(tmp_path):
    with gzip.open(tmp_path / "t.csv.gz", "wt") as fh:
        fh.write("a,y\n1,p\n2,n\n")
    assert len(ingest(tmp_path / "t.csv.gz")) == 2
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfa,y\n1,p\n")
    assert list(ingest(tmp_path / "bom.csv").columns) == ["a", "y", SOURCE_FILE_COLUMN]


def test_glob_stacks_files_in_name_order(tmp_path):
    (tmp_path / "parts").mkdir()
    for i in (2, 1):
        FRAME.assign(a=FRAME.a * i).to_csv(tmp_path / f"parts/p{i}.csv", index=False)
    table = ingest(tmp_path / "parts", glob="*.csv")
    assert table[SOURCE_FILE_COLUMN].tolist() == ["p1.csv", "p1.csv", "p2.csv", "p2.csv"]
    assert table["a"].tolist() == [1, 2, 2, 4]
    FRAME.rename(columns={"b": "c"}).to_csv(tmp_path / "parts/p3.csv", index=False)
    with pytest.raises(StageError, match=r"p3.csv: columns differ from .*extra \['c'\]"):
        ingest(tmp_path / "parts", glob="*.csv")
    with pytest.raises(StageError, match="no files match"):
        ingest(tmp_path / "parts", glob="*.parquet")


def test_json_log_skips_noise_and_flattens(tmp_path):
    lines = [
        json.dumps({"ts": "2026-01-01", "user": {"age": 30}, "y": "p"}),
        "WARN not json",
        json.dumps({"ts": "2026-01-02", "user": {"age": 41}, "y": "n"}),
    ]
    (tmp_path / "app.log").write_text("\n".join(lines) + "\n")
    table = ingest(tmp_path / "app.log", format="json_log")
    assert table["user.age"].tolist() == [30, 41] and len(table) == 2
    (tmp_path / "strict.jsonl").write_text(lines[0] + "\n" + lines[1] + "\n")
    with pytest.raises(StageError, match=r"strict\.jsonl: line 2 is not valid JSON"):
        ingest(tmp_path / "strict.jsonl")


def test_regex_log(tmp_path):
    (tmp_path / "access.log").write_text(
        "10.0.0.1 GET /a 200 12\ngarbage line\n10.0.0.2 POST /b 500 7\n"
    )
    regex = r"(?P<ip>\S+) (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d+) (?P<ms>\d+)"
    table = ingest(tmp_path / "access.log", format="regex_log", regex=regex)
    assert table["status"].tolist() == [200, 500] and table["method"].tolist() == ["GET", "POST"]
    with pytest.raises(StageError, match="no line matches"):
        ingest(tmp_path / "access.log", format="regex_log", regex=r"(?P<x>^\d{9}$)")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "file is empty"),
        ("header.csv", b"a,b\n", "header but no rows"),
        ("latin1.csv", b"a,b\n\xff\xfe,1\n", "not UTF-8 text"),
        ("bad.csv.gz", b"\x1f\x8b\x08garbage", "not a valid gzip file"),
        ("data.bin", b"a,b\n1,2\n", "cannot tell the format"),
        ("semi.csv", b"a;b;c\n1;2;3\n", "wrong delimiter"),
        ("bad.parquet", b"PAR1 not really", "cannot read as Parquet"),
    ],
)
def test_bad_files_name_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(StageError, match=message) as err:
        ingest(tmp_path / name)
    assert name in str(err.value) and "\n" not in str(err.value)


def test_missing_paths(tmp_path):
    with pytest.raises(StageError, match=r"nope\.csv: not found"):
        read_files(source(tmp_path / "nope.csv"))
    with pytest.raises(StageError, match="not a folder"):
        read_files(source(tmp_path / "nope", glob="*.csv"))


def test_sample_rows_is_seeded_and_ordered(messy):
    a = sample_rows(messy, 10, seed=1)
    b = sample_rows(messy, 10, seed=1)
    assert a.equals(b) and len(a) == 10
    assert sample_rows(messy, None, 1) is messy
    assert sample_rows(messy, 10_000, 1) is messy


def test_feedback_files_are_appended_after_the_source_rows(tmp_path, adult_wheel):
    from trainflow.data.columnar import categorize_text
    from trainflow.data.sources import SOURCE_FILE_COLUMN, append_feedback, read_adult_wheel

    raw = categorize_text(read_adult_wheel(adult_wheel)).iloc[:50]
    assert append_feedback(raw, tmp_path / "none") == (raw, [])
    folder = tmp_path / "feedback"
    folder.mkdir()
    records = [
        {"age": 40.0, "workclass": "Private", "sex": "Female", "income": ">50K"},
        {"age": 25.0, "workclass": "NewKind", "sex": "Male", "income": "<=50K"},
    ]
    (folder / "feedback.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    table, files = append_feedback(raw, folder)
    assert files == [folder / "feedback.jsonl"] and len(table) == 52
    assert table.iloc[:50].drop(columns=SOURCE_FILE_COLUMN).astype(object).equals(
        raw.drop(columns=SOURCE_FILE_COLUMN).astype(object))  # fmt: skip
    assert table[SOURCE_FILE_COLUMN].iloc[-1] == "feedback/feedback.jsonl"
    assert table["workclass"].dtype == "category" and table["workclass"].iloc[-1] == "NewKind"
    assert table["fnlwgt"].iloc[-2:].isna().all()  # not sent: missing, for the contract to judge
    (folder / "more.jsonl").write_text(json.dumps({"age": 1, "salary": 3}) + "\n")
    with pytest.raises(StageError, match=r"more\.jsonl: columns \['salary'\] are not in the"):
        append_feedback(raw, folder)
