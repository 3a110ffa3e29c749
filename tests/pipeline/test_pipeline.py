"""The real `dvc repro` in a fresh git repo on a small sample of the real Adult data."""

import csv
import io
import json
import re

import pytest
import yaml

from tests.conftest import make_project, project_env, run
from tests.pipeline import STAGES, constant_predictor, stages_run

pytestmark = pytest.mark.slow


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
