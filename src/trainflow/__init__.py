"""trainflow: raw tabular data to a served model, reproducibly (DVC + Lightning + BentoML)."""

import os

__version__ = "0.1.0"

# the pipeline's stages in order: dvc.yaml's stages, modules under trainflow.stages (train is
# one stage per model family in dvc.yaml: train@linear, train@mlp, ...)
STAGES = (
    "ingest", "validate", "prepare", "validate_prepared", "split", "train", "select", "evaluate",
    "package",
)  # fmt: skip

# Bit-for-bit reruns (`trainflow verify`): torch's CPU matrix products are Intel MKL's, whose
# results may depend on memory alignment and on a thread count MKL and OpenMP may lower under
# load, unless its conditional numerical reproducibility mode is on and both keep the count
# fixed (Intel's "Reproducibility Conditions"). Set before torch or LightGBM load their
# libraries; measured cost on a training step: under 1 %. A value already set is kept.
REPRODUCIBLE_ENV = {"MKL_CBWR": "AUTO", "MKL_DYNAMIC": "FALSE", "OMP_DYNAMIC": "FALSE"}
for _name, _value in REPRODUCIBLE_ENV.items():
    os.environ.setdefault(_name, _value)
