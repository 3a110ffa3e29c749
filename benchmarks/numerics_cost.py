"""What the portable numerics cost: `dvc repro --force` of the whole pipeline on the full data,
under trainflow's pinned code paths (the default: the same bytes on any x86-64 CPU with AVX2)
and under TRAINFLOW_NUMERICS=native (every library's fastest path for this CPU, all its
cores), alternating, in one fresh clone of HEAD.

    .venv/bin/python benchmarks/numerics_cost.py --runs 3

Prints each run's seconds and each training stage's fit time, the medians and the ratio
(goal: portable <= 1.10x native), and writes benchmarks/results/numerics_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import ROOT, write_result

FAMILIES = ("linear", "mlp", "resnet", "gbdt")


def clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)
    external = ROOT / "data/external"
    shutil.copytree(external, dest / "data/external", dirs_exist_ok=True)
    return dest


def run_pipeline(repo: Path, mode: str) -> dict[str, float]:
    env = {**os.environ, "TRAINFLOW_NUMERICS": mode, "CI": "true", "DVC_NO_ANALYTICS": "1",
           "BENTOML_DO_NOT_TRACK": "True", "BENTOML_HOME": str(repo / ".bentoml"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    start = time.perf_counter()
    subprocess.run(["dvc", "repro", "--force"], cwd=repo, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    seconds = time.perf_counter() - start
    fits = {f: json.loads((repo / f"metrics/speed/train_{f}.json").read_text())["fit_seconds"]
            for f in FAMILIES}  # fmt: skip
    return {"pipeline_s": round(seconds, 1), **{f"fit_{f}_s": fits[f] for f in FAMILIES}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each, alternating")
    parser.add_argument("--scratch", type=Path, help="where to clone (default: a temp dir)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="numerics-cost-", dir=args.scratch))
    repo = clone(scratch / "repo")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["trainflow", "fetch-data"], cwd=repo, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    runs: dict[str, list[dict[str, float]]] = {"portable": [], "native": []}
    for i in range(args.runs):
        for mode in runs:
            runs[mode].append(run_pipeline(repo, mode))
            print(f"run {i + 1} {mode:8s} {runs[mode][-1]}", flush=True)
    medians = {mode: {key: round(statistics.median(r[key] for r in rs), 1) for key in rs[0]}
               for mode, rs in runs.items()}  # fmt: skip
    ratio = medians["portable"]["pipeline_s"] / medians["native"]["pipeline_s"]
    print(f"median dvc repro --force: portable {medians['portable']['pipeline_s']} s, native "
          f"{medians['native']['pipeline_s']} s: {ratio:.3f}x (goal <= 1.10x)")  # fmt: skip
    write_result("numerics_cost", {"runs": runs, "median": medians,
                                   "portable_over_native": round(ratio, 3)})  # fmt: skip
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
