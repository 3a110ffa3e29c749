"""A fresh clone of HEAD for the benchmarks that run the project as a user does (samples.py,
lifecycle.py, examples.py): the clone, the environment its commands run in, and running them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIT = {
    f"GIT_{who}_{what}": value
    for who in ("AUTHOR", "COMMITTER")
    for what, value in (("NAME", "bench"), ("EMAIL", "bench@trainflow.invalid"))
}


def fresh_clone(dest: Path) -> dict[str, str]:
    """Clone HEAD into `dest` and return the environment its commands run in: no pinned
    numerics inherited (each stage pins its own), a committer for git, telemetry off, a
    BentoML home of its own, the clone's src first on the import path, this interpreter's
    tools first on PATH."""
    from trainflow.numerics import unpinned_environ

    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)
    return {**unpinned_environ(), **GIT, "CI": "true", "DVC_NO_ANALYTICS": "1",
            "BENTOML_HOME": str(dest / ".bentoml"),
            # the clone's own code: this interpreter's editable install is the working tree's,
            # which may have moved on (a bundle built from it differs from the clone's)
            "PYTHONPATH": str(dest / "src"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip


def run(cmd: list[str], repo: Path, env: dict[str, str],
        check: bool = True) -> subprocess.CompletedProcess:  # fmt: skip
    """A command in the clone, its output captured; a failure stops the benchmark with it."""
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done
