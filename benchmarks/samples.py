"""The console samples README shows, from a real run: in a fresh clone of HEAD, the pipeline
(`dvc repro`), the run committed, one experiment on top, what `dvc exp show` prints in a
120-column terminal, and README's `/explain` request answered by `bentoml serve` of the bundle.

    .venv/bin/python benchmarks/samples.py        # after `make setup`; about 4 minutes

Writes benchmarks/results/samples.json.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# a raw record as the source has it (stray spaces, "?" for unknown)
RECORD = {
    "age": 39, "workclass": " State-gov", "fnlwgt": 77516, "education": " Bachelors",
    "education_num": 13, "marital_status": " Never-married", "occupation": " ?",
    "relationship": " Not-in-family", "race": " White", "sex": " Male", "capital_gain": 2174,
    "capital_loss": 0, "hours_per_week": 40, "native_country": " United-States",
}  # fmt: skip
GIT = {
    f"GIT_{who}_{what}": value
    for who in ("AUTHOR", "COMMITTER")
    for what, value in (("NAME", "bench"), ("EMAIL", "bench@trainflow.invalid"))
}


def run(cmd: list[str], repo: Path, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True, **kw)


def exp_show(repo: Path, env: dict[str, str]) -> str:
    """Commit the run, one experiment on top (`dvc exp run -S`), and `dvc exp show` as a
    120-column terminal's pager shows it (its lines cut at 120 characters)."""
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "the pipeline's run"], repo, env)
    run(["dvc", "exp", "run", "-n", "gbdt-lr-0.05", "-S", "families.gbdt.learning_rate=0.05"],
        repo, env)  # fmt: skip
    shown = run(["dvc", "exp", "show", "--no-pager"], repo, {**env, "COLUMNS": "1024"}).stdout
    return "\n".join(line[:120].rstrip() for line in shown.strip("\n").splitlines())


def explain(repo: Path, work: Path) -> dict:
    """README's /explain request, answered by `bentoml serve` of the clone's bundle."""
    import requests

    from trainflow.loadtest import serve_bundle

    body = {"records": [RECORD], "top": 3}
    with serve_bundle(repo / "models/bundle", work) as server:
        answer = requests.post(f"{server.url}/explain", json=body, timeout=60)
    answer.raise_for_status()
    return {"request": body, "response": answer.json()}


def main() -> None:
    from trainflow.figures.record import script_command, write_result
    from trainflow.numerics import unpinned_environ

    scratch = Path(tempfile.mkdtemp(prefix="trainflow-samples-"))
    repo = scratch / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    env = {**unpinned_environ(), **GIT, "CI": "true", "DVC_NO_ANALYTICS": "1",
           "BENTOML_HOME": str(repo / ".bentoml"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    run(["trainflow", "fetch-data"], repo, env)
    run(["dvc", "repro"], repo, env)
    figures = {"explain": explain(repo, scratch / "serve"), "exp_show": exp_show(repo, env)}
    write_result("samples", figures, script_command(sys.argv, ROOT), ROOT)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
