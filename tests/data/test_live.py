"""Live sources against real servers on loopback: SQLite, PostgreSQL, S3 (moto)."""

import gzip
import io
import json
import sqlite3

import pandas as pd
import pytest

from tests.conftest import messy_frame
from tests.servers import S3_ENV, postgres_bin, postgres_server, s3_server
from trainflow.data.live import fetch_snapshot, provenance_path, read_sql, safe_sql_url
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.errors import StageError
from trainflow.params import S3Source, SqlSource

TABLE = messy_frame(60).drop(columns=SOURCE_FILE_COLUMN)


@pytest.fixture
def sqlite_db(tmp_path):
    path = tmp_path / "people.db"
    with sqlite3.connect(path) as conn:
        TABLE.to_sql("people", conn, index=False)
    return path


def test_sqlite_table_and_query_snapshot(tmp_path, sqlite_db):
    snap = tmp_path / "snap/people.parquet"
    source = SqlSource(kind="sql", url=f"sqlite:///{sqlite_db}", table="people", path=snap)
    fetch_snapshot(source, refresh=False)
    frame = pd.read_parquet(snap)
    assert frame.drop(columns=SOURCE_FILE_COLUMN).equals(TABLE)
    assert set(frame[SOURCE_FILE_COLUMN]) == {"people"}
    first = snap.read_bytes()
    fetch_snapshot(source, refresh=True)  # unchanged source -> byte-identical snapshot
    assert snap.read_bytes() == first
    meta = json.loads(provenance_path(snap).read_text())
    assert meta["rows"] == 60 and meta["uri"].endswith("(table people)") and meta["fetched_at"]
    query = SqlSource(
        kind="sql",
        url=f"sqlite:///{sqlite_db}",
        query="SELECT age, income FROM people WHERE age > 40",
        path=snap,
    )
    assert (read_sql(query)["age"] > 40).all()


def test_sql_errors_name_the_problem(tmp_path, sqlite_db):
    missing = SqlSource(
        kind="sql", url=f"sqlite:///{sqlite_db}", table="nope", path=tmp_path / "s"
    )
    with pytest.raises(StageError, match="no such table: nope"):
        read_sql(missing)
    unset = SqlSource(kind="sql", url="postgresql+psycopg://u:${TF_UNSET_PW}@127.0.0.1/db",
                      table="t", path=tmp_path / "s")  # fmt: skip
    with pytest.raises(StageError, match="environment variable TF_UNSET_PW is not set"):
        read_sql(unset)


def test_refusing_database_url(tmp_path, monkeypatch):
    from tests.servers import free_port

    monkeypatch.setenv("TF_PW", "hunter2-secret")
    url = f"postgresql+psycopg://bob:${{TF_PW}}@127.0.0.1:{free_port()}/db"
    source = SqlSource(kind="sql", url=url, table="t", path=tmp_path / "s")
    with pytest.raises(StageError) as err:
        read_sql(source)
    message = str(err.value)
    assert "OperationalError" in message and "refused" in message.lower()
    assert "hunter2-secret" not in message and "bob@127.0.0.1" in message
    assert safe_sql_url(url) == f"postgresql+psycopg://bob@127.0.0.1:{url.split(':')[-1]}"


@pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL server not installed (initdb)")
def test_postgresql_server(tmp_path, monkeypatch):
    with postgres_server() as pg:
        from sqlalchemy import create_engine

        engine = create_engine(pg.url())
        TABLE.to_sql("people", engine, index=False)
        engine.dispose()
        monkeypatch.setenv("TF_PG_PASSWORD", pg.password)
        url = pg.url(password="${TF_PG_PASSWORD}")
        snap = tmp_path / "people.parquet"
        source = SqlSource(kind="sql", url=url, table="people", path=snap)
        fetch_snapshot(source, refresh=False)
        frame = pd.read_parquet(snap)
        assert len(frame) == 60 and frame["income"].tolist() == TABLE["income"].tolist()
        meta = provenance_path(snap).read_text()
        assert pg.password not in meta and "trainflow@127.0.0.1" in meta
        monkeypatch.setenv("TF_PG_PASSWORD", "wrong-password-xyz")
        with pytest.raises(StageError, match="password authentication failed") as err:
            read_sql(source)
        assert "wrong-password-xyz" not in str(err.value)


@pytest.fixture
def s3(monkeypatch):
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    with s3_server() as endpoint:
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="lake")
        for part in (1, 2):
            body = TABLE.iloc[(part - 1) * 30 : part * 30].to_csv(index=False).encode()
            client.put_object(Bucket="lake", Key=f"people/part-{part}.csv.gz",
                              Body=gzip.compress(body, mtime=0))  # fmt: skip
        buf = io.BytesIO()
        TABLE.to_parquet(buf)
        client.put_object(Bucket="lake", Key="people.parquet", Body=buf.getvalue())
        yield endpoint


