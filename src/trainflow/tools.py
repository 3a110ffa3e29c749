"""External tools (dvc, gto, git, pip, podman, mmdebstrap) run as subprocesses: one way to run
them and one way to fail, a StageError naming what was tried with the tool's own last lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from trainflow.errors import StageError


def tool(name: str) -> str:
    """A command of this environment (dvc, gto), beside the running Python."""
    return str(Path(sys.executable).with_name(name))


def run_tool(
    cmd: list[str], what: str, cwd: Path | None = None, lines: int = 3, limit: int = 400
) -> str:
    """Run `cmd` and return its standard output; on a non-zero exit, a StageError
    "<what> failed: <its last `lines` lines of stderr, else stdout>" (at most `limit`
    characters), never a traceback of ours."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        detail = " ".join(said[-lines:])[-limit:] if said else f"exit code {done.returncode}"
        raise StageError(f"{what} failed: {detail}")
    return done.stdout


def dvc(args: list[str], cwd: Path | None = None) -> str:
    """`dvc <args>` of this environment; fails naming the command."""
    return run_tool([sys.executable, "-m", "dvc", *args], f"dvc {' '.join(args)}", cwd=cwd)
