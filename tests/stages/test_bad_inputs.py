"""The bad-input corpus: each broken input stops the right stage with one line naming the file,
column, expectation or key, a non-zero exit, no partial outputs, and the last good outputs of the
failing stage untouched. Runs the real stage commands in a workspace built from real Adult rows."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT
from trainflow.data.sources import SOURCE_FILE_COLUMN, read_adult_wheel

pytestmark = pytest.mark.slow
STAGE_OUTPUTS = {
    "ingest": ["data/raw", "metrics/ingest.json"],
    "validate": ["reports/validation", "metrics/data_quality.json"],
    "prepare": ["data/prepared", "metrics/prepare.json"],
    "fetch-data": ["data/external/snap.parquet"],
    "split": ["data/split", "metrics/split.json"],
}


def stage(name: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Run `trainflow <name>` in `cwd` with a bare environment (plus `env`)."""
    return subprocess.run(
        [sys.executable, "-m", "trainflow.cli", name], cwd=cwd, capture_output=True, text=True,
        env={"PATH": str(Path(sys.executable).parent), "HOME": str(cwd), "CI": "true",
             **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}, **env},
    )  # fmt: skip


def digest(path: Path) -> str:
    if not path.exists():
        return "absent"
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path.parent)).encode() + f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def good_workspace(tmp_path_factory, adult_wheel):
    """params.yaml pointing at a CSV of 1,500 real Adult rows, with every stage's good outputs."""
    ws = tmp_path_factory.mktemp("good")
    shutil.copytree(ROOT / "contracts", ws / "contracts")
    rows = read_adult_wheel(adult_wheel).sample(1500, random_state=0)
    (ws / "data/external").mkdir(parents=True)
    rows.drop(columns=SOURCE_FILE_COLUMN).to_csv(ws / "data/external/people.csv", index=False)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["ingest"]["source"] = {"kind": "file", "path": "data/external/people.csv"}
    params["ingest"]["sample_rows"] = None
    params["split"]["test_source_file"] = None  # one file: a random test split
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for name in ("ingest", "validate", "prepare", "validate_prepared", "split"):
        done = stage(name, ws)
        assert done.returncode == 0, done.stderr
    return ws


def csv_text(ws: Path) -> str:
    return (ws / "data/external/people.csv").read_text()


def edit_frame(fn):
    def apply(ws: Path) -> None:
        path = ws / "data/external/people.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        fn(frame).to_csv(path, index=False)

    return apply


def write(content: bytes | str):
    def apply(ws: Path) -> None:
        path = ws / "data/external/people.csv"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return apply


