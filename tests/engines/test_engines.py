"""One suite for every data engine: the same stages on the same input give the same prepared
rows, cleaning report, split, split metrics and manifest, whichever engine (data.engine) runs
them; a contract drafted from the data passes on it in every engine; the Spark engine's
outputs depend on the rows alone (not on partitioning) and a bad input stops it with one line.
The stages run in this process (one Spark session for the module), as `dvc repro` runs them."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, messy_frame
from trainflow import paths
from trainflow.data.clean import RECORD_HASH_COLUMN
from trainflow.data.contract import starter_suite
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.data.spark import java_missing
from trainflow.engines import ENGINES
from trainflow.errors import StageError
from trainflow.io import sha256_of_tree
from trainflow.params import load_params

pytestmark = pytest.mark.slow
DATA_STAGES = ("ingest", "validate", "prepare", "validate_prepared", "split")


@pytest.fixture(scope="module", autouse=True)
def spark_available():
    if java_missing():
        pytest.skip(java_missing())
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def run_stages(ws: Path, stages: tuple[str, ...], monkeypatch) -> None:
    monkeypatch.chdir(ws)
    for name in stages:
        importlib.import_module(f"trainflow.stages.{name}").main()


def workspace(tmp: Path, engine: str, source: dict, **changes: dict) -> Path:
    """A project folder: params.yaml (the repo's, with `source`, `engine`, a hash split and
    `changes` per section), the contracts, the Adult wheel."""
    shutil.copytree(ROOT / "contracts", tmp / "contracts")
    (tmp / "data/external").mkdir(parents=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["ingest"]["source"] = source
    params["data"]["engine"] = engine
    params["split"]["strategy"] = "hash"
    for section, values in changes.items():
        params[section] = {**params[section], **values}
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp


def as_values(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as plain values sorted by record hash: categoricals and strings alike."""
    text = {c: object for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])}
    out = frame.astype(text)
    out = out.where(out.notna(), None)
    return out.sort_values(RECORD_HASH_COLUMN).reset_index(drop=True)


def outputs(ws: Path) -> dict:
    """What both engines must produce alike."""
    read = lambda p: json.loads((ws / p).read_text())  # noqa: E731
    split = {n: pd.read_parquet(ws / paths.split_table(n)) for n in paths.SPLITS}
    return {
        "prepared": as_values(pd.read_parquet(ws / paths.PREPARED_TABLE)),
        "cleaning": read(paths.PREPARE_METRICS),
        "split": read(paths.SPLIT_METRICS),
        "manifest": read(paths.MANIFEST_JSON),
        "members": {n: np.sort(f[RECORD_HASH_COLUMN].to_numpy()) for n, f in split.items()},
    }


def assert_same(a: dict, b: dict) -> None:
    pd.testing.assert_frame_equal(a["prepared"], b["prepared"][a["prepared"].columns])
    for key in ("cleaning", "split", "manifest"):
        assert a[key] == b[key], key
    for name in paths.SPLITS:
        assert np.array_equal(a["members"][name], b["members"][name]), name


def test_both_engines_clean_and_split_adult_alike(tmp_path, adult_wheel, monkeypatch):
    """All 48,842 Adult rows: the 52 duplicates found alike (the copy in adult.test kept),
    the same cleaning counts, the same records in each split."""
    results = {}
    for engine in ENGINES:
        ws = workspace(tmp_path / engine, engine, {
            "kind": "adult_wheel", "path": str(adult_wheel),
            "sha256": load_params(ROOT / "params.yaml").ingest.source.sha256,
        })  # fmt: skip
        run_stages(ws, ("ingest", "prepare", "split"), monkeypatch)
        results[engine] = outputs(ws)
    pandas, spark = results["pandas"], results["spark"]
    assert pandas["cleaning"]["cleaning"]["duplicate_rows_removed"] == 52
    assert len(pandas["prepared"]) == 48_790
    assert_same(pandas, spark)


