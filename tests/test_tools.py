"""External tools fail one way: a StageError naming what was tried, with the tool's last lines."""

import sys

import pytest

from trainflow.errors import StageError
from trainflow.tools import dvc, run_tool, tool


def test_the_output_of_a_tool_that_succeeds():
    assert run_tool([sys.executable, "-c", "print('ok')"], "printing") == "ok\n"


def test_a_failure_names_what_was_tried_and_the_tools_last_lines():
    script = "import sys; print('out'); sys.stderr.write('one\\ntwo\\nthree\\nfour\\n'); exit(3)"
    with pytest.raises(StageError) as err:
        run_tool([sys.executable, "-c", script], "counting")
    assert str(err.value) == "counting failed: two three four"  # stderr before stdout


def test_a_silent_failure_gives_its_exit_code_and_long_output_is_cut():
    with pytest.raises(StageError, match=r"^quiet failed: exit code 5$"):
        run_tool([sys.executable, "-c", "exit(5)"], "quiet")
    with pytest.raises(StageError) as err:
        run_tool([sys.executable, "-c", "print('x' * 5000); exit(1)"], "loud", limit=50)
    assert str(err.value) == "loud failed: " + "x" * 50


def test_dvc_names_its_command(tmp_path):
    with pytest.raises(StageError, match=r"^dvc status --no-such-flag failed: "):
        dvc(["status", "--no-such-flag"], tmp_path)
    assert run_tool([tool("dvc"), "--version"], "dvc --version").strip()  # this env's own