def test_s3_glob_and_object(tmp_path, s3):
    glob = S3Source(kind="s3", url="s3://lake/people/*.csv.gz", endpoint_url=s3,
                    path=tmp_path / "glob.parquet")  # fmt: skip
    fetch_snapshot(glob, refresh=False)
    frame = pd.read_parquet(tmp_path / "glob.parquet")
    assert (
        frame[SOURCE_FILE_COLUMN].tolist()
        == ["people/part-1.csv.gz"] * 30 + ["people/part-2.csv.gz"] * 30
    )
    assert frame.drop(columns=SOURCE_FILE_COLUMN).equals(TABLE)
    one = S3Source(kind="s3", url="s3://lake/people.parquet", endpoint_url=s3,
                   path=tmp_path / "one.parquet")  # fmt: skip
    fetch_snapshot(one, refresh=False)
    assert len(pd.read_parquet(tmp_path / "one.parquet")) == 60


def test_s3_errors(tmp_path, s3):
    def src(url):
        return S3Source(kind="s3", url=url, endpoint_url=s3, path=tmp_path / "x.parquet")

    with pytest.raises(StageError, match="s3://no-such-bucket: bucket does not exist"):
        fetch_snapshot(src("s3://no-such-bucket/a.csv"), refresh=False)
    with pytest.raises(StageError, match=r"s3://lake/missing\.csv: no such object"):
        fetch_snapshot(src("s3://lake/missing.csv"), refresh=False)
    assert not (tmp_path / "x.parquet").exists()


def test_s3_credentials_from_a_dvc_remote(tmp_path, s3, monkeypatch):
    """Endpoint and keys from .dvc/config.local (dvc remote modify --local), not the env."""
    import subprocess
    import sys

    repo = tmp_path / "repo"
    repo.mkdir()
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
    for args in (
        ["remote", "add", "store", "s3://lake/dvc"],
        ["remote", "modify", "store", "endpointurl", s3],
        ["remote", "modify", "--local", "store", "access_key_id", "testing-key-id"],
        ["remote", "modify", "--local", "store", "secret_access_key", "testing-secret-key"],
    ):
        subprocess.run([*dvc, *args], cwd=repo, check=True)  # fmt: skip
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.chdir(repo)
    source = S3Source(kind="s3", url="s3://lake/people.parquet", dvc_remote="store",
                      path=repo / "snap.parquet")  # fmt: skip
    fetch_snapshot(source, refresh=False)
    assert len(pd.read_parquet(repo / "snap.parquet")) == 60
    assert "testing-secret-key" not in provenance_path(repo / "snap.parquet").read_text()


def test_s3_image_prefix_is_copied_to_a_folder_ingest_reads(tmp_path, s3):
    """An images source with an S3 prefix: fetch-data copies the objects (class folders under
    the prefix) into `path`; ingest reads that copy as it reads any folder; fetching the same
    objects again keeps the provenance; a missing prefix is named."""
    import boto3

    from tests.data.test_images import class_folders
    from trainflow.data.image_sources import read_images
    from trainflow.data.live import fetch_images
    from trainflow.params import ImageSource

    local = class_folders(tmp_path / "shapes")
    client = boto3.client("s3", endpoint_url=s3)
    for path in sorted(local.rglob("*.png")):
        client.put_object(Bucket="lake", Key=f"images/shapes/{path.relative_to(local)}",
                          Body=path.read_bytes())  # fmt: skip
    source = ImageSource(kind="images", url="s3://lake/images/shapes/", endpoint_url=s3,
                         path=tmp_path / "copy")  # fmt: skip
    fetch_images(source, refresh=False)
    pd.testing.assert_frame_equal(read_images(source),
                                  read_images(ImageSource(kind="images", path=local)))  # fmt: skip
    sidecar = provenance_path(source.path)
    first = sidecar.read_text()
    assert '"objects": 12' in first
    fetch_images(source, refresh=True)  # the same objects: nothing changes
    assert sidecar.read_text() == first
    client.put_object(Bucket="lake", Key="images/shapes/down/99.png",
                      Body=(local / "down/00.png").read_bytes())  # fmt: skip
    fetch_images(source, refresh=True)
    assert (tmp_path / "copy/down/99.png").exists() and '"objects": 13' in sidecar.read_text()
    gone = ImageSource(kind="images", url="s3://lake/nothing/", endpoint_url=s3,
                       path=tmp_path / "gone")  # fmt: skip
    with pytest.raises(StageError, match="s3://lake/nothing/: no objects under this prefix"):
        fetch_images(gone, refresh=False)
    assert not (tmp_path / "gone").exists()


def test_spark_jdbc_options_from_the_sqlalchemy_url(tmp_path, monkeypatch):
    """The Spark engine's fetch-data translates a PostgreSQL URL (password a connection
    property, kept as a secret; the default port) and names the engine to use for others."""
    from trainflow.engines.spark_engine.fetch import jdbc_options

    monkeypatch.setenv("TF_PW", "pw-987")
    source = SqlSource(kind="sql", url="postgresql+psycopg://bob:${TF_PW}@db.example/sales",
                       query="SELECT 1 AS x", path=tmp_path / "s")  # fmt: skip
    options, secrets = jdbc_options(source)
    assert options["url"] == "jdbc:postgresql://db.example:5432/sales"
    assert options["user"] == "bob" and options["password"] == "pw-987" and "pw-987" in secrets
    assert options["dbtable"] == "(SELECT 1 AS x) AS trainflow_source"
    mysql = SqlSource(kind="sql", url="mysql+pymysql://u@h/db", table="t", path=tmp_path / "s")
    with pytest.raises(StageError, match=r"not 'mysql'.*data\.engine pandas"):
        jdbc_options(mysql)
