"""The worked examples, as docs/data.md, docs/text.md and docs/images.md tell a user to run
them: in a fresh clone of HEAD, `trainflow example-data <data>`, `cp examples/<name>/params.yaml
params.yaml`, `trainflow suite init`, commit, `dvc repro` (timed), then what the run chose and
measured: the champion (and an ensemble's weights), its test metrics and the linear baseline's,
validation and test sizes, every family's validation score. The text and image examples are
also walked through as their pages show them: every command's output, `trainflow verify` of
the committed run (timed), the worst slices, and the pages' requests answered by `bentoml
serve` of the bundle.

    .venv/bin/python benchmarks/examples.py                     # every example; ~20 minutes
    .venv/bin/python benchmarks/examples.py --examples penguins-mass

Writes benchmarks/results/examples.json (or examples_<name>.json for each of --examples).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fresh_clone import fresh_clone, run  # noqa: E402

DATA = {"penguins-species": "penguins", "penguins-mass": "penguins",
        "text-reviews": "reviews", "images-digits": "digits"}  # fmt: skip
WALKED = ("text-reviews", "images-digits")  # the pages that show the whole console
TEXTS = ["A moving, beautifully acted film with a brilliant script.",
         "Dull, lifeless and far too long."]  # fmt: skip
DIGIT = "data/external/digits/7/03600.png"
POST = "curl -s localhost:3000/predict -H 'content-type: application/json' -d "


def console(cmd: str, done) -> dict:
    return {"cmd": cmd, "stdout": done.stdout.strip("\n"), "stderr": done.stderr.strip("\n")}


def requests_of(name: str, repo: Path) -> list[tuple[str, str, dict]]:
    """The page's requests: (the command it shows, the route, what is sent)."""
    import base64

    if name == "text-reviews":
        good = json.dumps({"records": [{"text": t} for t in TEXTS]})
        return [
            (f"{POST}'{good}'", "predict", {"json": json.loads(good)}),
            (f"""{POST}'{{"records":[{{"text":"   "}}]}}'""", "predict",
             {"json": {"records": [{"text": "   "}]}}),
        ]  # fmt: skip
    image = base64.b64encode((repo / DIGIT).read_bytes()).decode()
    return [
        (f"f={DIGIT}", "", {}),
        (f'{POST}"{{\\"records\\": [{{\\"image\\": \\"$(base64 -w0 $f)\\"}}]}}"', "predict",
         {"json": {"records": [{"image": image}]}}),
        ("curl -s localhost:3000/predict_file -F file=@$f     # the file itself, as an upload",
         "predict_file", {"files": {"file": (Path(DIGIT).name, (repo / DIGIT).read_bytes())}}),
        (f"""{POST}'{{"records":[{{"image":"aGVsbG8="}}]}}'""", "predict",
         {"json": {"records": [{"image": "aGVsbG8="}]}}),
    ]  # fmt: skip


def served(name: str, repo: Path, work: Path) -> list[dict]:
    """Each request answered by `bentoml serve` of the run's bundle: status and body."""
    import requests

    from trainflow.loadtest import serve_bundle

    answers = []
    with serve_bundle(repo / "models/bundle", work) as server:
        for cmd, route, sent in requests_of(name, repo):
            if not route:  # a shell line, nothing sent
                answers.append({"cmd": cmd})
                continue
            answer = requests.post(f"{server.url}/{route}", timeout=60, **sent)
            answers.append({"cmd": cmd, "status": answer.status_code, "body": answer.json()})
    return answers


def example(name: str, scratch: Path) -> dict:
    from trainflow.figures.record import commit

    repo = scratch / name
    env = fresh_clone(repo)
    project = commit(repo)  # the project's, before the example's own commits
    walk: dict = {}
    out = ["--out", "data/external"] if DATA[name] == "penguins" else []  # its params' path
    fetched = run(["trainflow", "example-data", DATA[name], *out], repo, env)
    walk["example_data"] = console(f"trainflow example-data {DATA[name]}", fetched)
    shutil.copy(repo / f"examples/{name}/params.yaml", repo / "params.yaml")
    walk["suite_init"] = console("trainflow suite init", run(["trainflow", "suite", "init"],
                                                             repo, env))  # fmt: skip
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", name], repo, env)
    start = time.perf_counter()
    repro = run(["dvc", "repro"], repo, env)
    seconds = time.perf_counter() - start
    walk["repro"] = [line for line in (repro.stdout + repro.stderr).splitlines()
                     if re.match(r"(\d\d:\d\d:\d\d )?INFO trainflow\.", line)]  # fmt: skip
    report = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    split = json.loads((repo / "metrics/split.json").read_text())["split"]
    result = {
        "example": name,
        "commit": project,
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
    if name not in WALKED:
        return result
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", f"{name}: run"], repo, env)
    start = time.perf_counter()
    walk["verify"] = console("trainflow verify", run(["trainflow", "verify"], repo, env))
    walk["verify_s"] = round(time.perf_counter() - start, 1)
    walk["slices"] = json.loads((repo / "reports/eval/report_slices.json").read_text())
    walk["served"] = served(name, repo, scratch / f"{name}-serve")
    return {**result, "walk": walk}


def main() -> None:
    from trainflow.figures.record import script_command, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="+", choices=list(DATA),
                        default=["penguins-species", "penguins-mass"])  # fmt: skip
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="trainflow-examples-"))
    results = []
    for name in args.examples:
        results.append(example(name, scratch))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "walk"}), flush=True)
        if name in WALKED:  # a page of its own, recorded on its own
            record, result = f"example_{name.replace('-', '_')}", results.pop()
            write_result(record, result, script_command(sys.argv, ROOT), ROOT,
                         measured=result["commit"])  # fmt: skip
    if results:
        write_result("examples", {"examples": results}, script_command(sys.argv, ROOT), ROOT,
                     measured=results[0]["commit"])  # fmt: skip
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
