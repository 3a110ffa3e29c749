"""The end-to-end tests: real `dvc repro` runs in fresh git repositories."""

import re
from pathlib import Path

TRAIN = ["train@linear", "train@mlp", "train@resnet", "train@gbdt"]
STAGES = [
    "ingest", "validate", "prepare", "validate_prepared", "split", *TRAIN, "select", "evaluate",
    "package",
]  # fmt: skip


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([\w@]+)'", output)


def constant_predictor(repo: Path) -> dict[str, float]:
    """What a model that ignores every feature scores on this sample: the test split's
    majority-class rate (its accuracy) and the val split's log loss when always answering
    the train split's class frequencies. The bounds below ask for a real margin over both."""
    import numpy as np
    import pandas as pd

    split = repo / "data/split"
    train, val, test = (pd.read_parquet(split / f"{s}.parquet")["income"]
                        for s in ("train", "val", "test"))  # fmt: skip
    prior = train.value_counts(normalize=True)
    val_loss = -float(np.mean(np.log(val.map(prior).to_numpy(dtype=float))))
    return {"majority_accuracy": float(test.value_counts(normalize=True).max()),
            "prior_log_loss": val_loss}  # fmt: skip
