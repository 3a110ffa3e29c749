"""Served answers joined with the true outcomes clients sent back: the labelled data that
retraining learns from, the fixed holdout it is judged on, and the live metrics per version.

The prediction log and the feedback log (serving/predlog.py) are joined on the answer id; a
later feedback for the same id replaces an earlier one. A row is a holdout row when a hash of
its id falls under `holdout_share`: the same row is on the same side in every run, so the
holdout only grows, and no retrained model has seen a row it is judged on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.errors import StageError
from trainflow.params import DataParams
from trainflow.serving.predlog import FEEDBACK, PREDICTIONS, log_files
from trainflow.serving.rollout import in_share

FEEDBACK_FILE = "feedback.jsonl"  # under ingest.feedback (train rows) and HOLDOUT_DIR
HOLDOUT_DIR = Path("data/holdout")


def _read_lines(files: list[Path]) -> list[dict]:
    """JSON objects of log files; a torn last line (a server killed mid-write) is skipped."""
    entries = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and "id" in entry:
                entries.append(entry)
    return entries


def joined(logs: Path, data: DataParams) -> pd.DataFrame:
    """One row per answer that got feedback: id, time, version, record, answer, truth,
    latency_ms, and (shadow) the challenger's version and answer."""
    if not logs.is_dir():
        raise StageError(f"{logs}: no prediction logs here (lifecycle.logs; the server writes "
                         "them under $TRAINFLOW_LOG_DIR)")  # fmt: skip
    predictions = _read_lines(log_files(logs, PREDICTIONS))
    outcome = "label" if data.is_classification else "value"
    truths: dict[str, object] = {}
    for entry in sorted(_read_lines(log_files(logs, FEEDBACK)), key=lambda e: e.get("time", "")):
        if outcome in entry:
            truths[entry["id"]] = entry[outcome]
    rows = []
    for p in predictions:
        if p["id"] in truths:
            shadow = p.get("shadow") or {}
            rows.append({"id": p["id"], "time": p["time"], "version": p["version"],
                         "record": p["record"], "answer": p["answer"], "truth": truths[p["id"]],
                         "latency_ms": p.get("latency_ms"), "client": p.get("client"),
                         "shadow_version": shadow.get("version"),
                         "shadow_answer": shadow.get("answer")})  # fmt: skip
    columns = ["id", "time", "version", "record", "answer", "truth", "latency_ms", "client",
               "shadow_version", "shadow_answer"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns).drop_duplicates("id", keep="last")


def served(logs: Path) -> pd.DataFrame:
    """Every logged answer (with or without feedback): id, time, version, record,
    latency_ms, and (shadow) the challenger's version and latency."""
    entries = _read_lines(log_files(logs, PREDICTIONS)) if logs.is_dir() else []
    columns = ["id", "time", "version", "record", "latency_ms", "shadow_version",
               "shadow_latency_ms"]  # fmt: skip
    rows = []
    for e in entries:
        shadow = e.get("shadow") or {}
        rows.append({**{k: e.get(k) for k in columns[:5]}, "shadow_version": shadow.get("version"),
                     "shadow_latency_ms": shadow.get("latency_ms")})  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def in_holdout(ids: pd.Series, share: float) -> np.ndarray:
    """Fixed per id: the same hash that routes a canary's clients."""
    return np.asarray([in_share(str(i), share) for i in ids], dtype=bool)


def labelled_rows(frame: pd.DataFrame, target: str) -> list[dict]:
    """The joined rows as source records: what the client sent, plus the true outcome."""
    return [{**record, target: truth}
            for record, truth in zip(frame["record"], frame["truth"], strict=True)]  # fmt: skip


def write_jsonl(rows: list[dict], path: Path) -> None:
    from trainflow.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                       encoding="utf-8")  # fmt: skip


def correct(answers: pd.Series, truths: pd.Series, data: DataParams) -> np.ndarray:
    """Per row: 1.0 where the answer's label is the truth (classification), else the squared
    error (regression)."""
    if data.is_classification:
        return np.asarray([float(a["label"] == t) for a, t in zip(answers, truths, strict=True)])
    return np.asarray([(float(a["value"]) - float(t)) ** 2
                       for a, t in zip(answers, truths, strict=True)])  # fmt: skip


def live_metric(frame: pd.DataFrame, data: DataParams) -> dict[str, dict]:
    """Per served version: rows with feedback and accuracy (classification) or rmse."""
    out = {}
    for version, part in frame.groupby("version", sort=True):
        values = correct(part["answer"], part["truth"], data)
        metric = float(values.mean()) if data.is_classification else float(np.sqrt(values.mean()))
        out[str(version)] = {"rows": len(part), metric_name(data): round(metric, 6)}
    return out


def metric_name(data: DataParams) -> str:
    return "accuracy" if data.is_classification else "rmse"
