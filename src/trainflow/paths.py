"""Every path the pipeline reads or writes, relative to the project root.

dvc.yaml names the same paths; keep the two in step.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")

RAW_DIR = Path("data/raw")
RAW_TABLE = RAW_DIR / "raw.parquet"
PREPARED_DIR = Path("data/prepared")
PREPARED_TABLE = PREPARED_DIR / "clean.parquet"
SPLIT_DIR = Path("data/split")
SPLITS = ("train", "val", "test")
MANIFEST_TABLE = SPLIT_DIR / "manifest.parquet"  # every record's hash, by split
MANIFEST_JSON = SPLIT_DIR / "manifest.json"  # per split: rows and a sha256 of its sorted hashes

FAMILIES_DIR = Path("models/families")
"""One folder per trained family (train@<family>): family.json, preprocessor, model files."""
CHAMPION_DIR = Path("models/champion")
"""The select stage's choice: a copy of the best family's folder, or an ensemble of several."""
SELECTION_NAME = "selection.json"  # in the champion folder: the val leaderboard it won
RESUME_DIR = Path("models/resume")
"""Checkpoints of training runs in progress (not a pipeline output, not in git): a killed
train stage resumes from models/resume/<family>; a finished one empties it."""


def family_dir(name: str) -> Path:
    return FAMILIES_DIR / name


def resume_dir(name: str) -> Path:
    return RESUME_DIR / name


BUNDLE_DIR = Path("models/bundle")
BUNDLE_ARCHIVE_NAME = "bundle.bento"
MODEL_CARD_NAME = "model_card.md"
LINEAGE_NAME = "lineage.json"  # in the bento's model: git commit and latency of the build

METRICS_DIR = Path("metrics")
INGEST_METRICS = METRICS_DIR / "ingest.json"
DATA_QUALITY = METRICS_DIR / "data_quality.json"  # {"contract": passed}: a dvc exp show column
PREPARE_METRICS = METRICS_DIR / "prepare.json"
SPLIT_METRICS = METRICS_DIR / "split.json"
TRAIN_LIVE_DIR = METRICS_DIR / "train"  # dvclive curves, one folder per family
SELECT_METRICS = METRICS_DIR / "select.json"
EVAL_METRICS = METRICS_DIR / "eval.json"
GATE_METRICS = METRICS_DIR / "gate.json"
LEADERBOARD = METRICS_DIR / "leaderboard.json"
SPEED_DIR = METRICS_DIR / "speed"
"""Timings of this machine and this run (fit seconds, inference speed): the one kind of output
that no rerun reproduces; `trainflow verify` exempts this folder."""
EVAL_SPEED = SPEED_DIR / "evaluate.json"
BUNDLE_METRICS = METRICS_DIR / "bundle.json"  # tags + content hash of the bundle (verify)

REPORTS_DIR = Path("reports")
VALIDATION_REPORT_DIR = REPORTS_DIR / "validation"
PREPARED_VALIDATION_DIR = REPORTS_DIR / "validation_prepared"
RESULTS_NAME = "results.json"  # in each gate's report folder: counts and every expectation
EVAL_PLOTS_DIR = REPORTS_DIR / "eval"
GATE_REPORT = EVAL_PLOTS_DIR / "gate.json"
SLICES_REPORT = EVAL_PLOTS_DIR / "report_slices.json"
EVAL_REPORT = EVAL_PLOTS_DIR / "report_metrics.json"  # every test metric, champion and baseline
# the champion's answer for every test row, as evaluate computed it (what served answers equal)
EVAL_PREDICTIONS = EVAL_PLOTS_DIR / "predictions.parquet"
LEADERBOARD_TABLE = REPORTS_DIR / "leaderboard.md"  # with timings: exempt from verify too


def live_dir(family: str) -> Path:
    return TRAIN_LIVE_DIR / family


def fit_speed(family: str) -> Path:
    return SPEED_DIR / f"train_{family}.json"


def split_table(name: str) -> Path:
    """Path of one split's table (train / val / test)."""
    return SPLIT_DIR / f"{name}.parquet"


def bundle_archive() -> Path:
    return BUNDLE_DIR / BUNDLE_ARCHIVE_NAME
