"""The suite's own rule: under TRAINFLOW_NO_SKIPS (CI) a test that would skip fails, naming what
was missing, and every run says how many would have skipped."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SKIPPING = """
import pytest

def test_needs_a_browser():
    pytest.skip("no Chromium")

@pytest.mark.skipif(True, reason="no Java")
def test_needs_java():
    pass

def test_runs():
    assert 1 + 1 == 2
"""


def run_pytest(tmp_path: Path, no_skips: bool, workers: int = 0) -> subprocess.CompletedProcess:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    env = {k: v for k, v in os.environ.items() if k != "TRAINFLOW_NO_SKIPS"}
    if no_skips:
        env["TRAINFLOW_NO_SKIPS"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q",
                           "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           *(["-n", str(workers)] if workers else []),
                           str(tmp_path / "test_skipping.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True)  # fmt: skip


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
@pytest.mark.parametrize("workers", [0, 2])  # make test runs under pytest-xdist
def test_a_skip_is_a_failure_in_ci(tmp_path, workers):
    done = run_pytest(tmp_path, no_skips=True, workers=workers)
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed, 1 error" in done.stdout
    assert (
        "would have skipped (TRAINFLOW_NO_SKIPS is set: CI runs every test): Skipped: no "
        "Chromium" in done.stdout
    )
    assert "tests that would skip: 2 (TRAINFLOW_NO_SKIPS: each one failed" in done.stdout


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_outside_ci_a_skip_is_counted(tmp_path):
    done = run_pytest(tmp_path, no_skips=False)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 2 skipped" in done.stdout
    assert "tests that would skip: 2 (allowed here" in done.stdout


def test_ci_runs_the_suite_with_skips_as_failures():
    ci = (ROOT / ".ci/run").read_text()
    assert "export TRAINFLOW_NO_SKIPS=1" in ci and ci.index("TRAINFLOW_NO_SKIPS") < ci.index(
        "make test"
    )
