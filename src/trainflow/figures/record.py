"""A measurement's record, benchmarks/results/<name>.json: the figures with the date, the
commit, the command and the machine (CPU model and instruction sets, GPU if any) that made
them. Every benchmark and `trainflow verify --record` write one; pages quote them through
generated regions (trainflow.figures)."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from trainflow import numerics
from trainflow.figures import RESULTS_DIR


def commit(root: Path) -> str:
    """HEAD's commit, with `+dirty` when tracked files differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return f"{head}+dirty" if dirty and head else head or "not a git checkout"


def gpu() -> str | None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return None


def machine() -> dict[str, Any]:
    return {**numerics.cpu(), "gpu": gpu(), "numerics": numerics.mode()}


def write_result(name: str, figures: dict[str, Any], command: list[str],
                 root: Path = Path("."), measured: Path | str | None = None) -> Path:  # fmt: skip
    """Write benchmarks/results/<name>.json under `root` and return its path. `measured`: the
    checkout that was measured (a fresh clone), or its commit, when not `root` itself: that
    commit is recorded, not whatever `root` has moved on to while the benchmark ran."""
    record = {
        "name": name,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": measured if isinstance(measured, str) else commit(measured or root),
        "command": shlex.join(command),
        "machine": machine(),
        "figures": figures,
    }
    folder = root / RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def script_command(argv: list[str], root: Path) -> list[str]:
    """A benchmark's command line as a user types it from the repository's root."""
    script = Path(argv[0]).resolve()
    shown = script.relative_to(root.resolve()) if script.is_relative_to(root.resolve()) else script
    return [".venv/bin/python", str(shown), *argv[1:]]
