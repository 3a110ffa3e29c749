"""`trainflow sweep`: trials as DVC experiments, resumed after a kill."""

import csv
import io
import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import run

pytestmark = pytest.mark.slow


def test_sweep_runs_trials_as_experiments_and_resumes_after_a_kill(pipeline_repo, tmp_path):
    """`trainflow sweep` (2 trials up to select), kill -9 in the second trial's train stage, run
    it again: the cut trial's values run as a new trial and every finished trial is an
    experiment in `dvc exp show` with its family, values and objective; `--apply` writes each
    family's best values into params.yaml; a spent time budget starts no trial."""
    import os
    import signal
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
