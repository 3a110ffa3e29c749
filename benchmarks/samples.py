"""The console samples README and docs/ show, from a real run: in a fresh clone of HEAD, the
pipeline (`dvc repro`), `dvc metrics show` and the small evaluation reports docs/pipeline.md
quotes (DVC-cached outputs, not in git), the two failures it shows (a broken contract, a gate
the model cannot meet) as the stages print them, the run committed, one experiment on top,
what `dvc exp show` prints in a 120-column terminal (plain and `--only-changed`), a
24-trial `trainflow sweep`, and the requests README and docs/serving.md show, answered by
`bentoml serve` of the bundle.

    .venv/bin/python benchmarks/samples.py        # after `make setup`; about 15 minutes

Writes benchmarks/results/samples.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fresh_clone import fresh_clone, run  # noqa: E402

# a raw record as the source has it (stray spaces, "?" for unknown)
RECORD = {
    "age": 39, "workclass": " State-gov", "fnlwgt": 77516, "education": " Bachelors",
    "education_num": 13, "marital_status": " Never-married", "occupation": " ?",
    "relationship": " Not-in-family", "race": " White", "sex": " Male", "capital_gain": 2174,
    "capital_loss": 0, "hours_per_week": 40, "native_country": " United-States",
}  # fmt: skip


REPORTS = ("gate.json", "report_fairness.json", "report_slices.json", "importance.json")


def run_outputs(repo: Path, env: dict[str, str]) -> dict:
    """`dvc metrics show`, the evaluation reports docs/pipeline.md quotes, and the data's own
    rate of `>50K` by sex (what the model's parity gap mirrors)."""
    import pandas as pd

    shown = run(["dvc", "metrics", "show"], repo, {**env, "COLUMNS": "200"}).stdout
    reports = {name: json.loads((repo / "reports/eval" / name).read_text()) for name in REPORTS}
    table = pd.concat(pd.read_parquet(repo / f"data/split/{part}.parquet")
                      for part in ("train", "val", "test"))  # fmt: skip
    rates = table.groupby("sex")["income"].apply(lambda s: float((s == ">50K").mean()))
    return {
        "metrics_show": shown.strip("\n"),
        "reports": reports,
        "eval": json.loads((repo / "metrics/eval.json").read_text()),
        "positive_rate_by_sex": {k: round(v, 6) for k, v in rates.items()},
    }


def failing(cmd: list[str], repo: Path, env: dict[str, str]) -> list[str]:
    """The lines a failing command prints to stderr that the user reads (not the traceback
    DVC adds): the stage's own `trainflow ...: error:` line and what leads up to it."""
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode == 0:
        raise SystemExit(f"{' '.join(cmd)}: expected to fail, it passed")
    return [line for line in done.stderr.splitlines()
            if "FAILED" in line or line.startswith("trainflow ")]  # fmt: skip


def failures(repo: Path, env: dict[str, str]) -> dict:
    """docs/pipeline.md's two failures, each undone after: five raw ages set to -3 against
    the contract, and a gate of accuracy >= 0.99 against the champion."""
    import pandas as pd

    raw = repo / "data/raw/raw.parquet"
    table = pd.read_parquet(raw)
    table.loc[table.index[:5], "age"] = -3
    table.to_parquet(raw, index=False)
    contract = failing([sys.executable, "-m", "trainflow.stages.validate"], repo, env)
    run(["dvc", "checkout", "--force", "data/raw"], repo, env)
    params = repo / "params.yaml"
    text = params.read_text()
    params.write_text(text.replace("min: {accuracy: 0.84,", "min: {accuracy: 0.99,", 1))
    gate = failing(["dvc", "repro"], repo, env)
    params.write_text(text)
    run(["dvc", "repro"], repo, env)  # the run cache puts evaluate's outputs back
    return {"contract": contract, "gate": gate}


def exp_show(repo: Path, env: dict[str, str]) -> dict[str, str]:
    """Commit the run, one experiment on top (`dvc exp run -S`), and `dvc exp show` as a
    120-column terminal's pager shows it (its lines cut at 120 characters), and
    `--only-changed` as it prints itself in 120 columns."""
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "the pipeline's run"], repo, env)
    run(["dvc", "exp", "run", "-n", "gbdt-lr-0.05", "-S", "families.gbdt.learning_rate=0.05"],
        repo, env)  # fmt: skip
    shown = run(["dvc", "exp", "show", "--no-pager"], repo, {**env, "COLUMNS": "1024"}).stdout
    changed = run(["dvc", "exp", "show", "--only-changed", "--no-pager"], repo,
                  {**env, "COLUMNS": "120"}).stdout  # fmt: skip
    return {
        "exp_show": "\n".join(line[:120].rstrip() for line in shown.strip("\n").splitlines()),
        "exp_show_changed": "\n".join(line.rstrip() for line in changed.strip("\n").splitlines()),
    }


