"""The pull-request report on two real commits of a DVC project: gate, metric and param
tables against the base, and only the plots whose data changed, rendered."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trainflow.cireport import build_report, changed_plots
from trainflow.errors import StageError

DVC_YAML = """params:
  - params.yaml
metrics:
  - metrics/eval.json
  - metrics/gate.json
plots:
  - reports/eval/roc.json:
      x: fpr
      y: tpr
  - reports/eval/loss.json:
      x: step
      y: loss
"""


def write(repo: Path, rel: str, content) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))


def revision(repo: Path, lr: float, accuracy: float, roc_tpr: float, gate: bool) -> None:
    write(repo, "params.yaml", f"train:\n  lr: {lr}\n  epochs: 3\n")
    write(repo, "metrics/eval.json", {"accuracy": accuracy, "auroc": 0.91})
    write(repo, "metrics/gate.json", {"gate": gate})
    write(repo, "reports/eval/gate.json", [
        {"criterion": "accuracy >= 0.8", "value": accuracy, "limit": 0.8,
         "met": accuracy >= 0.8}])  # fmt: skip
    write(repo, "reports/eval/roc.json", [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.2, "tpr": roc_tpr},
                                          {"fpr": 1.0, "tpr": 1.0}])  # fmt: skip
    write(repo, "reports/eval/loss.json", [{"step": 0, "loss": 0.7}, {"step": 1, "loss": 0.5}])


def git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t.invalid", "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


@pytest.fixture
def two_commits(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], cwd=repo,
                   check=True)  # fmt: skip
    write(repo, "dvc.yaml", DVC_YAML)
    revision(repo, lr=0.01, accuracy=0.85, roc_tpr=0.6, gate=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    revision(repo, lr=0.03, accuracy=0.79, roc_tpr=0.7, gate=False)
    git(repo, "commit", "-qam", "change")
    return repo


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_report_of_a_change_against_its_base(two_commits, tmp_path):
    report, passed = build_report("HEAD~1", two_commits, Path("ci"))
    assert passed is False
    assert "**Quality gate: FAILED** (0 of 1 met)" in report
    assert "| ❌ | accuracy >= 0.8 | 0.79 |" in report
    metrics = report.split("### Metrics")[1].split("### Params")[0]
    assert "accuracy" in metrics and "0.85" in metrics and "0.79" in metrics
    assert "auroc" not in metrics  # unchanged values are left out
    params = report.split("### Params")[1].split("### Plots")[0]
    assert "train.lr" in params and "0.01" in params and "0.03" in params
    assert "epochs" not in params
    plots = report.split("### Plots that changed")[1]
    assert "roc.json" in plots and "loss.json" not in plots  # only the plot whose data moved
    pngs = list((two_commits / "ci/plots").glob("*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"(`plots/{pngs[0].name}`)" in plots and "![" not in plots  # no image host


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_report_with_nothing_changed_says_so(two_commits):
    report, passed = build_report("HEAD", two_commits, Path("ci"))
    assert passed is False  # this revision's own gate, whatever the base's
    assert "No metric changed." in report and "No param changed." in report
    assert "No plot changed." in report


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_a_base_that_does_not_exist_is_named(two_commits):
    with pytest.raises(StageError, match="dvc metrics diff no-such-branch"):
        build_report("no-such-branch", two_commits, Path("ci"))


def test_changed_plots_keeps_new_and_moved_plots_only():
    def render(rows):
        return [{"content": {"data": {"values": rows}}}]

    same = [{"x": 1, "rev": "HEAD"}, {"x": 1, "rev": "workspace"}]
    moved = [{"x": 1, "rev": "HEAD"}, {"x": 2, "rev": "workspace"}]
    new = [{"x": 1, "rev": "workspace"}]
    diff = {"data": {"same": render(same), "moved": render(moved), "new": render(new)}}
    assert sorted(changed_plots(diff)) == ["moved", "new"]


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_a_failed_pipeline_run_gives_a_report_that_says_so(two_commits, monkeypatch):
    """`--run-pipeline`: dvc repro fails in a stage; the report is still written, opens with
    the failure and the log's last lines, and the command exits 1 afterwards."""
    from trainflow.cireport import main

    dvc_yaml = two_commits / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text() + 'stages:\n  broken:\n    cmd: python -c "import '
        "sys; print('stage output before the error'); sys.exit(3)\"\n"
    )
    monkeypatch.chdir(two_commits)
    with pytest.raises(StageError, match=r"dvc repro failed \(exit \d+\)"):
        main("HEAD~1", Path("ci"), fail_on_gate=False, run_first=True)
    report = (two_commits / "ci/report.md").read_text()
    assert "**Pipeline: `dvc repro` FAILED** (exit" in report
    assert "stage output before the error" in report
    assert "### Metrics" in report  # what the run left is still compared
    assert "$ dvc repro" in (two_commits / "ci/repro.log").read_text()


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_a_plot_whose_base_data_is_missing_is_not_called_new(tmp_path):
    """The base's plot is a DVC-cached output that no cache here holds and no remote serves:
    the report lists it as not compared (it was reported as new before)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*dvc, "config", "core.analytics", "false"], cwd=repo, check=True)
    write(
        repo,
        "dvc.yaml",
        "stages:\n  curve:\n    cmd: python make.py\n    deps: [make.py, "
        "n]\n    plots: [curve.json]\n",
    )
    write(
        repo,
        "make.py",
        "import json\nn = float(open('n').read())\njson.dump([{'x': 0, "
        "'y': n}, {'x': 1, 'y': 2 * n}], open('curve.json', 'w'))\n",
    )
    write(repo, "n", "1")
    subprocess.run([*dvc, "repro", "-q"], cwd=repo, check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    shutil.rmtree(repo / ".dvc/cache")  # a fresh CI checkout: the base's outputs are nowhere
    write(repo, "n", "2")
    subprocess.run([*dvc, "repro", "-q"], cwd=repo, check=True)
    report, _ = build_report("HEAD", repo, Path("ci"))
    plots = report.split("### Plots that changed")[1]
    assert "No plot changed." in plots and "Not compared" in plots
    assert "- curve.json: " in plots and not list((repo / "ci").glob("plots/*.png"))
