"""The worked examples on the penguins table, as docs/data.md tells a user to run them: in a
fresh clone of HEAD, `trainflow example-data penguins`, `cp examples/<name>/params.yaml
params.yaml`, `trainflow suite init`, commit, `dvc repro` (timed), then what the run chose and
measured: the champion (and an ensemble's weights), its test metrics and the linear baseline's,
validation and test sizes, every family's validation score.

    .venv/bin/python benchmarks/examples.py                     # both; about 3 minutes
    .venv/bin/python benchmarks/examples.py --examples penguins-mass

Writes benchmarks/results/examples.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fresh_clone import fresh_clone, run  # noqa: E402


def example(name: str, scratch: Path) -> dict:
    repo = scratch / name
    env = fresh_clone(repo)
    run(["trainflow", "example-data", "penguins", "--out", "data/external"], repo, env)
    shutil.copy(repo / f"examples/{name}/params.yaml", repo / "params.yaml")
    run(["trainflow", "suite", "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", name], repo, env)
    start = time.perf_counter()
    run(["dvc", "repro"], repo, env)
    seconds = time.perf_counter() - start
    report = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    split = json.loads((repo / "metrics/split.json").read_text())["split"]
    return {
        "example": name,
        "task": report["task"],
        "champion": report["champion"],
        "weights": {row["family"]: row["weight"] for row in board if row["weight"] > 0},
        "val": {row["family"]: row["val"] for row in board},
        "val_metric": board[0]["val_metric"],
        "model": report["model"],
        "baseline": report["baseline"],
        "train_rows": split["train"]["rows"],
        "val_rows": split["val"]["rows"],
        "test_rows": split["test"]["rows"],
        "repro_s": round(seconds, 1),
    }


def main() -> None:
    from trainflow.figures.record import script_command, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="+", default=["penguins-species", "penguins-mass"])
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="trainflow-examples-"))
    results = []
    for name in args.examples:
        results.append(example(name, scratch))
        print(json.dumps(results[-1]), flush=True)
    write_result("examples", {"examples": results}, script_command(sys.argv, ROOT), ROOT)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