@pytest.fixture(scope="module")
def files_source(tmp_path_factory) -> Path:
    """Two CSV files of messy Adult-shaped rows (some records in both), and served feedback."""
    root = tmp_path_factory.mktemp("files")
    rows = messy_frame(300, seed=3).drop(columns=SOURCE_FILE_COLUMN)
    first, second = rows.iloc[:200], pd.concat([rows.iloc[200:], rows.iloc[:15]])
    (root / "people").mkdir()
    first.to_csv(root / "people/2024.csv", index=False)
    second.to_csv(root / "people/2025 h1+h2.csv", index=False)  # a URI's escapes, a plus
    (root / "feedback").mkdir()
    served = rows.iloc[:3].assign(age=99, income=">50K")  # new records, labelled
    served.to_json(root / "feedback/labels-1.jsonl", orient="records", lines=True)
    return root


def test_both_engines_run_every_data_stage_alike_on_files(tmp_path, files_source, monkeypatch):
    """Spark reads the CSV files and the JSON-lines feedback itself; a contract drafted from
    the data (pandas types) passes in both engines; the gates' reports and the same rows."""
    from trainflow.data.sources import read_source

    results = {}
    for engine in ENGINES:
        source = {"kind": "file", "path": str(files_source / "people"), "glob": "*.csv"}
        ws = workspace(tmp_path / engine, engine, source,
                       ingest={"feedback": str(files_source / "feedback")},
                       split={"test_source_file": None})  # fmt: skip
        params = load_params(ws / "params.yaml")
        suite = starter_suite(read_source(params.ingest), params.data, "drafted")
        (ws / params.validate_.suite).write_text(json.dumps(suite))
        run_stages(ws, DATA_STAGES, monkeypatch)
        results[engine] = outputs(ws)
        ingested = json.loads((ws / paths.INGEST_METRICS).read_text())["ingest"]
        assert ingested["rows"] == 318 and ingested["feedback"]["rows"] == 3
        assert json.loads((ws / paths.DATA_QUALITY).read_text()) == {"contract": True}
        assert (ws / paths.PREPARED_VALIDATION_DIR / "data_docs/index.html").exists()
    pandas, spark = results["pandas"], results["spark"]
    assert pandas["cleaning"]["cleaning"]["duplicate_rows_removed"] == 15
    files = set(pandas["prepared"][SOURCE_FILE_COLUMN])
    assert files == {"2024.csv", "2025 h1+h2.csv", "feedback/labels-1.jsonl"}
    assert_same(pandas, spark)


