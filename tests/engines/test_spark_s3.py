"""The Spark engine's S3 source (trainflow.engines.spark_engine.s3): byte ranges that yield
every line once, and objects on a loopback S3 (moto) read by the executors as Spark reads the
same files from disk, whatever the ranges."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, messy_frame
from tests.servers import S3_ENV, s3_server
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.data.spark import java_missing
from trainflow.engines.spark_engine.s3 import TAG, line_reader, pieces, range_lines
from trainflow.errors import StageError
from trainflow.io import sha256_of_tree
from trainflow.params import FileSource, S3Source, load_params


@pytest.mark.parametrize("split", [1, 2, 3, 7, 10, 64, 1000])
def test_ranges_side_by_side_yield_every_line_once(split):
    """Ranges cut anywhere (inside a line, on a newline, ranges shorter than a line): joined,
    the lines are the stream's lines, each once, CRLF and a last line without a newline too."""
    data = b"h,x\r\nab,1\n\nlonger line here,2\r\nc,3\nd,4"
    expected = io.BytesIO(data).readlines()
    got = []
    for start in range(0, len(data), split):
        got += range_lines(io.BytesIO(data), start, min(start + split, len(data)))
    assert got == expected
    assert list(range_lines(io.BytesIO(data), 0, -1)) == expected


def test_pieces_cover_each_object_and_keep_gzip_whole():
    sizes = {"b/a.csv": 250, "b/b.csv.gz": 999, "b/c.csv": 0}
    keys = sorted(sizes)
    assert pieces(keys, sizes, 100) == [(0, 0, 100), (0, 100, 200), (0, 200, 250), (1, 0, -1)]


def test_lines_are_tagged_with_their_object_and_headers_checked(monkeypatch):
    """CSV: the header gets the TAG column, each row its object's number, blank lines go (as
    Spark drops them); JSON: the number as a first member; another header: one line naming
    the object."""
    import trainflow.engines.spark_engine.s3 as s3

    objects = {"lake/a.csv": b"\xef\xbb\xbfx,y\n1,2\n \n3,4\n", "lake/b.csv": b"x,z\n5,6\n",
               "lake/j.jsonl": b'{"x": 1}\n{}\n'}  # fmt: skip
    monkeypatch.setattr(s3, "_open", lambda options, key: io.BufferedReader(
        io.BytesIO(objects[key])))  # fmt: skip
    keys = ["lake/a.csv", "lake/b.csv"]
    read = line_reader({}, keys, "csv", ",", "x,y")
    assert list(read((0, 0, 100))) == [f"x,y,{TAG}", "1,2,0", "3,4,0"]
    assert list(read((0, 9, 100))) == ["3,4,0"]  # a later range: no header
    with pytest.raises(s3.ObjectError, match=r"s3://lake/b\.csv: header differs from "
                       r"s3://lake/a\.csv's \('x,z'\)"):  # fmt: skip
        list(read((1, 0, 100)))
    read = line_reader({}, ["lake/j.jsonl"], "jsonl", ",", None)
    assert list(read((0, 0, 100))) == [f'{{"{TAG}":0,"x": 1}}', f'{{"{TAG}":0}}']


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """moto S3 on loopback: the Spark engine's files test's CSVs (one gzipped), the same rows
    as JSON lines and as Parquet in several row groups; a DVC remote with its credentials (the
    executors get them from the driver, whenever their JVM started)."""
    from dvc.repo import Repo

    if java_missing():
        pytest.skip(java_missing())
    root = tmp_path_factory.mktemp("lake")
    rows = messy_frame(300, seed=3).drop(columns=SOURCE_FILE_COLUMN)
    (root / "people").mkdir()
    rows.iloc[:200].to_csv(root / "people/2024.csv", index=False)
    rows.iloc[200:].to_csv(root / "people/2025 h1+h2.csv", index=False)
    with pytest.MonkeyPatch.context() as mp, s3_server() as endpoint:
        for key, value in S3_ENV.items():
            mp.setenv(key, value)
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="lake")
        second = gzip.compress((root / "people/2025 h1+h2.csv").read_bytes())
        client.put_object(Bucket="lake", Key="people/2024.csv",
                          Body=(root / "people/2024.csv").read_bytes())  # fmt: skip
        client.put_object(Bucket="lake", Key="people/2025 h1+h2.csv.gz", Body=second)
        client.put_object(Bucket="lake", Key="json/people.jsonl",
                          Body=rows.to_json(orient="records", lines=True).encode())  # fmt: skip
        buf = io.BytesIO()
        rows.to_parquet(buf, row_group_size=40)
        client.put_object(Bucket="lake", Key="pq/people.parquet", Body=buf.getvalue())
        client.put_object(Bucket="lake", Key="odd/a.csv", Body=b"age,income\n1,x\n")
        client.put_object(Bucket="lake", Key="odd/b.csv", Body=b"age,label\n2,y\n")
        repo = root / "repo"
        Repo.init(repo, no_scm=True).close()
        with (repo / ".dvc/config").open("a") as config:
            config.write(
                f"['remote \"store\"']\n    url = s3://lake/dvc\n"
                f"    endpointurl = {endpoint}\n"
                f"    access_key_id = {S3_ENV['AWS_ACCESS_KEY_ID']}\n"
                f"    secret_access_key = {S3_ENV['AWS_SECRET_ACCESS_KEY']}\n"
            )
        mp.chdir(repo)
        yield {"root": root, "rows": rows, "endpoint": endpoint, "repo": repo}
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def spark_params(split_bytes: int | None = None):
    params = load_params(ROOT / "params.yaml")
    conf = {"spark.sql.files.maxPartitionBytes": str(split_bytes or 128 << 20)}
    return params.model_copy(update={"spark": params.spark.model_copy(update={"conf": conf})})


