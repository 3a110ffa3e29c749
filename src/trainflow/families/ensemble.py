"""The weighted ensemble: Caruana et al.'s ensemble selection ("Ensemble Selection from
Libraries of Models", ICML 2004), as AutoGluon builds its WeightedEnsemble: greedily add (with
replacement) the candidate that most improves the validation metric of the average of the
scores chosen so far. Weights are multiples of 1/rounds; a candidate that never helps gets 0.

The ensemble is a model like any other: its scores are the weighted mean of its members'
scores (probabilities, or values), its folder holds each member's folder under members/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.families.base import Fitted
from trainflow.model.preprocess import Preprocessor
from trainflow.tasks import outputs_from_scores

NAME = "ensemble"
MEMBERS_DIR = "members"


def select_weights(
    scores: dict[str, np.ndarray], score_of: Callable[[np.ndarray], float], rounds: int,
    lower_is_better: bool,
) -> dict[str, float]:  # fmt: skip
    """Caruana's greedy selection with replacement over `rounds` steps: {name: weight} for the
    names chosen at least once, weights summing to 1. Ties go to the earlier name."""
    names = list(scores)
    counts = dict.fromkeys(names, 0)
    total: np.ndarray | None = None
    sign = 1.0 if lower_is_better else -1.0
    for step in range(rounds):
        best_name, best_value, best_sum = None, np.inf, None
        for name in names:
            trial = scores[name] if total is None else total + scores[name]
            value = sign * score_of(trial / (step + 1))
            if value < best_value:
                best_name, best_value, best_sum = name, value, trial
        counts[best_name] += 1
        total = best_sum
    return {name: count / rounds for name, count in counts.items() if count}


@dataclass
class EnsembleFitted(Fitted):
    members: dict[str, Fitted] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)  # each member's saved folder

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        return sum(w * self.members[name].scores(frame) for name, w in self.weights.items())

    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        pre = self.preprocessor
        return outputs_from_scores(self.task, self.scores(frame), pre.target_mean,
                                   pre.target_std)  # fmt: skip

    def save_files(self, folder: Path) -> None:
        """Each member's folder, copied as its train stage wrote it."""
        for name, source in self.sources.items():
            shutil.copytree(source, folder / MEMBERS_DIR / name)

    def export(self, folder: Path, frame: pd.DataFrame) -> dict:
        """Each member's exports under <folder>/<member>/, each checked against its member."""
        report = {}
        for name, member in self.members.items():
            (folder / name).mkdir(parents=True, exist_ok=True)
            report[name] = member.export(folder / name, frame)
        return report

    def size_bytes(self, folder: Path) -> int:
        return sum(m.size_bytes(folder / MEMBERS_DIR / n) for n, m in self.members.items())

    def attributions(self, frame: pd.DataFrame) -> np.ndarray:
        """The members' attributions weighted as their scores are: each member explains its
        own raw output (logit or standardised value); for a regression that is exact, for a
        classifier it attributes the weighted mean of the members' logits."""
        return sum(w * self.members[name].attributions(frame) for name, w in self.weights.items())


def member_files(weights: dict[str, float]) -> tuple[str, ...]:
    return tuple(f"{MEMBERS_DIR}/{name}/family.json" for name in weights)


def assemble(members: dict[str, tuple[Fitted, Path]], weights: dict[str, float]) -> EnsembleFitted:
    """An ensemble of trained members (with the folders they were loaded from)."""
    first = next(iter(members.values()))[0]
    packages = tuple(dict.fromkeys(p for m, _ in members.values() for p in m.packages))
    modules = ("families/ensemble.py", *dict.fromkeys(x for m, _ in members.values()
                                                    for x in m.modules))  # fmt: skip
    return EnsembleFitted(
        family=NAME, preprocessor=first.preprocessor,
        config={"weights": weights},
        summary={"members": {n: m.summary for n, (m, _) in members.items()}},
        files=member_files(weights), packages=packages, modules=modules,
        members={n: m for n, (m, _) in members.items()}, weights=weights,
        sources={n: folder for n, (_, folder) in members.items()},
    )  # fmt: skip


def load(folder: Path, config: dict, pre: Preprocessor) -> EnsembleFitted:
    from trainflow.families import load_fitted

    weights = config["weights"]
    members = {name: (load_fitted(folder / MEMBERS_DIR / name), folder / MEMBERS_DIR / name)
               for name in weights}  # fmt: skip
    return assemble(members, weights)
