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


def test_every_make_target_and_trainflow_command_it_runs_exists(capsys):
    makefile = (ROOT / "Makefile").read_text()
    text = "\n".join(runs())
    for target in re.findall(r"\bmake (\w[\w-]*)", text):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    commands = re.findall(r"\.venv/bin/trainflow ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", text)
    assert commands, text
    for command in commands:
        try:
            main([*command.split(), "--help"])
        except SystemExit as e:
            assert e.code == 0, command
    assert (ROOT / ".ci/run").exists()