def source(url: str, path) -> S3Source:
    return S3Source(kind="s3", url=url, dvc_remote="store", path=path)


def plain(frame) -> list:
    """Rows as sorted plain values, the source-file column left out."""
    data = frame.drop(columns=SOURCE_FILE_COLUMN)
    values = data[sorted(data.columns)].astype(object).where(data.notna(), None)
    return sorted(map(tuple, values.values.tolist()), key=repr)


@pytest.mark.slow
def test_spark_reads_s3_objects_as_it_reads_the_files(lake, tmp_path):
    """The CSV objects (one plain, cut into 30-odd ranges; one gzip) read by the executors
    give the schema and rows Spark's reader gives for the same files on disk, each row named
    by its object; the snapshot's bytes do not depend on the ranges."""
    from trainflow.engines.spark_engine import s3, session
    from trainflow.engines.spark_engine.ingest import _read_files

    spark = session(spark_params(1000))
    objects = s3.s3_objects(source("s3://lake/people/*", tmp_path / "x"))
    assert len(pieces(sorted(objects[2]), objects[2], 1000)) > 20
    read = s3.read_objects(spark, source("s3://lake/people/*", tmp_path / "x"), objects[0],
                           objects[2])  # fmt: skip
    local = FileSource(kind="file", path=lake["root"] / "people", glob="*.csv")
    disk = _read_files(spark, local)
    assert [(f.name, f.dataType) for f in read.schema] == [
        (f.name, f.dataType) for f in disk.schema
    ]
    frame = read.toPandas()
    assert plain(frame) == plain(disk.toPandas())
    assert frame[SOURCE_FILE_COLUMN].value_counts().to_dict() == {
        "people/2024.csv": 200, "people/2025 h1+h2.csv.gz": 100}  # fmt: skip
    small = tmp_path / "small"
    assert s3.export(source("s3://lake/people/*", small), spark_params(1000), small)[0] == 300
    whole = tmp_path / "whole"
    session(spark_params())
    assert s3.export(source("s3://lake/people/*", whole), spark_params(), whole)[0] == 300
    assert sha256_of_tree(small) == sha256_of_tree(whole)


@pytest.mark.slow
def test_spark_reads_s3_json_lines_and_parquet_row_groups(lake, tmp_path):
    """JSON lines through Spark's JSON reader; a Parquet object's eight row groups shared out
    among ranges by their midpoints: every row once, as pandas reads the object."""
    from trainflow.engines.spark_engine import s3, session

    rows = lake["rows"]
    spark = session(spark_params(2000))
    for url in ("s3://lake/json/people.jsonl", "s3://lake/pq/people.parquet"):
        options, _, sizes = s3.s3_objects(source(url, tmp_path / "x"))
        frame = s3.read_objects(spark, source(url, tmp_path / "x"), options, sizes).toPandas()
        assert plain(frame) == plain(rows.assign(**{SOURCE_FILE_COLUMN: "x"})), url
        assert set(frame[SOURCE_FILE_COLUMN]) == {url.removeprefix("s3://lake/")}
    session(spark_params())


@pytest.mark.slow
def test_spark_s3_errors_name_the_object(lake, tmp_path):
    """Another header, a missing object: one line naming it; no snapshot left behind."""
    from trainflow.engines.spark_engine import s3

    with pytest.raises(StageError, match=r"^s3://lake/odd/b\.csv: header differs") as err:
        s3.export(source("s3://lake/odd/*.csv", tmp_path / "o"), spark_params(), tmp_path / "o")
    assert "\n" not in str(err.value) and not (tmp_path / "o").exists()
    with pytest.raises(StageError, match=r"s3://lake/nope\.csv: no such object"):
        s3.export(source("s3://lake/nope.csv", tmp_path / "n"), spark_params(), tmp_path / "n")


@pytest.mark.slow
def test_fetch_data_on_spark_reads_s3_with_the_environment_s_credentials(lake, tmp_path):
    """`trainflow fetch-data` in its own process (executors started with the AWS environment,
    no DVC remote): the snapshot the in-process read writes, byte for byte."""
    ws = tmp_path / "ws"
    ws.mkdir()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["engine"] = "spark"
    params["split"]["strategy"] = "hash"
    params["ingest"]["source"] = {"kind": "s3", "url": "s3://lake/people/*",
                                  "endpoint_url": lake["endpoint"], "path": "snap"}  # fmt: skip
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, **S3_ENV}
    done = subprocess.run([sys.executable, "-m", "trainflow.cli", "fetch-data"], cwd=ws, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    from trainflow.engines.spark_engine import s3

    mine = tmp_path / "mine"
    s3.export(source("s3://lake/people/*", mine), spark_params(), mine)
    assert sha256_of_tree(ws / "snap") == sha256_of_tree(mine)
    assert np.array_equal(sorted(pd.read_parquet(ws / "snap").columns),
                          sorted([*lake["rows"].columns, SOURCE_FILE_COLUMN]))  # fmt: skip
