"""The test suite's own budget, as CI meets it: `make test` in a fresh clone of HEAD, then
`make test-fast` in another (under TRAINFLOW_NO_SKIPS, as .ci/run runs it: a skip fails),
each timed whole (set-up included) with pytest's own count and its slowest tests.

    .venv/bin/python benchmarks/test_suite.py            # ~35 min on 2 cores

Writes benchmarks/results/test_suite.json (budget: make test <= 30 min, make test-fast <= 3).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected)")
SLOW = re.compile(r"^(\d+\.\d+)s (call|setup|teardown) +(\S+)$", re.M)


def run_target(repo: Path, target: str, env: dict[str, str], log: Path) -> dict:
    start = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(["make", target], cwd=repo, env=env, stdout=out,
                              stderr=subprocess.STDOUT)  # fmt: skip
    seconds = round(time.perf_counter() - start, 1)
    summary = next((line for line in reversed(log.read_text().splitlines())
                    if " in " in line and COUNT.search(line)), "")  # fmt: skip
    counts = {kind.rstrip("s") if kind.startswith("error") else kind: int(n)
              for n, kind in COUNT.findall(summary)}  # fmt: skip
    print(f"make {target}: exit {done.returncode}, {seconds} s: {summary}", flush=True)
    slowest = [{"seconds": float(t), "when": when, "test": test}
               for t, when, test in SLOW.findall(log.read_text())[:15]]  # fmt: skip
    return {
        "slowest": slowest,
        "exit": done.returncode,
        "seconds": seconds,
        "summary": summary.strip("= "),
        **{k: counts.get(k, 0) for k in ("passed", "failed", "skipped", "error")},
    }


def main() -> None:
    from trainflow.figures.record import script_command, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, help="where to clone (default: a temp dir)")
    parser.add_argument("--logs", type=Path, help="keep each target's pytest log here")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="trainflow-tests-", dir=args.scratch))
    from trainflow.numerics import unpinned_environ

    env = {k: v for k, v in unpinned_environ().items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    env["TRAINFLOW_NO_SKIPS"] = "1"
    results = {}
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    for target in ("test", "test-fast"):  # each in a clone of its own: set-up included
        repo = scratch / target  # both of the commit HEAD was at the start
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
        subprocess.run(["git", "checkout", "--quiet", head], cwd=repo, check=True)
        results[target] = run_target(repo, target, env, scratch / f"{target}.log")
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(scratch / f"{target}.log", args.logs / f"{target}.log")
    whole, fast = results["test"], results["test-fast"]
    write_result("test_suite", {"make_test_fast": fast, "make_test": whole,
                                "budget_s": {"make_test": 1800, "make_test_fast": 180}},
                 script_command(sys.argv, ROOT), ROOT, measured=scratch / "test")  # fmt: skip
    if fast["exit"] or whole["exit"]:  # the clone and both logs stay, to read
        sys.exit(f"a target failed: {fast['summary']} / {whole['summary']}; logs in {scratch}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