def test_spark_outputs_depend_on_the_rows_alone(tmp_path, files_source, monkeypatch):
    """Read in many small partitions and shuffled into a different number, the same rows give
    byte-identical datasets: DVC sees a rerun (or another cluster's run) as unchanged."""
    from pyspark.sql import SparkSession

    source = {"kind": "file", "path": str(files_source / "people"), "glob": "*.csv"}
    ws = workspace(tmp_path, "spark", source, split={"test_source_file": None})
    outs = (paths.RAW_DIR, paths.PREPARED_DIR, paths.SPLIT_DIR)
    run_stages(ws, ("ingest", "prepare", "split"), monkeypatch)
    first = {p: sha256_of_tree(ws / p) for p in outs}
    conf = SparkSession.getActiveSession().conf
    conf.set("spark.sql.files.maxPartitionBytes", "2048")
    conf.set("spark.sql.shuffle.partitions", "3")
    try:
        run_stages(ws, ("ingest", "prepare", "split"), monkeypatch)
    finally:
        conf.set("spark.sql.files.maxPartitionBytes", str(128 << 20))
        conf.set("spark.sql.shuffle.partitions", "8")
    assert {p: sha256_of_tree(ws / p) for p in outs} == first
    parts = sorted(p.name for p in (ws / paths.PREPARED_TABLE).iterdir())
    assert parts == [f"part-{i:05d}.parquet" for i in range(8)]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.drop(columns="education"), r"missing column\(s\) \['education'\]"),
        (lambda f: f.assign(income=" maybe"), r"label\(s\) \['maybe'\] not in data.labels"),
    ],
)
def test_spark_bad_input_stops_prepare_with_one_line(tmp_path, monkeypatch, edit, message):
    """The error names the column or label; the last good prepared table stays as it was."""
    people = tmp_path / "people.csv"
    messy_frame(60).drop(columns=SOURCE_FILE_COLUMN).to_csv(people, index=False)
    ws = workspace(tmp_path / "ws", "spark", {"kind": "file", "path": str(people)},
                   split={"test_source_file": None})  # fmt: skip
    run_stages(ws, ("ingest", "prepare"), monkeypatch)
    good = sha256_of_tree(ws / paths.PREPARED_DIR)
    edit(pd.read_csv(people, dtype=str, keep_default_na=False)).to_csv(people, index=False)
    run_stages(ws, ("ingest",), monkeypatch)
    with pytest.raises(StageError, match=message) as err:
        run_stages(ws, ("prepare",), monkeypatch)
    assert "\n" not in str(err.value)
    assert sha256_of_tree(ws / paths.PREPARED_DIR) == good


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory):
    """A Spark standalone master and one worker (1 core, 1 GB) on loopback, as
    docs/scale.md starts them: `spark-class ...Master` and `...Worker spark://...`."""
    import subprocess
    import sys
    import time

    import pyspark

    home = Path(pyspark.__file__).parent
    logs = tmp_path_factory.mktemp("cluster")
    env = {**__import__("os").environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "SPARK_WORKER_DIR": str(logs / "work")}  # fmt: skip
    port = free_port()
    master = f"spark://127.0.0.1:{port}"
    cls = [str(home / "bin/spark-class")]
    started = [
        subprocess.Popen([*cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                          "--port", str(port), "--webui-port", str(free_port())], env=env,
                         stdout=(logs / "master.log").open("w"), stderr=subprocess.STDOUT),
        subprocess.Popen([*cls, "org.apache.spark.deploy.worker.Worker", master, "--host",
                          "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port",
                          str(free_port())], env=env,
                         stdout=(logs / "worker.log").open("w"), stderr=subprocess.STDOUT),
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Successfully registered with master" not in (logs / "worker.log").read_text():
            assert time.monotonic() < deadline, (logs / "worker.log").read_text()[-2000:]
            time.sleep(0.5)
        yield master, logs / "work"
    finally:
        for proc in started:
            proc.terminate()
            proc.wait(timeout=30)


def test_a_standalone_cluster_writes_what_local_mode_writes(
    tmp_path, files_source, standalone_cluster, monkeypatch
):
    """The data stages as `dvc repro` runs them (one process per stage) against a master and a
    worker on loopback: the worker's executor does the work, and the outputs are byte for byte
    the ones local mode writes."""
    import subprocess
    import sys

    master, work = standalone_cluster
    source = {"kind": "file", "path": str(files_source / "people"), "glob": "*.csv"}
    local = workspace(tmp_path / "local", "spark", source, split={"test_source_file": None})
    run_stages(local, ("ingest", "prepare", "split"), monkeypatch)
    conf = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
            "spark.executor.memory": "768m", "spark.cores.max": "1"}  # fmt: skip
    cluster = workspace(tmp_path / "cluster", "spark", source, split={"test_source_file": None},
                        spark={"master": master, "conf": conf})  # fmt: skip
    for name in ("ingest", "prepare", "split"):
        done = subprocess.run([sys.executable, "-m", f"trainflow.stages.{name}"], cwd=cluster,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    for out in (paths.RAW_DIR, paths.PREPARED_DIR, paths.SPLIT_DIR):
        assert sha256_of_tree(cluster / out) == sha256_of_tree(local / out), out
    apps = sorted(p.name for p in work.glob("app-*"))  # one per stage, run by the worker
    assert len(apps) == 3, apps


def test_both_engines_agree_on_a_regression_table_with_free_text(tmp_path, monkeypatch):
    """A numeric target with missing markers and stray spaces, free text in two Unicode
    spellings of one word (NFC makes them one record), an id column: the same rows and split."""
    frame = messy_frame(120, seed=5).drop(columns=SOURCE_FILE_COLUMN)
    frame["hours_per_week"] = frame["hours_per_week"].astype(str).radd(" ")
    frame.loc[::17, "hours_per_week"] = " ?"
    frame["note"] = np.where(np.arange(len(frame)) % 2, " caf\u00e9 ", "cafe\u0301")
    frame["person"] = np.arange(len(frame)) // 2  # pairs of rows share an id
    frame.to_csv(tmp_path / "hours.csv", index=False)
    data = {"target": "hours_per_week", "task": "regression", "labels": [], "label_map": {},
            "numeric": ["age", "education_num", "capital_gain"],
            "categorical": ["workclass", "education", "sex"], "text": ["note"], "drop": [],
            "id_columns": ["person"]}  # fmt: skip
    source = {"kind": "file", "path": str(tmp_path / "hours.csv")}
    regression = {
        "split": {"test_source_file": None},
        "evaluate": {"slices": ["sex"], "bands": {}, "fairness": []},
        "gate": {"min": {}, "max": {}, "max_below_baseline": {}, "max_fairness_gap": {}},
        "train": {"preprocess": {"min_category_count": 5, "log1p": ["capital_gain"]}},
    }
    results = {}
    for engine in ENGINES:
        ws = workspace(tmp_path / engine, engine, source, data=data, **regression)
        run_stages(ws, ("ingest", "prepare", "split"), monkeypatch)
        results[engine] = outputs(ws)
    pandas, spark = results["pandas"], results["spark"]
    assert pandas["cleaning"]["cleaning"]["rows_missing_target"] == 8
    assert set(pandas["prepared"]["note"]) == {"caf\u00e9"}
    assert_same(pandas, spark)


def test_spark_strips_what_python_strips():
    """Every white-space character str.strip() removes (tabs, NBSP, the ideographic space, the
    ASCII separators \\x1c-\\x1f), on either end, and nothing inside or beyond them."""
    from trainflow.data.spark import spark_session
    from trainflow.engines.spark_engine import WHITESPACE, strip

    cells = [f"{c}a {c}b{c}" for c in WHITESPACE] + ["\u200bzero-width\u200b", " é ", None, ""]
    spark = spark_session()
    got = spark.createDataFrame([(c,) for c in cells], "v string").select(strip("v").alias("s"))
    assert [r["s"] for r in got.collect()] == [c.strip() if c is not None else None for c in cells]


def test_spark_manifest_digest_streamed_equals_the_pandas_engines(tmp_path):
    """split's manifest.json read back from a dataset in many files and row groups, rows in no
    order, one batch at a time: the same rows and sha256 per split as leakage.manifest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainflow.data.leakage import manifest
    from trainflow.engines.spark_engine.split import _manifest_digest

    rng = np.random.default_rng(7)
    hashes = rng.integers(-(2**63), 2**63 - 1, size=5_000, dtype=np.int64)
    side = rng.choice(list(paths.SPLITS), size=len(hashes), p=[0.7, 0.15, 0.15])
    _, expected = manifest({name: hashes[side == name] for name in paths.SPLITS})
    folder = tmp_path / "manifest"
    folder.mkdir()
    order = rng.permutation(len(hashes))
    for number, part in enumerate(np.array_split(order, 3)):
        table = pa.table({"split": side[part], "row_hash": hashes[part]})
        pq.write_table(table, folder / f"part-{number:05d}.parquet", row_group_size=97)
    assert _manifest_digest(folder) == expected


JDBC_JAR = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java


def fetch_data(ws: Path, env: dict, *args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "trainflow.cli", "fetch-data", *args], cwd=ws,
                          env=env, capture_output=True, text=True)  # fmt: skip


def plain_rows(frame: pd.DataFrame) -> list[list]:
    """A table's rows as plain values (None for missing), columns by name, rows by id."""
    out = frame.astype(object).where(frame.notna(), None).sort_values("id")
    return out[sorted(out.columns)].values.tolist()


def test_spark_reads_a_database_through_jdbc_into_a_dataset_snapshot(tmp_path, monkeypatch):
    """`trainflow fetch-data` with the Spark engine (its own process: a JVM with the driver's
    jar) reads a PostgreSQL table in ranges of a column, over JDBC, into a Parquet dataset: the
    rows SQLAlchemy reads; again: the same bytes and the first fetch's provenance; ingest on
    Spark reads it; a wrong password or a missing jar stops it with one line, no password."""
    import os

    from tests.servers import postgres_bin, postgres_server

    if postgres_bin() is None or not JDBC_JAR.exists():
        pytest.skip("PostgreSQL server or its JDBC jar not installed (make services)")
    table = messy_frame(120).drop(columns=SOURCE_FILE_COLUMN)
    table.insert(0, "id", np.arange(len(table), dtype=np.int64))
    with postgres_server() as pg:
        from sqlalchemy import create_engine

        engine = create_engine(pg.url())
        table.to_sql("people", engine, index=False)
        engine.dispose()
        source = {"kind": "sql", "url": pg.url(password="${TF_PG_PASSWORD}"), "table": "people",
                  "path": "data/external/people.parquet", "partition_column": "id"}  # fmt: skip
        spark = {"master": "local[2]", "files": 3, "conf": {"spark.jars": str(JDBC_JAR)}}
        ws = workspace(tmp_path / "spark", "spark", source, spark=spark)
        env = {**os.environ, "TF_PG_PASSWORD": pg.password}
        done = fetch_data(ws, env)
        assert done.returncode == 0, done.stderr[-2000:]
        snapshot = ws / "data/external/people.parquet"
        assert snapshot.is_dir() and len(list(snapshot.glob("*.parquet"))) == 3
        got = pd.read_parquet(snapshot).sort_values("id").reset_index(drop=True)
        assert set(got.pop(SOURCE_FILE_COLUMN)) == {"people"}
        pd.testing.assert_frame_equal(got, table, check_dtype=False)
        provenance = (ws / "data/external/people.parquet.provenance.json").read_text()
        assert '"rows": 120' in provenance and pg.password not in provenance
        digest = sha256_of_tree(snapshot)
        again = fetch_data(ws, env, "--refresh")
        assert again.returncode == 0, again.stderr[-2000:]
        assert sha256_of_tree(snapshot) == digest
        assert (ws / "data/external/people.parquet.provenance.json").read_text() == provenance
        run_stages(ws, ("ingest",), monkeypatch)
        raw = pd.read_parquet(ws / paths.RAW_TABLE)
        assert len(raw) == 120 and set(raw[SOURCE_FILE_COLUMN]) == {"people"}
        pandas_ws = workspace(tmp_path / "pandas", "pandas", source)
        assert fetch_data(pandas_ws, env).returncode == 0
        by_pandas = pd.read_parquet(pandas_ws / "data/external/people.parquet")
        assert plain_rows(by_pandas) == plain_rows(pd.read_parquet(snapshot))
        wrong = fetch_data(ws, {**env, "TF_PG_PASSWORD": "wrong-pw-123"}, "--refresh")
        assert wrong.returncode != 0 and "wrong-pw-123" not in wrong.stderr
        assert "password authentication failed" in wrong.stderr
        assert "trainflow@127.0.0.1" in wrong.stderr
        assert sha256_of_tree(snapshot) == digest  # the last good snapshot stays
        nojar = workspace(tmp_path / "nojar", "spark", source, spark={**spark, "conf": {}})
        missing = fetch_data(nojar, env)
        assert missing.returncode != 0 and "spark.jars" in missing.stderr
        assert not (nojar / "data/external/people.parquet").exists()