def served(repo: Path, work: Path) -> dict:
    """The requests README and docs/serving.md show, answered by `bentoml serve` of the
    clone's bundle: /predict and /explain of one raw record, and /drift of 500 test rows with
    20 years added to every age."""
    import pandas as pd
    import requests

    from trainflow.loadtest import serve_bundle
    from trainflow.params import load_params
    from trainflow.serving.records import json_records

    data = load_params(repo / "params.yaml").data
    shifted = pd.read_parquet(repo / "data/split/test.parquet").head(500)
    shifted["age"] = shifted["age"] + 20
    asked = {
        "predict": {"records": [RECORD]},
        "explain": {"records": [RECORD], "top": 3},
        "drift": {"records": json_records(shifted, data)},
    }
    answers = {}
    with serve_bundle(repo / "models/bundle", work) as server:
        for route, body in asked.items():
            answer = requests.post(f"{server.url}/{route}", json=body, timeout=60)
            answer.raise_for_status()
            answers[route] = answer.json()
    drift = answers["drift"]
    drift["features"] = drift["features"][:2]  # the two largest: what the page shows
    return {
        "explain": {"request": asked["explain"], "response": answers["explain"]},
        "predict": {"request": asked["predict"], "response": answers["predict"]},
        "drift": {"rows": len(shifted), "added_years": 20, "response": drift},
    }


def sweep(repo: Path, env: dict[str, str]) -> dict:
    """docs/experiments.md's sweep: 24 trials within 9 minutes against the committed run,
    its printed summary, how long it took, and each trial's family and validation score."""
    import time

    run(["git", "checkout", "--", "."], repo, env)  # the experiment left its run in place
    run(["dvc", "checkout", "--force"], repo, env)
    start = time.perf_counter()
    done = run(["trainflow", "sweep", "--trials", "24", "--time-budget", "9m"], repo, env)
    took = time.perf_counter() - start
    lines = done.stdout.strip("\n").splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("trial "))
                  :]  # fmt: skip
    trials = []
    for line in table[1:]:
        if not line.strip():
            break
        number, experiment, family, value = line.split()[:4]
        trials.append({"trial": int(number), "experiment": experiment, "family": family,
                       "val": float(value)})  # fmt: skip
    return {
        "command": "trainflow sweep --trials 24 --time-budget 9m",
        "shown": table,
        "seconds": round(took, 1),
        "trials": trials,
    }


def main() -> None:
    from trainflow.figures.record import script_command, write_result

    scratch = Path(tempfile.mkdtemp(prefix="trainflow-samples-"))
    repo = scratch / "repo"
    env = fresh_clone(repo)
    run(["trainflow", "fetch-data"], repo, env)
    run(["dvc", "repro"], repo, env)
    figures = {**run_outputs(repo, env), "failures": failures(repo, env)}
    figures.update(served(repo, scratch / "serve"))
    figures.update(exp_show(repo, env))
    figures["sweep"] = sweep(repo, env)
    write_result("samples", figures, script_command(sys.argv, ROOT), ROOT)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
