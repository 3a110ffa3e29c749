"""trainflow: raw tabular data to a served model, reproducibly (DVC + Lightning + BentoML)."""

from trainflow import numerics as _numerics

__version__ = "0.1.0"

# the pipeline's stages in order: dvc.yaml's stages, modules under trainflow.stages (train is
# one stage per model family in dvc.yaml: train@linear, train@mlp, ...)
STAGES = (
    "ingest", "validate", "prepare", "validate_prepared", "split", "train", "select", "evaluate",
    "package",
)  # fmt: skip

# The same bytes on any x86-64 CPU: numeric libraries' code paths and thread counts pinned
# before any of them loads (trainflow.numerics)
_numerics.apply()
