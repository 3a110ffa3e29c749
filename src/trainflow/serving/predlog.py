"""What the server writes for the model's later life: every answer it gives (the prediction
log) and every true label a client sends back (the feedback log), as JSON lines.

One file per worker process (`predictions-<pid>.jsonl`, `feedback-<pid>.jsonl`), rotated by
size with the standard library's RotatingFileHandler, so workers never interleave writes and
a full disk is bounded by `max_bytes x (backups + 1)` per worker. A line holds the request id,
the time, the model version, the record as the client sent it (parsed by the request schema)
and the answer; never a request header, so an API key or cookie cannot reach the log (the
client id that routes a canary is kept only as a hash). `trainflow feedback` joins the two
logs on the id (lifecycle/feedback.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import uuid
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_DIR_ENV = "TRAINFLOW_LOG_DIR"
DEFAULT_LOG_DIR = "prediction-logs"
PREDICTIONS = "predictions"
FEEDBACK = "feedback"


def log_dir() -> Path:
    """Where this server writes its logs: $TRAINFLOW_LOG_DIR, else ./prediction-logs."""
    return Path(os.environ.get(LOG_DIR_ENV) or DEFAULT_LOG_DIR)


def new_ids(n: int) -> list[str]:
    """One id per answer: random (uuid4), so ids from many workers and servers never collide."""
    return [uuid.uuid4().hex for _ in range(n)]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def client_hash(client: str | None) -> str | None:
    """The client id as the log keeps it: enough to group a client's requests, not the id."""
    return None if client is None else hashlib.sha256(client.encode()).hexdigest()[:16]


class JsonLinesLog:
    """Appends JSON objects, one per line, to `<folder>/<kind>-<pid>.jsonl`, rotated by size.
    A call's lines are written as one log record, so a rotation never splits a request."""

    def __init__(self, folder: Path, kind: str, max_bytes: int, backups: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{kind}-{os.getpid()}.jsonl"
        self.handler = RotatingFileHandler(
            self.path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        self.handler.setFormatter(logging.Formatter("%(message)s"))

    def write(self, entries: list[dict]) -> None:
        if not entries:
            return
        text = "\n".join(json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in entries)
        self.handler.handle(logging.LogRecord("trainflow.log", logging.INFO, "", 0, text, None,
                                              None))  # fmt: skip

    def close(self) -> None:
        self.handler.close()


def log_files(folder: Path, kind: str) -> list[Path]:
    """Every file of one kind under `folder`, rotated ones included, oldest name first."""
    return sorted(p for p in folder.glob(f"{kind}-*.jsonl*") if p.is_file())
