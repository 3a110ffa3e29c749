"""Where every benchmark's figures go: benchmarks/results/<name>.json, with the date, the commit,
the machine (CPU model and instruction sets, GPU if any) and the command that made them. The
README's measured table and the docs quote these files (`trainflow figures`), never by hand."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def commit() -> str:
    """HEAD's commit, with `+dirty` when tracked files differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return f"{head}+dirty" if dirty else head


def gpu() -> str | None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return None


def write_result(name: str, figures: dict[str, Any], argv: list[str] | None = None) -> Path:
    """Write benchmarks/results/<name>.json and return its path."""
    from trainflow import numerics

    argv = sys.argv if argv is None else argv
    script = Path(argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    record = {
        "name": name,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit(),
        "command": shlex.join([f".venv/bin/python {shown}", *argv[1:]]),
        "machine": {**numerics.cpu(), "gpu": gpu(), "numerics": numerics.mode()},
        "figures": figures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path
