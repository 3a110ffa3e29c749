"""Atomic writes and the one logging set-up: a failed run never leaves a half-written output."""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from trainflow.errors import StageError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


QUIET_LOGGERS = ("great_expectations", "bentoml", "fsspec", "urllib3", "filelock")


def setup_logging(level: int = logging.INFO) -> None:
    """One format for every stage; libraries that log at INFO by default only warn."""
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt="%H:%M:%S")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


M_TRIM_THRESHOLD = -1  # glibc mallopt parameter


def keep_freed_memory() -> None:
    """Ask glibc's allocator to keep freed memory for reuse instead of returning it at once.

    A stage on 1e7 rows frees and reallocates hundreds of MB per step; handed back to the OS,
    every new array page-faults afresh (row takes 5x slower on a 2-core VM). No-op elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
    except (OSError, AttributeError):  # not glibc (musl, ...): keep its defaults
        pass


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o644)  # mkstemp makes 0600; outputs are ordinary files
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; swap it in for `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes 0700; outputs are ordinary folders
    try:
        yield tmp
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_path(new: Path, target: Path) -> None:
    """Move `new` (a file or a folder) onto `target` (a file, a folder, or nothing): the old
    one is renamed aside first and removed after, so `target` is never half written."""
    old = target.with_name(f".{target.name}.old")
    if old.is_dir():
        shutil.rmtree(old)
    old.unlink(missing_ok=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    if old.is_dir():
        shutil.rmtree(old)
    old.unlink(missing_ok=True)


def to_jsonable(obj: Any) -> Any:
    """Turn numpy / pandas scalars into plain Python so json.dumps accepts them."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if obj is pd.NaT:
        return None
    if hasattr(obj, "isoformat"):  # dates and times (a time column in a report)
        return obj.isoformat()
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    return obj


def write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(data), indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise StageError(f"{path}: not found (run the stages before this one)") from None
    except json.JSONDecodeError as err:
        raise StageError(f"{path}: not valid JSON (line {err.lineno})") from None


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """One Parquet writer for every table: no index, no column statistics (nothing reads them
    back, and at 1e7 rows they cost ~0.6 s per file)."""
    frame.to_parquet(path, index=False, write_statistics=False)


def write_tables(tables: dict[Path, pd.DataFrame]) -> None:
    """Write several tables at once (pyarrow's writer releases the GIL: one thread per file).

    For files inside a folder that atomic_dir swaps in, so not atomic per file.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda item: write_table(item[1], item[0]), tables.items()))


def read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise StageError(f"{path}: not found (run the stages before this one)") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of_tree(path: Path) -> str:
    """A file's sha256, or for a folder (a Parquet dataset of parts) a sha256 over its files'
    relative names and sha256s, in name order."""
    if not path.is_dir():
        return sha256_of(path)
    digest = hashlib.sha256()
    for part in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{part.relative_to(path).as_posix()}\0{sha256_of(part)}\n".encode())
    return digest.hexdigest()


def run_fingerprint(parts: list[bytes]) -> str:
    """What identifies a training run for resuming: a hash over its inputs' bytes."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()
