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

TRAIN_DIR = Path("models/train")
MODEL_WEIGHTS = TRAIN_DIR / "model.pt"
MODEL_CONFIG = TRAIN_DIR / "model_config.json"
PREPROCESSOR = TRAIN_DIR / "preprocessor.json"
BASELINE_WEIGHTS = TRAIN_DIR / "baseline.pt"
BASELINE_CONFIG = TRAIN_DIR / "baseline_config.json"
DATA_SCHEMA = TRAIN_DIR / "data_schema.json"
SERVED_MODEL_FILES = tuple(
    p.name for p in (MODEL_WEIGHTS, MODEL_CONFIG, PREPROCESSOR, DATA_SCHEMA)
)
"""What a served model needs, by file name: the predictor loads them, the bundle ships them."""
RESUME_DIR = Path("models/resume")
"""Checkpoints of the training run in progress (not a pipeline output, not in git): a killed
train stage resumes from here; a finished one empties it."""

BUNDLE_DIR = Path("models/bundle")
BUNDLE_ARCHIVE_NAME = "bundle.bento"
MODEL_CARD_NAME = "model_card.md"
LINEAGE_NAME = "lineage.json"  # in the bento's model: git commit and latency of the build

METRICS_DIR = Path("metrics")
INGEST_METRICS = METRICS_DIR / "ingest.json"
DATA_QUALITY = METRICS_DIR / "data_quality.json"
PREPARED_QUALITY = METRICS_DIR / "prepared_quality.json"
PREPARE_METRICS = METRICS_DIR / "prepare.json"
SPLIT_METRICS = METRICS_DIR / "split.json"
TRAIN_LIVE_DIR = METRICS_DIR / "train"
EVAL_METRICS = METRICS_DIR / "eval.json"
GATE_METRICS = METRICS_DIR / "gate.json"
SPEED_METRICS = METRICS_DIR / "speed.json"  # timings: this machine, this run (not reproducible)
BUNDLE_METRICS = METRICS_DIR / "bundle.json"  # tags + content hash of the bundle (verify)

REPORTS_DIR = Path("reports")
VALIDATION_REPORT_DIR = REPORTS_DIR / "validation"
PREPARED_VALIDATION_DIR = REPORTS_DIR / "validation_prepared"
EVAL_PLOTS_DIR = REPORTS_DIR / "eval"
GATE_REPORT = EVAL_PLOTS_DIR / "gate.json"
SLICES_REPORT = EVAL_PLOTS_DIR / "report_slices.json"


def split_table(name: str) -> Path:
    """Path of one split's table (train / val / test)."""
    return SPLIT_DIR / f"{name}.parquet"


def bundle_archive() -> Path:
    return BUNDLE_DIR / BUNDLE_ARCHIVE_NAME
