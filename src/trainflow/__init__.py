"""trainflow: raw tabular data to a served model, reproducibly (DVC + Lightning + BentoML)."""

__version__ = "0.1.0"

# the pipeline's stages in order: dvc.yaml's stages, modules under trainflow.stages
STAGES = (
    "ingest", "validate", "prepare", "validate_prepared", "split", "train", "evaluate", "package",
)  # fmt: skip