def set_params(fn, source: str | None = None):
    def apply(ws: Path) -> None:
        params = yaml.safe_load((ws / "params.yaml").read_text())
        fn(params)
        (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    return apply


def header(ws: Path) -> str:
    return csv_text(ws).splitlines()[0]


def with_source(**source):
    return set_params(lambda p: p["ingest"].update(source=source))


def gz_broken(ws: Path) -> None:
    data = gzip.compress(csv_text(ws).encode(), mtime=0)
    (ws / "data/external/people.csv.gz").write_bytes(data[: len(data) // 2])
    with_source(kind="file", path="data/external/people.csv.gz")(ws)


def truncated_last_line(ws: Path) -> None:
    text = csv_text(ws).rstrip("\n")
    write(text[: text.rfind(",", 0, len(text) - 40)] + "\n")(ws)


def quoted_newline(ws: Path) -> None:
    def fn(f):
        f.loc[3, "workclass"] = " Private\nExtra"
        return f

    edit_frame(fn)(ws)


def set_cell(column: str, value, rows=(5,)):
    def fn(f):
        for r in rows:
            f.loc[r, column] = value
        return f

    return edit_frame(fn)


def postgres_refusing(ws: Path) -> None:
    from tests.servers import free_port

    url = f"postgresql+psycopg://etl:topsecret-pw@127.0.0.1:{free_port()}/crm"
    with_source(kind="sql", url=url, table="t", path="data/external/snap.parquet")(ws)


# (id, what to break, stage that must fail, texts its last line must contain)
CASES = [
    ("empty file", write(b""), "ingest", ["people.csv", "file is empty"]),
    ("header only", lambda ws: write(header(ws) + "\n")(ws), "ingest", ["header but no rows"]),
    ("missing file", with_source(kind="file", path="data/external/nope.csv"), "ingest",
     ["nope.csv: not found"]),
    ("wrong delimiter", lambda ws: write(csv_text(ws).replace(",", ";"))(ws), "ingest",
     ["wrong delimiter", "ingest.source.delimiter"]),
    ("non-UTF-8 bytes", lambda ws: write(csv_text(ws).encode() + b"40,\xff\xfe\n")(ws),
     "ingest", ["not UTF-8 text"]),
    ("unreadable gzip", gz_broken, "ingest", ["people.csv.gz", "not a valid gzip file"]),
    ("corrupt parquet", lambda ws: (
        (ws / "data/external/p.parquet").write_bytes(b"PAR1garbagePAR1"),
        with_source(kind="file", path="data/external/p.parquet")(ws)),
     "ingest", ["p.parquet", "cannot read as Parquet"]),
    ("format not recognised", lambda ws: (
        shutil.copy(ws / "data/external/people.csv", ws / "data/external/people.dat"),
        with_source(kind="file", path="data/external/people.dat")(ws)),
     "ingest", ["people.dat", "set format in params"]),
    ("missing target column", edit_frame(lambda f: f.drop(columns="income")), "validate",
     ["expectations failed"]),
    ("renamed column", edit_frame(lambda f: f.rename(columns={"age": "years"})), "validate",
     ["expectations failed"]),
    ("extra column", edit_frame(lambda f: f.assign(notes="x")), "validate",
     ["expectations failed"]),
    ("truncated last line", truncated_last_line, "validate", ["expectations failed"]),
    ("quoted newline in a value", quoted_newline, "validate", ["expectations failed"]),
    ("numeric column holding strings", set_cell("age", "forty"), "validate",
     ["expectations failed"]),
    ("NaN and Inf in numerics", lambda ws: (set_cell("hours_per_week", "NaN", rows=(1,))(ws),
                                            set_cell("hours_per_week", "inf", rows=(2,))(ws)),
     "validate", ["2 of 56 expectations failed"]),
    ("negative age", set_cell("age", "-5"), "validate", ["1 of 56 expectations failed"]),
    ("unseen label", set_cell("income", " maybe"), "validate", ["1 of 56 expectations failed"]),
    ("single-class target", edit_frame(lambda f: f.assign(income=" <=50K")), "validate",
     ["1 of 56 expectations failed"]),
    ("all-null column", edit_frame(lambda f: f.assign(occupation="")), "validate",
     ["expectations failed"]),
    ("a 1 MB field", set_cell("native_country", "x" * 1_000_000), "validate",
     ["1 of 56 expectations failed"]),
    ("mixed types in a column", set_cell("capital_gain", "n/a", rows=(1, 7)), "validate",
     ["expectations failed"]),
    # one record repeated is also a single class: the raw contract stops it before prepare
    ("100% duplicate rows", edit_frame(lambda f: pd.concat([f.iloc[[0]]] * 1500)), "validate",
     ["1 of 56 expectations failed"]),
    # valid values, each in its column's set: only the single-feature check sees the leak
    ("a feature that is the target in disguise",
     edit_frame(lambda f: f.assign(sex=f["income"].map(lambda v: " Male" if ">50K" in v
                                                       else " Female"))),
     "split", ["single-feature check: 'sex' alone predicts 'income' with AUROC 1.0000",
               "a leak?"]),
    ("database URL that refuses", postgres_refusing, "fetch-data",
     ["OperationalError", "refused", "etl@127.0.0.1"]),
    ("params: wrong type", set_params(lambda p: p["families"]["mlp"].update(lr="fast")), "ingest",
     ["params.yaml: families.mlp.lr: Input should be a valid number"]),
    ("params: unknown key", set_params(lambda p: p["train"].update(learning_rate=0.1)),
     "ingest", ["params.yaml: unknown key train.learning_rate"]),
    ("params: misspelt key",
     set_params(lambda p: p["families"]["mlp"].update(lrr=p["families"]["mlp"].pop("lr"))),
     "ingest", ["params.yaml: unknown key families.mlp.lrr (did you mean families.mlp.lr? it "
                "is missing)"]),
    ("params: missing key", set_params(lambda p: p["data"].pop("target")), "ingest",
     ["params.yaml: missing key data.target"]),
    ("suite missing", set_params(lambda p: p["validate"].update(suite="contracts/x.json")),
     "validate", ["contracts/x.json: expectation suite not found"]),
]  # fmt: skip
# The details each FAILED line must name (column + example), for the contract cases.
FAILED_LINES = {
    "negative age": ["expect_column_values_to_be_between on column 'age'", "-5"],
    "unseen label": ["expect_column_values_to_be_in_set on column 'income'", "'maybe'"],
    "single-class target": ["expect_column_distinct_values_to_contain_set on column 'income'"],
    "100% duplicate rows": ["expect_column_distinct_values_to_contain_set on column 'income'"],
    "numeric column holding strings": ["column 'age'"],
    "NaN and Inf in numerics": [  # the NaN as a missing value, the inf out of range
        "expect_column_values_to_not_be_null on column 'hours_per_week'",
        "expect_column_values_to_be_between on column 'hours_per_week'",
    ],
    "missing target column": ["expect_table_columns_to_match_set", "column 'income'"],
    "renamed column": ["expect_table_columns_to_match_set", "column 'age'"],
    "extra column": ["expect_table_columns_to_match_set"],
    "quoted newline in a value": ["column 'workclass'", "Private\\\\nExtra"],
    "all-null column": ["column 'occupation'"],
    "a 1 MB field": ["column 'native_country'", "(1,000,000 chars)"],
    "mixed types in a column": ["column 'capital_gain'"],
    "truncated last line": ["on column"],
}


@pytest.mark.parametrize(
    ("case", "breaker", "failing", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input(good_workspace, tmp_path, case, breaker, failing, expected):
    ws = tmp_path / "ws"
    shutil.copytree(good_workspace, ws)
    breaker(ws)
    before = {p: digest(ws / p) for p in STAGE_OUTPUTS.get(failing, [])}
    if failing not in ("ingest", "fetch-data"):  # earlier stages must succeed on this input
        for earlier in ("ingest", "validate", "prepare", "validate_prepared"):
            if earlier == failing:
                break
            done = stage(earlier, ws)
            assert done.returncode == 0, f"{earlier} failed first: {done.stderr}"
        before = {p: digest(ws / p) for p in STAGE_OUTPUTS[failing]}
    done = stage(failing, ws)
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"trainflow {failing}: error: "), done.stderr[-2000:]
    assert len(last) < 600
    for text in expected:
        assert text in last, last
    for text in FAILED_LINES.get(case, []):
        assert any(text in line for line in done.stderr.splitlines() if "FAILED" in line), (
            done.stderr[-3000:]
        )
    assert "Traceback" not in done.stderr
    assert "topsecret-pw" not in done.stderr
    for path, value in before.items():
        assert digest(ws / path) == value, f"{path} changed although {failing} failed"
    leftovers = [p.name for p in ws.rglob(".*.tmp")] + [p.name for p in ws.rglob(".raw.*")]
    assert not leftovers


def test_bom_is_read_not_failed(good_workspace, tmp_path):
    """A UTF-8 byte-order mark is not an error: the first column keeps its clean name."""
    ws = tmp_path / "ws"
    shutil.copytree(good_workspace, ws)
    write(b"\xef\xbb\xbf" + csv_text(ws).encode())(ws)
    assert stage("ingest", ws).returncode == 0
    assert stage("validate", ws).returncode == 0
    assert pd.read_parquet(ws / "data/raw/raw.parquet").columns[0] == "age"


def test_bucket_that_does_not_exist(good_workspace, tmp_path):
    """fetch-data against a real S3 server (moto) on loopback: one line, no snapshot written."""
    from tests.servers import S3_ENV, s3_server

    ws = tmp_path / "ws"
    shutil.copytree(good_workspace, ws)
    with s3_server() as endpoint:
        with_source(kind="s3", url="s3://no-such-bucket/people.csv", endpoint_url=endpoint,
                    path="data/external/snap.parquet")(ws)  # fmt: skip
        done = stage("fetch-data", ws, **S3_ENV)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == "trainflow fetch-data: error: s3://no-such-bucket: bucket does not exist"
    assert not (ws / "data/external/snap.parquet").exists()
    assert S3_ENV["AWS_SECRET_ACCESS_KEY"] not in done.stderr
