"""What every model family provides: a fitted model behind one small interface.

A family module (trainflow/families/<name>.py) has two functions, found through the registry
in trainflow.families:
- `fit(train, val, pre, params, ctx) -> Fitted | None` (None: a non-primary process of a
  distributed run, which writes nothing);
- `load(folder, config, pre) -> Fitted`, from the files `Fitted.save_files` wrote and the
  JSON config it recorded (no pickle anywhere).
Nothing outside a family's module knows its library: stages, evaluation and serving see only
`Fitted`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.errors import StageError
from trainflow.model.preprocess import Preprocessor
from trainflow.params import TrainParams
from trainflow.tasks import scores_from_outputs

PARITY_TOLERANCE = 1e-4  # |exported - reference| <= tol * max(1, |reference|), every output
"""Exports run the same float32 maths through other kernels, so the last bits may differ:
onnxruntime's own (sin/cos of large arguments in periodic embeddings, sums over hundreds of
trees; measured on Adult up to 7e-6 for the MLP, 4e-7 for the trees, 1.4e-5 on a 3-class
table) and, on some CPUs, torch.export's graph (the same ATen ops on other memory layouts:
0 on this machine, 3.0e-5 on the penguin-mass MLP on a CI machine)."""


def _max_excess(reference: np.ndarray, other: np.ndarray, tolerance: float) -> tuple[float, bool]:
    diff = np.abs(other.astype(np.float64) - reference.astype(np.float64))
    allowed = tolerance * np.maximum(1.0, np.abs(reference.astype(np.float64)))
    return float(diff.max(initial=0.0)), bool((diff <= allowed).all())


def compare_outputs(reference: np.ndarray, exports: dict[str, np.ndarray]) -> dict:
    """{format}_max_abs_diff for each export, each within PARITY_TOLERANCE; StageError
    naming the format when one is off."""
    report: dict = {"rows": len(reference)}
    for name, out in exports.items():
        if out.shape != reference.shape:
            raise StageError(f"export parity: {name} output shape {out.shape} != "
                             f"{reference.shape}")  # fmt: skip
        worst, ok = _max_excess(reference, out, PARITY_TOLERANCE)
        report[f"{name}_max_abs_diff"] = worst
        report[f"{name}_tolerance"] = PARITY_TOLERANCE
        if not ok:
            raise StageError(f"export parity: {name} differs from the model by up to "
                             f"{worst:.3g} (tolerance {PARITY_TOLERANCE:g}) on "
                             f"{len(reference)} rows")  # fmt: skip
    return report


@dataclass(frozen=True)
class FitContext:
    """What a fit needs besides data and its own params."""

    seed: int
    trainer: TrainParams  # the neural families' Lightning settings
    resume_dir: Path  # checkpoints of a run in progress (a killed run resumes)
    live_dir: Path  # dvclive curves (metrics/train/<family>)
    fingerprint: str = ""  # identifies the run for resuming: params, data, code


@dataclass
class Fitted(ABC):
    """A trained model of one family, with the preprocessor it was trained on."""

    family: str
    preprocessor: Preprocessor
    config: dict  # JSON: what `load` needs besides the saved files
    summary: dict = field(default_factory=dict)  # how training went (reproducible values)

    files: tuple[str, ...] = ()  # what save_files writes, by name
    packages: tuple[str, ...] = ()  # pip distributions serving needs to run it
    modules: tuple[str, ...] = ()  # trainflow modules serving imports for it

    @property
    def task(self) -> str:
        return self.preprocessor.task

    @abstractmethod
    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw outputs for a cleaned feature frame: logits, or the standardised target."""

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """The task's scores (see trainflow.tasks)."""
        pre = self.preprocessor
        return scores_from_outputs(self.task, self.outputs(frame), pre.target_mean,
                                   pre.target_std)  # fmt: skip

    @abstractmethod
    def save_files(self, folder: Path) -> None:
        """Write the model's own files (`files`) into `folder`."""

    @abstractmethod
    def export(self, folder: Path, frame: pd.DataFrame) -> dict:
        """Write portable exports into `folder` and prove they answer as this model does on
        `frame`; the parity report, or StageError naming the format and the difference."""

    @abstractmethod
    def attributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Per-row, per-feature contributions to the raw output ([n, features], or
        [n, features, classes] for multiclass), in preprocessor feature order."""

    def size_bytes(self, folder: Path) -> int:
        return sum((folder / name).stat().st_size for name in self.files)


def top_features(attributions: np.ndarray, names: list[str], k: int) -> list[list[dict]]:
    """Per row, the `k` features with the largest absolute attribution (signed values)."""
    out = []
    for row in attributions:
        order = np.argsort(-np.abs(row), kind="stable")[:k]
        out.append([{"feature": names[j], "attribution": round(float(row[j]), 6)} for j in order])
    return out
