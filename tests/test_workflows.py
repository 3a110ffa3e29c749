"""The GitHub workflow calls only what exists: make targets, trainflow commands, scripts."""

import re

import yaml

from tests.conftest import ROOT
from trainflow.cli import main

WORKFLOW = ROOT / ".github/workflows/ci.yml"


def runs() -> list[str]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return [step["run"] for job in jobs.values() for step in job["steps"] if "run" in step]


def test_jobs_test_report_and_deploy_on_the_right_events():
    spec = yaml.safe_load(WORKFLOW.read_text())
    on = spec.get("on", spec.get(True))  # YAML 1.1 reads `on` as True
    assert set(on) == {"push", "pull_request"}
    jobs = spec["jobs"]
    assert ".ci/run" in jobs["test"]["steps"][-1]["run"]
    assert jobs["report"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["deploy"]["needs"] == "test" and "refs/heads/main" in jobs["deploy"]["if"]
    assert jobs["deploy"]["permissions"] == {"contents": "write"}


def test_every_make_target_it_runs_exists():
    makefile = (ROOT / "Makefile").read_text()
    text = "\n".join(runs())
    for target in re.findall(r"\bmake (\w[\w-]*)", text):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    # the jobs call make targets only: their recipes hold the commands (checked below)
    assert not re.findall(r"\bdvc |bin/trainflow |\bgto ", text), text
    assert (ROOT / ".ci/run").exists()


def recipe(target: str) -> list[str]:
    """The command lines of a Makefile target."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line.strip())
    return body


def test_each_job_calls_one_make_target_whose_commands_the_suite_runs(capsys):
    """report -> make ci-report (trainflow report --run-pipeline: tests/test_cireport.py),
    deploy -> make deploy (trainflow registry promote, which pushes before it tags:
    tests/lifecycle/test_registry.py)."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    steps = {name: [s.get("run", "") for s in job["steps"]] for name, job in jobs.items()}
    assert any(r.startswith("make ci-report BASE=") for r in steps["report"])
    assert any(r.startswith("make deploy ") for r in steps["deploy"])
    assert recipe("ci-report") == [
        "$(BIN)/trainflow report --base $(BASE) --run-pipeline --fail-on-gate"
    ]
    deploy = recipe("deploy")
    promote = deploy.index('$(BIN)/trainflow registry promote --stage prod -m "$(MESSAGE)"')
    assert deploy.index("$(BIN)/dvc repro") < promote < deploy.index(
        "git push $(TAGS_REMOTE) --tags")  # fmt: skip
    for line in (*recipe("ci-report"), *deploy):
        if line.startswith("$(BIN)/trainflow "):
            args = [a for a in line.split()[1:] if not a.startswith(("$(", '"'))]
            command = args[:2] if args[0] == "registry" else args[:1]
            try:
                main([*command, "--help"])
            except SystemExit as e:
                assert e.code == 0, line


def test_the_report_is_posted_even_when_the_run_failed_and_uploads_no_image():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    post = next(s for s in jobs["report"]["steps"] if "cml" in s.get("run", ""))
    assert post["if"].startswith("always()")
    assert "--publish" not in WORKFLOW.read_text()  # CML's --publish uploads to a third party
    upload = next(s for s in jobs["report"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/ci"


def test_a_push_to_main_never_cancels_a_running_deploy():
    spec = yaml.safe_load(WORKFLOW.read_text())
    cancel = spec["concurrency"]["cancel-in-progress"]
    assert cancel == "${{ github.event_name == 'pull_request' }}"  # main's runs queue instead
