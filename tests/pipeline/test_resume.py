"""A killed train stage resumes: the weights and every curve file of a run never interrupted."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_project, project_env, run

pytestmark = pytest.mark.slow


def curve_files(repo: Path, family: str) -> dict[str, str]:
    """Every curve file a family's training writes, and its dvclive summary, by path."""
    folder = repo / "metrics/train" / family
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def kill_while_training(repo: Path, env: dict, log_path: Path) -> None:
    """`dvc repro train@mlp`, killed (SIGKILL, the whole process group) once the run has
    written its first checkpoint and at least one more epoch is under way."""
    import os
    import signal
    import time

    last = repo / "models/resume/mlp/last.ckpt"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["dvc", "repro", "train@mlp"], cwd=repo, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # into a later epoch: the checkpoint is not the run's last one
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert last.exists(), log_path.read_text()[-2000:]


def test_killed_train_stage_resumes_with_the_uninterrupted_weights_and_curves(
    tmp_path, adult_wheel
):
    """kill -9 of `dvc repro` while train@mlp runs, in memory and then with `train.data:
    stream`; `dvc repro` again resumes from the last checkpoint and ends with the weights and
    every curve file (each epoch's row, before the kill too) of a run never interrupted."""

    import torch

    env = project_env(tmp_path)
    repo = make_project(tmp_path / "repo", adult_wheel, env)
    params = repo / "params.yaml"
    text = params.read_text().replace("max_epochs: 4", "max_epochs: 12", 1)  # the mlp's
    params.write_text(text.replace("patience: 6 ", "patience: 100 ", 1))
    run(["dvc", "repro", "split"], repo, env)
    model = repo / "models/families/mlp/model.pt"
    for data in ("memory", "stream"):
        params.write_text(params.read_text().replace("  data: memory ", f"  data: {data} "))
        kill_while_training(repo, env, tmp_path / f"killed-{data}.log")
        assert not model.exists()  # the killed run wrote no output
        killed_curves = curve_files(repo, "mlp")
        resumed = run(["dvc", "repro", "train@mlp"], repo, env)
        assert "resuming from models/resume/mlp/last.ckpt" in resumed.stdout + resumed.stderr
        summary = json.loads((repo / "models/families/mlp/family.json").read_text())["summary"]
        assert summary["resumed_after_epoch"] is not None and summary["epochs_run"] == 12
        assert summary["data"] == data
        assert not (repo / "models/resume/mlp").exists()  # finished: nothing left to resume
        weights, curves = torch.load(model, weights_only=True), curve_files(repo, "mlp")
        shutil.copy(model, tmp_path / f"resumed-{data}.pt")
        again = run(["dvc", "repro", "--force", "train@mlp"], repo, env)  # uninterrupted
        assert "resuming" not in again.stdout + again.stderr
        fresh = torch.load(model, weights_only=True)
        for name, tensor in weights.items():
            assert torch.equal(tensor, fresh[name]), (data, name)
        whole = curve_files(repo, "mlp")
        assert len(whole["plots/metrics/val/loss.tsv"].splitlines()) == 1 + 12
        assert curves == whole, data  # every curve, every epoch, the summary too
        assert killed_curves != whole  # the kill really cut the run short
